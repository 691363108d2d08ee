// SPDX-License-Identifier: Apache-2.0

// Package metricsproxy publishes the metrics of node-local components that listen only on localhost —
// kube-controller-manager (10257), kube-scheduler (10259), kube-proxy (10249) and etcd (2381) — on the
// node's address, behind the same authentication and authorization as the diagnostics endpoint.
//
// Each upstream gets a listener of its own (the node IP and the component's port, by default). A request
// passes, in this order:
//
//	path allow-list   anything but the upstream's metrics paths, exactly and without escapes, is 404, before
//	                  any review or upstream request
//	method            GET only (405 otherwise)
//	diagnostics       TokenReview (or client certificate), then SubjectAccessReview of verb get on the
//	                  upstream's authz-prefix and the path (/kube-scheduler/metrics): 401, 403 naming that
//	                  path, or 503, from the diagnostics package with its caches and review budget
//	forwarding        a new request for the path as asked (/metrics), carrying only Accept, Accept-Encoding
//	                  and User-Agent, no query, and either no credentials (kube-proxy, etcd) or the proxy's
//	                  own ServiceAccount token (kube-controller-manager, kube-scheduler, which authorize it
//	                  themselves)
//
// The prefix, /NAME unless authz-prefix= says otherwise, makes a grant open one component: get on /metrics,
// which RBAC gives to whoever reads kube-apiserver's metrics, opens none of them, and /kube-scheduler/* opens
// kube-scheduler alone. An empty prefix authorizes the path itself, as before per-component authorization.
//
// The caller's token never leaves the proxy. Toward upstreams, connections are reused, each request is
// bounded in time and the response body in size; an upstream that cannot be reached is 502 at once.
//
// Upstreams are configured with --upstream, one per component, either a preset name or name=…,url=…;
// see ParseUpstream. cmd/diagkit-proxy is the binary and kustomize/components/node-metrics-proxy its
// DaemonSet.
package metricsproxy
