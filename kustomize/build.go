// SPDX-License-Identifier: Apache-2.0

package kustomize

import (
	"embed"
	"fmt"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Components is the components/ tree: one directory per component.
//
//go:embed components
var Components embed.FS

// Build builds the kustomization in dir from disk and returns the resources as a YAML stream, exactly as
// `kustomize build dir` prints them.
func Build(dir string) ([]byte, error) {
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy // the CLI's default order: namespaces and RBAC first
	m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", dir, err)
	}
	return out, nil
}
