// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/gosource"
	"github.com/diagkit/diagkit/generator/helmchart"
	"github.com/diagkit/diagkit/generator/manifest"
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

// Retrofit plans the changes that serve t's metrics through diagnostics. It reads nothing beyond what
// Detect snapshotted, except the Go files of the packages the RBAC generation scans.
func Retrofit(t *Target, opts Options) (*Plan, error) {
	if t.ManagerErr != nil {
		return nil, t.ManagerErr
	}
	p := &Plan{Root: t.Root, target: t}
	changes := map[string]*FileChange{}
	change := func(file string, after []byte, edited [][2]int, reasons ...string) {
		before := t.files[file].data
		if string(before) == string(after) {
			return
		}
		c, ok := changes[file]
		if !ok {
			c = &FileChange{Path: file, Before: before}
			changes[file] = c
		}
		c.After = after
		c.Reasons = append(c.Reasons, reasons...)
		c.Edited = append(c.Edited, edited...)
	}

	backend, err := chooseBackend(t, opts.Backend)
	if err != nil {
		return nil, err
	}
	p.Backend = string(backend)

	collected, ignored := gosource.PackageMarkers(t.MainPackage)
	markerRules, err := rbacrole.FromMarkers(collected, t.RoleName)
	if err != nil {
		return nil, err
	}
	markers, markerRules, elsewhere, err := markerEdit(t, markerRules, ignored)
	if err != nil {
		return nil, err
	}
	// Review rules the overlays already bind to the manager's account (a kube-rbac-proxy era proxy-role,
	// as Nutanix keeps) need no markers and no role rules of diagkit's.
	reviewsBound := t.OverlaysGrantReviews()
	if reviewsBound {
		markers = gosource.MarkersCollected
	}
	addMarkers := markers != gosource.MarkersCollected
	goChanges, err := gosource.Patch(t.Manager, backend, markers)
	if err != nil {
		return nil, err
	}
	for _, c := range goChanges {
		change(c.Path, c.After, c.Edited, c.Reasons...)
	}
	if !t.Manager.Retrofitted {
		if backend == gosource.Diagkit {
			version := opts.DiagnosticsVersion
			if version == "" {
				version = DiagnosticsVersion
			}
			after, err := t.Module.Require(gosource.DiagnosticsImport, version)
			if err != nil {
				return nil, err
			}
			change("go.mod", after, nil, "require "+gosource.DiagnosticsImport+" "+version)
		}
		p.Next = append(p.Next, "go mod tidy (the metrics filter brings k8s.io/apiserver into go.sum)")
	}

	// RBAC generation must scan the markers' package.
	mainDir := t.MainPackage.Dir
	switch {
	case reviewsBound:
	case t.RBAC == nil:
		p.Warnings = append(p.Warnings, "no controller-gen RBAC invocation found in the Makefile; make sure "+mainDir+" is among its paths")
	case !t.RBAC.Scans(mainDir) && !elsewhere:
		e, err := t.RBAC.AddPathEdit(mainDir)
		if err != nil {
			return nil, err
		}
		after, err := edit.Apply(t.files[t.RBAC.Path].data, []edit.Edit{e})
		if err != nil {
			return nil, err
		}
		change(t.RBAC.Path, after, ranges(e), fmt.Sprintf("scan %s for RBAC markers (line %d)", mainDir, t.RBAC.Line))
	}

	if err := planRole(t, p, change, markerRules, addMarkers, !reviewsBound); err != nil {
		return nil, err
	}

	oldFlag := ""
	if r := t.Manager.Registration; r != nil {
		oldFlag = r.FlagName
	}
	managerName := "manager"
	if t.Container != nil {
		managerName = t.Container.Name
	}
	switch {
	case t.OverlaysServeDiagnostics():
		// Every overlay already deploys the manager serving diagnostics: manager.yaml is a base they complete.
	case t.Container != nil:
		edits, why, err := t.Container.Patch(oldFlag)
		if err != nil {
			return nil, err
		}
		if slices.Contains(t.ProxyPatches, t.ManagerManifest) {
			// A sidecar in manager.yaml itself: removed in the same pass, the manager patched above.
			proxyEdits, proxyWhy, err := manifest.RemoveProxy(t.ManagerManifest, t.files[t.ManagerManifest].data, managerName, oldFlag, false)
			if err != nil {
				return nil, err
			}
			edits, why = append(edits, proxyEdits...), append(why, proxyWhy...)
		}
		after, err := edit.Apply(t.files[t.ManagerManifest].data, edits)
		if err != nil {
			return nil, err
		}
		change(t.ManagerManifest, after, ranges(edits...), why...)
	default:
		p.Warnings = append(p.Warnings, DefaultManagerManifest+" not found; pass --diagnostics-address and expose port 8443 where the manager is deployed")
	}

	// kube-rbac-proxy sidecars added by patches and overlays: removed, the manager's args in the same patch
	// secured, the sidecar's port name moved to the manager's 8443 so Services keep working.
	for _, patch := range t.ProxyPatches {
		if patch == t.ManagerManifest {
			continue
		}
		src, err := t.read(patch)
		if err != nil {
			return nil, err
		}
		edits, why, err := manifest.RemoveProxy(patch, src, managerName, oldFlag, true)
		if err != nil {
			return nil, err
		}
		after, err := edit.Apply(src, edits)
		if err != nil {
			return nil, err
		}
		change(patch, after, ranges(edits...), why...)
	}
	// Helm charts deploying the manager (EKS Anywhere packages installs from a hand-written one), also
	// when main.go was retrofitted before and the old flag is known only from the chart.
	chartFlags := []string{"metrics-bind-address", "metrics-addr", "metrics-bind-addr"}
	if oldFlag != "" {
		chartFlags = []string{oldFlag}
	}
	for _, dir := range t.Charts {
		chart, err := helmchart.Load(t.Root, dir)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", dir, err)
		}
		for _, flag := range chartFlags {
			patched, warnings, err := chart.Patch(flag)
			if errors.Is(err, helmchart.ErrNotRendered) {
				// A chart that needs values to render (required, lookup of a live cluster) is not one
				// diagkit can judge: the rest of the repository is still retrofitted.
				p.Warnings = append(p.Warnings, fmt.Sprintf("chart %s does not render with its default values (%v); patch it by hand if it deploys the manager", dir, err))
				break
			}
			if err != nil {
				return nil, err
			}
			p.Warnings = append(p.Warnings, warnings...)
			for _, c := range patched {
				if _, err := t.read(c.Path); err != nil {
					return nil, err
				}
				change(c.Path, c.After, ranges(c.Edits...), c.Reasons...)
			}
			if len(patched) > 0 {
				break
			}
		}
	}

	for _, c := range changes {
		p.Changes = append(p.Changes, *c)
	}
	sort.Slice(p.Changes, func(i, j int) bool { return p.Changes[i].Path < p.Changes[j].Path })
	if err := verify(t, p); err != nil {
		return nil, err
	}
	return p, nil
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

