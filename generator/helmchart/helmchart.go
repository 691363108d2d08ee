// SPDX-License-Identifier: Apache-2.0

// Package helmchart finds a repository's Helm charts, renders them in process with Helm's own engine
// (as `helm template` does, with the chart's default values), and patches hand-written templates so that
// the manager they deploy serves diagnostics like config/ does. Templates are Go text templates, not
// YAML, so edits are by line, chosen by reading the rendered output, and every patch is rendered again
// and checked before it is planned.
package helmchart

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

// Find lists the directories holding a Chart.yaml under root, relative to it and slash-separated,
// skipping hidden directories, vendored code, test data, and nested Go modules (a directory below root
// with its own go.mod holds another module, whose charts deploy that module's binaries). A chart's own
// directories, subcharts included, are not searched further.
func Find(root string) ([]string, error) {
	if isFile(filepath.Join(root, "Chart.yaml")) {
		return []string{"."}, nil
	}
	var charts []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() || p == root {
			return nil
		}
		if name := d.Name(); strings.HasPrefix(name, ".") || name == "vendor" || name == "testdata" || name == "node_modules" || isFile(filepath.Join(p, "go.mod")) {
			return filepath.SkipDir
		}
		if isFile(filepath.Join(p, "Chart.yaml")) {
			rel, _ := filepath.Rel(root, p)
			charts = append(charts, filepath.ToSlash(rel))
			return filepath.SkipDir
		}
		return nil
	})
	slices.Sort(charts)
	return charts, err
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// Chart is a loaded chart and where it is.
type Chart struct {
	// Dir is the chart's directory, relative to the repository.
	Dir   string
	chart *chart.Chart
}

// Load reads the chart in root/dir.
func Load(root, dir string) (*Chart, error) {
	ch, err := loader.Load(filepath.Join(root, filepath.FromSlash(dir)))
	if err != nil {
		return nil, err
	}
	return &Chart{Dir: dir, chart: ch}, nil
}

// Render is `helm template` with the chart's default values and a release named "release": rendered
// text by template name ("<chart>/templates/x.yaml"). As `helm template` does, it leaves out NOTES.txt,
// which is text for a person, and partials. Readers of resources use Manifests.
func (c *Chart) Render() (map[string]string, error) {
	values, err := chartutil.ToRenderValues(c.chart, c.chart.Values, chartutil.ReleaseOptions{Name: "release", Namespace: "default", IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	out, err := engine.Render(c.chart, values)
	if err != nil {
		if inner := errors.Unwrap(err); inner != nil {
			return nil, inner
		}
		return nil, err
	}
	for name := range out {
		if !isManifestTemplate(name) {
			delete(out, name)
		}
	}
	return out, nil
}

// File is the repository path of a rendered template's source.
func (c *Chart) File(name string) string {
	_, rest, _ := strings.Cut(name, "/")
	return path.Join(c.Dir, rest)
}

// Source is the text of a rendered template's source.
func (c *Chart) Source(name string) []byte {
	_, rest, _ := strings.Cut(name, "/")
	for _, t := range c.chart.Templates {
		if t.Name == rest {
			return t.Data
		}
	}
	return nil
}

// WithSources returns a copy of the chart whose templates have the contents sources holds (by slash path
// relative to the repository): the chart as an earlier plan leaves it.
func (c *Chart) WithSources(sources map[string][]byte) *Chart { return c.withSource(sources) }

// withSource returns a copy of the chart whose templates have the contents sources holds, for rendering a patch.
func (c *Chart) withSource(sources map[string][]byte) *Chart {
	ch := *c.chart
	ch.Templates = make([]*chart.File, len(c.chart.Templates))
	for i, t := range c.chart.Templates {
		f := *t
		if src, ok := sources[path.Join(c.Dir, t.Name)]; ok {
			f.Data = src
		}
		ch.Templates[i] = &f
	}
	return &Chart{Dir: c.Dir, chart: &ch}
}

// names returns the rendered template names, sorted.
func names[T any](rendered map[string]T) []string {
	ns := make([]string, 0, len(rendered))
	for n := range rendered {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}
