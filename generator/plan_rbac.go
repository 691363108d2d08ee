// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/gosource"
	"github.com/diagkit/diagkit/generator/rbacrole"
)

// planMakefile makes the RBAC invocation scan the package that holds the review markers.
func planMakefile(pl *planner) error {
	t := pl.t
	mainDir := t.MainPackage.Dir
	switch {
	case pl.reviewsBound:
	case t.RBAC == nil:
		pl.warn("no controller-gen RBAC invocation found in the Makefile; make sure %s is among its paths", mainDir)
	case !t.RBAC.Scans(mainDir) && !pl.elsewhere:
		e, err := t.RBAC.AddPathEdit(mainDir)
		if err != nil {
			return err
		}
		after, err := edit.Apply(t.files[t.RBAC.Path].data, []edit.Edit{e})
		if err != nil {
			return err
		}
		pl.change(t.RBAC.Path, after, ranges(e), fmt.Sprintf("scan %s for RBAC markers (line %d)", mainDir, t.RBAC.Line))
	}
	return nil
}

// planRole adds the diagnostics rules to role.yaml as the repository's controller-gen would (unless a
// role bound to the manager's account grants them already), and warns when the file does not match the
// markers (stale) instead of regenerating it.
func planRole(pl *planner) error {
	t, p := pl.t, pl.plan
	addMarkers, addRules := pl.markers != gosource.MarkersCollected, !pl.reviewsBound
	for _, d := range t.AccountsWithoutReviews() {
		pl.warn("%s runs Deployment %s as ServiceAccount %s, which no role of the tree binds to tokenreviews and subjectaccessreviews create, nor to %s: "+
			"every scrape would be refused; bind that account to %s (or a role granting the reviews) or run the Deployment as the manager's account",
			d.Dir, d.Deployment, d.ServiceAccount, t.RoleName, t.RoleName)
	}
	if t.Role == nil {
		if addRules {
			pl.warn("%s not found; grant tokenreviews and subjectaccessreviews create to the manager", t.RolePath)
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
		pl.change(t.RolePath, after, ranges(edited...), "grant tokenreviews and subjectaccessreviews create, placed as controller-gen "+cmp.Or(t.ControllerGenVersion, "(version unknown)")+" writes them")
	}
	if t.RBAC == nil {
		return nil
	}
	// What controller-gen would grant: the markers of every scanned package, and the main package's
	// (scanned from now on) with the diagnostics rules.
	want := append([]rbacrole.Rule(nil), pl.markerRules...)
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
