// SPDX-License-Identifier: Apache-2.0

// Package check proves statically, for CI, that a repository serves its manager's metrics securely and
// keeps doing so: that controller-gen sees the RBAC markers the diagnostics endpoint needs, that role.yaml
// grants what they say, that the manifests pass the diagnostics flags and port and nothing that undoes
// them, and that main.go hands the TLS settings on. Each Finding names the file and line at fault and the
// exact change that fixes it.
//
// It reads the repository through the generator's own parsers (generator.Detect and its gosource,
// rbacrole, makefile and manifest packages), so check and retrofit agree on what a repository says. It
// writes nothing, runs neither controller-gen nor kustomize, and does not evaluate kustomize overlays: a
// strategic-merge patch that sets the manager's args is checked on its own, like manager.yaml. Helm charts
// are rendered in process with Helm's own engine and their default values, as `helm template` does.
package check
