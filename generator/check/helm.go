// SPDX-License-Identifier: Apache-2.0

package check

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/diagkit/diagkit/generator/helmchart"
	"github.com/diagkit/diagkit/generator/manifest"
	"github.com/diagkit/diagkit/generator/rbacrole"
)

// metricsFlags mark the manager container in a chart, whose Deployment and container names are its own.
var metricsFlags = []string{manifest.AddressFlag, "--metrics-bind-address", "--metrics-bind-addr", "--metrics-addr"}

// checkHelmCharts renders every Helm chart of the repository with its default values, with Helm's own
// engine as `helm template` does, and reports the manager container or ClusterRoles that lack what
// config/ gives the manager. EKS Anywhere's packages controller is installed from such a hand-written
// chart, so a retrofit of config/ alone leaves every installed cluster as it was.
func checkHelmCharts(r *repo) error {
	charts, err := helmchart.Find(r.t.Root)
	if err != nil {
		return err
	}
	for _, dir := range charts {
		ch, err := helmchart.Load(r.t.Root, dir)
		var rendered map[string]string
		if err == nil {
			rendered, err = ch.Render()
		}
		if err == nil {
			// Another component's chart (CRDs only, a DaemonSet of another module) is not the manager's
			// deployment: nothing to compare.
			var deploys bool
			if deploys, err = ch.DeploysManager(nil); err == nil && !deploys {
				continue
			}
		}
		if err != nil {
			r.report(Finding{ID: HelmOutOfStep, File: path.Join(dir, "Chart.yaml"), Line: 1,
				Message: fmt.Sprintf("chart cannot be rendered with its default values, so check cannot compare it with config/: %v", err),
				Fix:     "give every value the templates require a default in values.yaml"})
			continue
		}
		r.checkChart(ch, rendered)
	}
	return nil
}

func (r *repo) checkChart(ch *helmchart.Chart, rendered map[string]string) {
	names := make([]string, 0, len(rendered))
	for name := range rendered {
		names = append(names, name)
	}
	slices.Sort(names)
	file, source := ch.File, ch.Source
	fix := "run `diagkit retrofit` again (it patches charts), or add them to the chart's templates (or to values.yaml where the templates take them from there), then compare `helm template " + ch.Dir + "` with `kustomize build config/default`"

	config := r.t.Container
	reviewed := r.t.Role != nil && len(uncovered(r.t.Role.Rules, rbacrole.DiagnosticsRules)) == 0
	var roles []*rbacrole.Role
	var roleFile string
	for _, name := range names {
		out := []byte(rendered[name])
		containers, err := manifest.FindAll(file(name), out)
		if err != nil {
			continue
		}
		for _, c := range containers {
			if config == nil || !slices.ContainsFunc(metricsFlags, func(f string) bool { _, _, ok := c.Arg(f, true); return ok }) {
				continue
			}
			if lacks := bundleLacks(r, config, c); len(lacks) > 0 {
				r.report(Finding{
					ID: HelmOutOfStep, File: file(name), Line: lineOf(source(name), "args:"),
					Message: fmt.Sprintf("container %s of the chart's Deployment lacks %s, which %s has: installing with this chart does not serve diagnostics as configured",
						c.Name, strings.Join(lacks, ", "), config.Path),
					Fix: fix,
				})
			}
		}
		found, _ := rbacrole.ParseRoles(file(name), out, func(string) bool { return true })
		if len(found) > 0 && roleFile == "" {
			roleFile = name
		}
		roles = append(roles, found...)
	}
	if !reviewed || len(roles) == 0 {
		return
	}
	var rules []rbacrole.Rule
	for _, role := range roles {
		rules = append(rules, role.Rules...)
	}
	if missing := uncovered(rules, rbacrole.DiagnosticsRules); len(missing) > 0 {
		r.report(Finding{
			ID: HelmOutOfStep, File: file(roleFile), Line: lineOf(source(roleFile), "rules:"),
			Message: fmt.Sprintf("no ClusterRole of the chart grants %s, which %s grants: a manager installed with this chart cannot review its callers",
				permissions(missing), r.t.RolePath),
			Fix: fix,
		})
	}
}

// lineOf is the 1-based line of the first line containing s in a template, or 1.
func lineOf(src []byte, s string) int {
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		if strings.Contains(sc.Text(), s) {
			return n
		}
	}
	return 1
}