// planRole adds the diagnostics rules to role.yaml as the repository's controller-gen would, and warns
// when the file does not match the markers (stale) instead of regenerating it.
//
// addRules is false when another role bound to the manager's account grants the reviews already.
func planRole(t *Target, p *Plan, change func(string, []byte, [][2]int, ...string), mainRules []rbacrole.Rule, addMarkers, addRules bool) error {
	if t.Role == nil {
		if addRules {
			p.Warnings = append(p.Warnings, t.RolePath+" not found; grant tokenreviews and subjectaccessreviews create to the manager")
		}
		return nil
	}
	after := t.Role.Src
	if addRules {
		var edited []edit.Edit
		var err error
		if after, edited, err = t.Role.Add(rbacrole.DiagnosticsRules, rbacrole.FamilyOf(t.ControllerGenVersion)); err != nil {
			return err
		}
		change(t.RolePath, after, ranges(edited...), "grant tokenreviews and subjectaccessreviews create, placed as controller-gen "+orDefault(t.ControllerGenVersion, "(version unknown)")+" writes them")
	}

	if t.RBAC == nil {
		return nil
	}
	// What controller-gen would grant: the markers of every scanned package, and the main package's
	// (scanned from now on) with the diagnostics rules.
	want := append([]rbacrole.Rule(nil), mainRules...)
	if addMarkers {
		want = append(want, rbacrole.DiagnosticsRules...)
	}
	others, err := scannedMarkerRules(t)
	if err != nil {
		return err
	}
	want = append(want, others...)
	patched, err := rbacrole.ParseRole(t.RolePath, after, t.RoleName)
	if err != nil {
		return err
	}
	missing, extra := rbacrole.Difference(want, patched.Rules)
	if len(missing)+len(extra) > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("%s is stale: regenerating it with %s:%d would %s; diagkit added only its own rules, review and regenerate by hand",
			t.RolePath, t.RBAC.Path, t.RBAC.Line, rbacrole.DescribeDifference(missing, extra)))
	}
	return nil
}

