// SPDX-License-Identifier: Apache-2.0

// Package generator retrofits diagkit's secure diagnostics onto an existing controller-runtime repository.
//
// It is a pipeline — detect, plan, verify, apply — and only the last step writes:
//
//   - Detect (target.go) reads the repository once into a Target: a snapshot of the files it may patch
//     and the facts it found. One walk indexes the module's Go files
//     (packages.go: which commands link which packages, where managers are created, where RBAC markers
//     are); the Makefile unit (rbacgen.go) chooses the controller-gen invocation that writes the
//     manager's role; the kustomize trees under config/ are rendered in process (package kustomization) to
//     see the manager as a cluster would receive it; deployments.go finds the Deployment running the
//     manager's command (by the binary a go build in the Makefile or a Dockerfile names, package gobuild).
//   - Retrofit (retrofit.go) decides once what the repository needs, then lets one unit per file kind
//     plan its files: plan_go.go (the manager's package and go.mod, through package gosource),
//     plan_rbac.go (the Makefile's paths= and role.yaml), plan_manifests.go (manager.yaml and
//     kube-rbac-proxy patches, through package manifest), plan_charts.go (Helm charts, through package
//     helmchart). Every edit is guarded by a check on the parsed (or rendered) file, so an already
//     retrofitted repository yields an empty Plan and a half-done one gets only what is missing.
//   - verify (verify.go) checks the planned files in memory: YAML and Go parse, every kustomization that
//     rendered still renders, config/default then deploys the manager serving diagnostics. A plan that
//     fails is an error; nothing is written.
//   - RetrofitRepository (repository.go) does the above for each manager of a repository with several
//     commands creating one, each planned on the files as the ones before leave them (Detect's overlay),
//     and merges the plans into one.
//   - Apply writes all planned files or none, after checking that none changed since Detect.
//
// It does not run go mod tidy, controller-gen or kustomize binaries; the Plan's notes say when one is due.
// Package check (diagkit check) reads the same Target to report what is wrong instead of planning edits.
package generator
