// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"cmp"

	"github.com/diagkit/diagkit/generator/gosource"
)

// planGo patches the manager's package (flags, metrics options, webhook TLS, review markers) and
// requires the diagnostics module.
func planGo(pl *planner) error {
	t := pl.t
	goChanges, err := gosource.Patch(t.Manager, pl.backend, pl.markers)
	if err != nil {
		return err
	}
	for _, c := range goChanges {
		pl.change(c.Path, c.After, c.Edited, c.Reasons...)
	}
	if t.Manager.Retrofitted {
		return nil
	}
	if pl.backend == gosource.Diagkit {
		version := cmp.Or(pl.opts.DiagnosticsVersion, DiagnosticsVersion)
		after, err := t.Module.Require(gosource.DiagnosticsImport, version)
		if err != nil {
			return err
		}
		pl.change("go.mod", after, nil, "require "+gosource.DiagnosticsImport+" "+version)
	}
	pl.plan.Next = append(pl.plan.Next, "go mod tidy (the metrics filter brings k8s.io/apiserver into go.sum)")
	if _, err := t.readFile("vendor/modules.txt"); err == nil {
		// A vendoring module builds from vendor/, which must then hold the new requirements (Kueue's does).
		pl.plan.Next = append(pl.plan.Next, "go mod vendor (the module vendors its dependencies)")
	}
	return nil
}