// scannedMarkerRules collects the RBAC rules of every package the RBAC invocation scans, except the
// manager's own.
func scannedMarkerRules(t *Target) ([]rbacrole.Rule, error) {
	pkgs, err := t.RBACMarkerPackages()
	if err != nil {
		return nil, err
	}
	var rules []rbacrole.Rule
	for _, pkg := range pkgs {
		if pkg.Dir == t.MainPackage.Dir || !pkg.Scanned {
			continue
		}
		r, err := rbacrole.FromMarkers(pkg.Collected, t.RoleName)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r...)
	}
	return rules, nil
}

func ranges(edits ...edit.Edit) [][2]int {
	var r [][2]int
	for _, e := range edits {
		r = append(r, [2]int{e.Start, e.End})
	}
	return r
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// markerEdit decides how the review markers reach controller-gen, and returns the rules it will then
// collect from the manager's package (or, with elsewhere, from another package it scans):
//   - already collected in the manager's package, or in another scanned package (CAPV keeps them in
//     main.go and creates its manager in pkg/manager): nothing to do;
//   - present in the manager function's doc comment, where controller-gen ignores them: freed, not
//     duplicated;
//   - else added.
func markerEdit(t *Target, collected []rbacrole.Rule, ignored []gosource.Marker) (how gosource.MarkerEdit, rules []rbacrole.Rule, elsewhere bool, err error) {
	if rbacrole.Grants(collected, rbacrole.DiagnosticsRules) {
		return gosource.MarkersCollected, collected, false, nil
	}
	doc, err := rbacrole.FromMarkers(docMarkers(t.Manager, ignored), t.RoleName)
	if err != nil {
		return 0, nil, false, err
	}
	if withDoc := append(slices.Clone(collected), doc...); rbacrole.Grants(withDoc, rbacrole.DiagnosticsRules) {
		return gosource.FreeDocMarkers, withDoc, false, nil
	}
	if t.RBAC != nil {
		pkgs, err := t.RBACMarkerPackages()
		if err != nil {
			return 0, nil, false, err
		}
		var scanned []rbacrole.Rule
		for _, pkg := range pkgs {
			if pkg.Scanned && pkg.Dir != t.MainPackage.Dir {
				rules, err := rbacrole.FromMarkers(pkg.Collected, t.RoleName)
				if err != nil {
					return 0, nil, false, err
				}
				scanned = append(scanned, rules...)
			}
		}
		if rbacrole.Grants(scanned, rbacrole.DiagnosticsRules) {
			return gosource.MarkersCollected, append(slices.Clone(collected), scanned...), true, nil
		}
	}
	return gosource.AddMarkers, collected, false, nil
}

// docMarkers are the ignored RBAC markers in the doc comment of the manager's function.
func docMarkers(m *gosource.Manager, ignored []gosource.Marker) []gosource.Marker {
	var doc []gosource.Marker
	decl := "func " + m.Func.Name.Name
	for _, mk := range ignored {
		if mk.File == m.File.Path && mk.Decl == decl && !mk.Inside && strings.HasPrefix(mk.Text, "+kubebuilder:rbac:") {
			doc = append(doc, mk)
		}
	}
	return doc
}
