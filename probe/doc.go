// SPDX-License-Identifier: Apache-2.0

// Package probe checks a live metrics endpoint the way a security reviewer would by hand, and reports
// what it found (`diagkit probe`).
//
// It creates, in a namespace of its own, two short-lived ServiceAccounts — one with no RBAC, one bound to
// a ClusterRole that may read the probed paths — takes their tokens through the TokenRequest API, and asks
// every path three times:
//
//	anonymous      must be refused: 401 (or 403 from servers that authenticate anonymous callers as
//	               system:anonymous and then deny them, as kube-controller-manager does)
//	unprivileged   must be refused: 403
//	reader         must be served: 200
//
// It inspects the TLS endpoint too: plain HTTP fails, TLS below 1.2 must be refused, an expired or not yet
// valid certificate fails, one expiring within 30 days warns, and the report says whether the certificate
// is self-signed, verifies against the given CA, and names the address used. Everything it created is
// deleted when it ends, also when it is interrupted, and the report lists what it removed.
//
// Targets are a URL, or pod/NAME, service/NAME or deployment/NAME reached through the API server's
// port-forward. The kubelet preset probes a node's kubelet on 10250 (/metrics, /metrics/cadvisor,
// /stats/summary, authorized by nodes/metrics and nodes/stats) and checks that its read-only port 10255
// is closed.
package probe
