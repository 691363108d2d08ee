// SPDX-License-Identifier: Apache-2.0

package check

import (
	"cmp"
	"errors"
	"slices"

	"github.com/diagkit/diagkit/generator"
	"github.com/diagkit/diagkit/generator/gosource"
)

// ID names a kind of finding; IDs are stable, so CI configurations and documentation may rely on them.
type ID string

// The findings check reports, in the order the README documents them.
const (
	MarkersInGodoc                ID = "markers-in-godoc"
	RoleMissingReviewRules        ID = "role-missing-review-rules"
	RoleStale                     ID = "role-stale"
	RoleClobbered                 ID = "role-clobbered"
	RBACPathsMissMarkers          ID = "rbac-paths-miss-markers"
	ManifestNoDiagnosticsArgs     ID = "manifest-no-diagnostics-args"
	ManifestNoPort                ID = "manifest-no-port"
	ManifestInsecure              ID = "manifest-insecure"
	MetricsPlainHTTPAllInterfaces ID = "metrics-plain-http-all-interfaces"
	MetricsStockFilter            ID = "metrics-stock-filter"
	MetricsNotAnalysed            ID = "metrics-not-analysed"
	ProxyPortCollision            ID = "proxy-port-collision"
	TLSOptionsDiscarded           ID = "tls-options-discarded"
	BundleOutOfStep               ID = "bundle-out-of-step"
	HelmOutOfStep                 ID = "helm-out-of-step"
)

// IDs lists every ID, in documentation order.
var IDs = []ID{
	MarkersInGodoc, RoleMissingReviewRules, RoleClobbered, RoleStale, RBACPathsMissMarkers, ManifestNoDiagnosticsArgs,
	ManifestNoPort, ManifestInsecure, MetricsPlainHTTPAllInterfaces, MetricsStockFilter, MetricsNotAnalysed, ProxyPortCollision, TLSOptionsDiscarded,
	BundleOutOfStep, HelmOutOfStep,
}

// Finding is one defect. The JSON field names are part of diagkit check's output format.
type Finding struct {
	ID      ID     `json:"id"`
	File    string `json:"file"` // slash-separated, relative to the repository
	Line    int    `json:"line"` // 1-based
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

// Options are what check cannot find by itself; the zero value detects everything.
type Options struct {
	// Mains are the managers to check (default: every manager of the module's commands).
	Mains []generator.Main
}

// Run checks the repository at root and returns its findings sorted by file, then line: for each of its
// managers, the same finding once. An error means the repository could not be read (no go.mod, no
// manager, unparsable files), not that it is insecure.
func Run(root string, opts Options) ([]Finding, error) {
	targets, err := generator.DetectEach(root, opts.Mains, generator.DetectOptions{Partial: true})
	if err != nil {
		return nil, err
	}
	var findings []Finding
	for _, t := range targets {
		if len(targets) > 1 && errors.Is(t.ManagerErr, gosource.ErrMetricsOff) {
			continue // a command serving no metrics beside others that do
		}
		fs, err := runOne(t)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			if !slices.Contains(findings, f) {
				findings = append(findings, f)
			}
		}
	}
	slices.SortStableFunc(findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.ID, b.ID))
	})
	return findings, nil
}

// runOne checks one manager of the repository.
func runOne(t *generator.Target) ([]Finding, error) {
	r, err := load(t)
	if err != nil {
		return nil, err
	}
	// role-stale runs last: it leaves out drift that an earlier finding already explains.
	for _, check := range []func(*repo) error{
		checkIgnoredMarkers, checkRBACPaths, checkReviewRules, checkTLSOptions,
		checkManagerArgs, checkMetricsAddress, checkStockFilter, checkNotAnalysed, checkProxies, checkBundles, checkHelmCharts, checkRoleClobbered, checkRoleStale,
	} {
		if err := check(r); err != nil {
			return nil, err
		}
	}
	return r.findings, nil
}

// repo is what the checks share: the generator's snapshot and what check adds to it.
type repo struct {
	t       *generator.Target
	markers []generator.MarkerPackage
	// diagnostics says that the manager's package registers the diagnostics flags, so it serves (or
	// should serve) the secure endpoint.
	diagnostics bool
	manifests   manifests

	findings []Finding
}

func load(t *generator.Target) (*repo, error) {
	r := &repo{t: t}
	var err error
	if r.markers, err = t.RBACMarkerPackages(); err != nil {
		return nil, err
	}
	r.diagnostics = len(gosource.FindDiagnosticsFlags(t.MainPackage)) > 0 || (t.Manager != nil && t.Manager.Retrofitted)
	if r.manifests, err = findManifests(t); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *repo) report(f Finding) { r.findings = append(r.findings, f) }

// reported says whether a finding with one of ids exists.
func (r *repo) reported(ids ...ID) bool {
	return slices.ContainsFunc(r.findings, func(f Finding) bool { return slices.Contains(ids, f.ID) })
}

// mainFile is the file holding the ctrl.NewManager call.
func (r *repo) mainFile() string {
	if r.t.Manager != nil {
		return r.t.Manager.File.Path
	}
	return r.t.MainPackage.Dir
}

// regenerate names the command that rewrites role.yaml: the make target running controller-gen rbac.
func (r *repo) regenerate() string {
	if r.t.RBAC != nil && r.t.RBAC.Target != "" {
		return "`make " + r.t.EntryTarget(r.t.RBAC) + "`"
	}
	return "controller-gen rbac"
}
