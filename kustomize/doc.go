// SPDX-License-Identifier: Apache-2.0

// Package kustomize holds diagkit's kustomize components (components/*, plain YAML that users reference
// from their config/ trees) and builds kustomizations in process with sigs.k8s.io/kustomize/api, as
// `kustomize build` does. The components are embedded so that the generator can copy them into a target.
//
// Components, each documented in its kustomization.yaml:
//   - diagnostics: the manager's args and metrics port, the review ClusterRole and its binding, the
//     metrics-reader and diagnostics-debugger ClusterRoles (unbound), and a Service on 8443.
//   - kubebuilder-v4: the same for a kubebuilder v4.1+ scaffold, reusing its metrics Service, metrics-reader
//     and review role instead of adding them. Both include diagnostics-manager: the manager's args and port
//     (a build that would pass two metrics addresses fails instead) and the debugger role.
//   - remove-kube-rbac-proxy: deletes a kube-rbac-proxy sidecar and its Service and metrics-reader role.
//   - prometheus / prometheus-pod-monitor: a ServiceMonitor or a PodMonitor scraping with a token Secret.
//   - cert-manager: a verifiable serving certificate, mounted and passed as --diagnostics-cert-dir.
//   - node-metrics-proxy: DaemonSets of diagkit-proxy publishing kube-proxy, etcd, kube-controller-manager
//     and kube-scheduler metrics on each node's IP, authenticated; its RBAC, a reader role and a PodMonitor.
//     node-metrics-proxy-control-plane-only keeps the kube-proxy one on control-plane nodes too.
//
// testdata/ holds trees shaped like real projects (a kubebuilder v4.16 scaffold among them), the manager args
// in every YAML style, and the golden output of building them; see testdata/README.md.
package kustomize
