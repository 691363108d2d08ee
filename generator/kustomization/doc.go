// SPDX-License-Identifier: Apache-2.0

// Package kustomization reads a repository's kustomize trees as kustomize itself does: which files the
// kustomizations reference (a patch mentioned only in a comment is not part of any deployment), and
// what each kustomization renders, optionally with planned file contents laid over the disk, so that a
// retrofit can be judged, and verified before it is written, on the objects a cluster would receive.
package kustomization
