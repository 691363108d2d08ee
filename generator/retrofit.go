// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"fmt"
	"sort"

	"golang.org/x/mod/semver"

	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/gosource"
	"github.com/diagkit/diagkit/generator/rbacrole"
)

// DiagnosticsVersion is the version of the diagnostics module a retrofit requires by default.
const DiagnosticsVersion = "v0.1.0"

// Options are the choices a retrofit can be given; the zero value chooses everything by detection.
type Options struct {
	// Backend is gosource.Diagkit or gosource.CAPI; empty chooses Cluster API's util/flags when the
	// repository already requires Cluster API ≥ v1.8 and registers its flags on pflag.
	Backend gosource.Backend
	// DiagnosticsVersion is the version of the diagnostics module to require (DiagnosticsVersion if empty).
	DiagnosticsVersion string
}

// Retrofit plans the changes that serve t's metrics through diagnostics: it decides once what the
// repository needs (decide), lets each unit plan the files of its kind, then verifies the result in
// memory (verify). It reads nothing beyond what Detect snapshotted, except the Go files of the packages
// the RBAC generation scans.
func Retrofit(t *Target, opts Options) (*Plan, error) {
	if t.ManagerErr != nil {
		return nil, t.ManagerErr
	}
	pl, err := decide(t, opts)
	if err != nil {
		return nil, err
	}
	for _, unit := range units {
		if err := unit(pl); err != nil {
			return nil, err
		}
	}
	p := pl.result()
	if err := verify(t, p); err != nil {
		return nil, err
	}
	return p, nil
}

// units plan one file kind each, in this order: Go sources and go.mod, the Makefile's RBAC invocation,
// role.yaml, the kustomize manifests (manager.yaml and kube-rbac-proxy patches), Helm charts.
var units = []func(*planner) error{planGo, planMakefile, planRole, planManifests, planCharts}

// planner is what the units share: the decisions taken once for the whole repository, and the plan
// they fill.
type planner struct {
	t    *Target
	opts Options
	plan *Plan

	backend gosource.Backend
	// markers is how the review markers reach controller-gen; markerRules what it then collects from
	// the manager's package; elsewhere that another scanned package holds them.
	markers     gosource.MarkerEdit
	markerRules []rbacrole.Rule
	elsewhere   bool
	// reviewsBound: a role bound to the manager's account besides the generated one grants the reviews
	// (a kube-rbac-proxy era proxy-role, as Nutanix keeps), so no markers and no role rules are needed.
	reviewsBound bool
	// oldFlag is the metrics bind flag the diagnostics flags replace; managerName the manager's container.
	oldFlag, managerName string

	changes map[string]*FileChange
}

// decide takes the repository-wide decisions every unit depends on.
func decide(t *Target, opts Options) (*planner, error) {
	pl := &planner{t: t, opts: opts, plan: &Plan{Root: t.Root}, changes: map[string]*FileChange{}, managerName: "manager"}
	var err error
	if pl.backend, err = chooseBackend(t, opts.Backend); err != nil {
		return nil, err
	}
	pl.plan.Backend = string(pl.backend)
	collected, ignored := gosource.PackageMarkers(t.MainPackage)
	rules, err := rbacrole.FromMarkers(collected, t.RoleName)
	if err != nil {
		return nil, err
	}
	if pl.markers, pl.markerRules, pl.elsewhere, err = markerEdit(t, rules, ignored); err != nil {
		return nil, err
	}
	if pl.reviewsBound = t.OverlaysGrantReviews(); pl.reviewsBound {
		pl.markers = gosource.MarkersCollected
	}
	if r := t.Manager.Registration; r != nil {
		pl.oldFlag = r.FlagName
	}
	if t.Container != nil {
		pl.managerName = t.Container.Name
	}
	return pl, nil
}

// change records the new content of a file (nothing when it is unchanged).
func (pl *planner) change(file string, after []byte, edited [][2]int, reasons ...string) {
	before := pl.t.files[file].data
	if string(before) == string(after) {
		return
	}
	c, ok := pl.changes[file]
	if !ok {
		c = &FileChange{Path: file, Before: before}
		pl.changes[file] = c
	}
	c.After = after
	c.Reasons = append(c.Reasons, reasons...)
	c.Edited = append(c.Edited, edited...)
}

func (pl *planner) warn(format string, args ...any) {
	pl.plan.Warnings = append(pl.plan.Warnings, fmt.Sprintf(format, args...))
}

// result is the plan, its changes sorted by path.
func (pl *planner) result() *Plan {
	for _, c := range pl.changes {
		pl.plan.Changes = append(pl.plan.Changes, *c)
	}
	sort.Slice(pl.plan.Changes, func(i, j int) bool { return pl.plan.Changes[i].Path < pl.plan.Changes[j].Path })
	return pl.plan
}

func chooseBackend(t *Target, asked gosource.Backend) (gosource.Backend, error) {
	capiOK := t.ClusterAPI != "" && t.ClusterAPIReplace == "" && semver.Compare(t.ClusterAPI, minClusterAPI) >= 0
	pflag := t.Manager.Registration != nil && t.Manager.Registration.Library == gosource.Pflag
	switch asked {
	case "":
		if capiOK && pflag {
			return gosource.CAPI, nil
		}
		return gosource.Diagkit, nil
	case gosource.Diagkit:
		return asked, nil
	case gosource.CAPI:
		if !capiOK {
			return "", edit.Refusedf("--backend capi needs %s ≥ %s required in go.mod, found %q", clusterAPIModule, minClusterAPI, t.ClusterAPI+t.ClusterAPIReplace)
		}
		return asked, nil
	}
	return "", fmt.Errorf("unknown backend %q (want diagkit or capi)", asked)
}

func ranges(edits ...edit.Edit) [][2]int {
	var r [][2]int
	for _, e := range edits {
		r = append(r, [2]int{e.Start, e.End})
	}
	return r
}
