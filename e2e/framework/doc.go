// SPDX-License-Identifier: Apache-2.0

// Package framework runs what diagkit's end-to-end tests and demo need: a real kube-apiserver and etcd
// (controller-runtime's envtest with binaries built by `make tools`), ServiceAccounts with TokenRequest
// tokens and RBAC, the sample manager as a separate process, and HTTP callers of its diagnostics endpoint;
// for the Prometheus test also kube-controller-manager's controllers, the Prometheus Operator and Prometheus,
// with the kubelet's part (pods reported running, volumes written locally) played in the test process.
//
// It does not fake any part of the API server, and it never prints a token.
package framework
