// SPDX-License-Identifier: Apache-2.0

package helmchart

import (
	"bytes"
	"errors"
	"maps"
	"path"
	"strings"
	"testing"

	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/internal/fixture"
)

// fuzzCharts are the charts whose workload and Service templates FuzzPatch replaces.
var fuzzCharts = []struct{ root, dir, workload, service string }{
	{repo, "charts/manager", "templates/deployment.yaml", "templates/service.yaml"},
	{"../testdata/targets/eks-anywhere-packages", "charts/eks-anywhere-packages", "templates/deployment.yaml", "templates/service.yaml"},
	{repo, "charts/statefulset", "templates/statefulset.yaml", "templates/clusterrole.yaml"},
}

// FuzzPatch holds Patch to what a retrofit needs of any template: an error is a chart that does not
// render, a refusal naming a template and line, or the patched chart failing its own check; never a
// panic. Planned changes are their edits applied to the template, render, leave the sources they were
// made from as they were, and a second Patch of the patched chart plans nothing.
func FuzzPatch(f *testing.F) {
	charts := make([]*Chart, len(fuzzCharts))
	for i, fc := range fuzzCharts {
		c, err := Load(fc.root, fc.dir)
		if err != nil {
			f.Fatal(err)
		}
		charts[i] = c
	}
	files, err := fixture.Files(func(p string) bool { return strings.Contains(p, "/templates/") })
	if err != nil {
		f.Fatal(err)
	}
	// which picks the chart (low two bits) and the flag (the next two).
	for i, c := range charts {
		fc := fuzzCharts[i]
		for j := range MetricsFlags {
			f.Add(uint8(i|j<<2), c.templateData(fc.workload), c.templateData(fc.service))
		}
		for _, file := range files {
			if path.Base(file.Path) == path.Base(fc.workload) {
				f.Add(uint8(i), file.Data, c.templateData(fc.service))
			}
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, workload, service []byte) {
		fc, flag := fuzzCharts[int(which&3)%len(fuzzCharts)], MetricsFlags[int(which>>2&3)%len(MetricsFlags)]
		c := charts[int(which&3)%len(fuzzCharts)].withSource(map[string][]byte{
			path.Join(fc.dir, fc.workload): workload,
			path.Join(fc.dir, fc.service):  service,
		})
		before := c.sources()
		changes, _, err := c.Patch(flag)
		if !maps.EqualFunc(before, c.sources(), bytes.Equal) {
			t.Fatal("Patch changed the chart's templates")
		}
		if err != nil {
			checkPatchError(t, c, err)
			return
		}
		patched := map[string][]byte{}
		for _, ch := range changes {
			if !strings.HasPrefix(ch.Path, c.Dir+"/templates/") {
				t.Fatalf("Patch changes %s, outside the chart's templates", ch.Path)
			}
			src := before[ch.Path]
			if src == nil {
				t.Fatalf("Patch changes %s, not a template of the chart", ch.Path)
			}
			if out, err := edit.Apply(src, ch.Edits); err != nil || !bytes.Equal(out, ch.After) {
				t.Fatalf("%s: the edits (%v) do not give the template Patch returned", ch.Path, err)
			}
			patched[ch.Path] = ch.After
		}
		if len(changes) == 0 {
			return
		}
		again, _, err := c.withSource(patched).Patch(flag)
		if err != nil || len(again) != 0 {
			t.Fatalf("second Patch: %d changes, %v", len(again), err)
		}
	})
}

// checkPatchError: the chart does not render, an edit is refused at a template's line, or the patched
// chart failed its check (naming the chart).
func checkPatchError(t *testing.T, c *Chart, err error) {
	t.Helper()
	var pe *edit.PositionError
	switch {
	case errors.Is(err, ErrNotRendered):
	case errors.As(err, &pe):
		if !strings.HasPrefix(pe.File, c.Dir+"/templates/") || pe.Line <= 0 {
			t.Fatalf("error %q names no template line", err)
		}
	case !strings.HasPrefix(err.Error(), "chart "+c.Dir+": the patched templates do not render as intended"):
		t.Fatalf("unexpected error %q (%T)", err, err)
	}
}

func (c *Chart) templateData(name string) []byte {
	for _, t := range c.chart.Templates {
		if t.Name == name {
			return t.Data
		}
	}
	return nil
}

// sources returns the chart's templates by repository path, as Patch's changes name them.
func (c *Chart) sources() map[string][]byte {
	m := map[string][]byte{}
	for _, t := range c.chart.Templates {
		m[path.Join(c.Dir, t.Name)] = bytes.Clone(t.Data)
	}
	return m
}
