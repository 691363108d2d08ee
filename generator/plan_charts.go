// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"errors"
	"fmt"

	"github.com/diagkit/diagkit/generator/helmchart"
)

// planCharts patches the Helm charts deploying the manager (EKS Anywhere packages installs from a
// hand-written one), also when main.go was retrofitted before and the old flag is known only from the
// chart. A chart that needs values to render, or whose templates the patcher cannot edit, is reported, not
// patched; the rest is still retrofitted.
func planCharts(pl *planner) error {
	t := pl.t
	flags := helmchart.MetricsFlags
	if pl.oldFlag != "" {
		flags = []string{pl.oldFlag}
	}
	for _, dir := range t.Charts {
		chart, err := helmchart.Load(t.Root, dir)
		if err != nil {
			return fmt.Errorf("chart %s: %w", dir, err)
		}
		chart = chart.WithSources(t.overlay)
		for _, flag := range flags {
			patched, warnings, err := chart.Patch(flag)
			if errors.Is(err, helmchart.ErrNotRendered) {
				pl.warn("chart %s does not render with its default values (%v); patch it by hand if it deploys the manager", dir, err)
				break
			}
			if err != nil {
				// The chart is left as it is and said so; the rest of the repository is still retrofitted.
				pl.warn("chart %s not patched: %v; patch it by hand (diagkit check reports what it still passes)", dir, err)
				break
			}
			pl.plan.Warnings = append(pl.plan.Warnings, warnings...)
			for _, c := range patched {
				if _, err := t.read(c.Path); err != nil {
					return err
				}
				pl.change(c.Path, c.After, ranges(c.Edits...), c.Reasons...)
			}
			if len(patched) > 0 {
				break
			}
		}
	}
	return nil
}
