// SPDX-License-Identifier: Apache-2.0

// Package demo is the newcomer's first run (`make demo`): it starts a real kube-apiserver and etcd, runs
// the sample manager with diagkit's diagnostics package, and shows three ServiceAccounts calling its
// /metrics endpoint: anonymous (401), without RBAC (403), and with the metrics-reader role (200).
package demo
