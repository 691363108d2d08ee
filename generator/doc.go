// SPDX-License-Identifier: Apache-2.0

// Package generator retrofits diagkit's secure diagnostics onto an existing controller-runtime repository.
//
// It works in three steps, and only the last one writes:
//
//   - Detect reads the repository once into a Target: a snapshot of the files it may patch (bytes and a
//     content hash) and the facts it found (main.go, flag and options style, module versions, manifests,
//     the RBAC generation command).
//   - Retrofit plans every edit against that snapshot. Each file kind has its own patcher package
//     (gosource, rbacrole, manifest — which also removes kube-rbac-proxy sidecars —, helmchart, makefile,
//     gomodule); every edit is guarded by a check on the parsed (or, for Helm templates, rendered) file,
//     so planning an already retrofitted repository yields an empty Plan and a half-done one gets only
//     what is missing.
//   - Apply writes all planned files or none, after checking that none changed since Detect.
//
// It does not run go mod tidy, controller-gen or kustomize; the Plan's notes say when one is due.
// Package check (diagkit check) reads the same Target to report what is wrong instead of planning edits.
package generator
