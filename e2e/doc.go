// SPDX-License-Identifier: Apache-2.0

// Package e2e tests diagkit end to end against a real kube-apiserver and etcd, built from Go modules by
// `make tools` and found through KUBEBUILDER_ASSETS. Nothing here fakes the API server: callers are
// ServiceAccounts with tokens from the TokenRequest API, authorized by real RBAC, and the manager under
// test is a separate process (samplemanager) that authenticates as a ServiceAccount of its own.
//
// Run the suite with `make test`, or, with the tools built:
//
//	eval "$(make -s print-test-env)" && go test ./e2e/...
package e2e
