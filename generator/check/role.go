// SPDX-License-Identifier: Apache-2.0

package check

import (
	"fmt"
	"slices"
	"strings"

	"github.com/diagkit/diagkit/generator/gosource"
	"github.com/diagkit/diagkit/generator/rbacrole"
)

// markerRules are the rules of the module's +kubebuilder:rbac markers for the manager's role, by what
// controller-gen does with them.
type markerRules struct {
	scanned, unscanned, ignored []rbacrole.Rule
	unscannedDirs               []string // packages with rules that the rbac command does not scan
}

func (r *repo) markerRules() (markerRules, error) {
	var mr markerRules
	for _, pkg := range r.markers {
		collected, err := rbacrole.FromMarkers(pkg.Collected, r.t.RoleName)
		if err != nil {
			return mr, err
		}
		var ignored []gosource.Marker
		for _, m := range pkg.Ignored {
			if isRBAC(m) {
				ignored = append(ignored, m)
			}
		}
		ignoredRules, err := rbacrole.FromMarkers(ignored, r.t.RoleName)
		if err != nil {
			return mr, err
		}
		mr.ignored = append(mr.ignored, ignoredRules...)
		if pkg.Scanned {
			mr.scanned = append(mr.scanned, collected...)
		} else if len(collected) > 0 {
			mr.unscanned = append(mr.unscanned, collected...)
			mr.unscannedDirs = append(mr.unscannedDirs, pkg.Dir)
		}
	}
	return mr, nil
}

// checkReviewRules reports a role.yaml that does not let a manager serving diagnostics review its
// callers: without create on tokenreviews and subjectaccessreviews every request fails.
func checkReviewRules(r *repo) error {
	role := r.t.Role
	// Rules bound to the manager's account by another role (a proxy-role) grant the reviews as well.
	if !r.diagnostics || role == nil || r.t.OverlaysGrantReviews() {
		return nil
	}
	missing := uncovered(role.Rules, rbacrole.DiagnosticsRules)
	if len(missing) == 0 {
		return nil
	}
	var markers []string
	for i, want := range rbacrole.DiagnosticsRules {
		if slices.ContainsFunc(missing, func(m rbacrole.Rule) bool { return slices.Equal(m.Resources, want.Resources) }) {
			markers = append(markers, "`"+gosource.RBACMarkers[i]+"`")
		}
	}
	mr, err := r.markerRules()
	if err != nil {
		return err
	}
	var fix string
	switch {
	case r.t.RBAC == nil:
		fix = fmt.Sprintf("add rules granting %s to ClusterRole %s", permissions(missing), role.Name)
	case rbacrole.Grants(mr.scanned, missing):
		fix = "run " + r.regenerate() + " to regenerate it from the markers"
	case rbacrole.Grants(mr.ignored, missing):
		fix = "make the markers visible to controller-gen (see " + string(MarkersInGodoc) + "), then run " + r.regenerate()
	case rbacrole.Grants(mr.unscanned, missing):
		fix = "scan the markers' package (see " + string(RBACPathsMissMarkers) + "), then run " + r.regenerate()
	default:
		scan := ""
		if dir := r.t.MainPackage.Dir; !r.t.RBAC.Scans(dir) {
			scan = fmt.Sprintf(", add %s to the controller-gen rbac command (%s:%d)", strings.TrimSpace(r.t.RBAC.AddPath(dir).Text), r.t.RBAC.Path, r.t.RBAC.Line)
		}
		fix = fmt.Sprintf("add %s as a free-standing comment group before func %s in %s (a blank line after it)%s, then run %s (or run `diagkit retrofit`)",
			strings.Join(markers, " and "), r.managerFunc(), r.mainFile(), scan, r.regenerate())
	}
	r.report(Finding{
		ID: RoleMissingReviewRules, File: r.t.RolePath, Line: role.RulesLine(),
		Message: fmt.Sprintf("ClusterRole %s does not grant %s: the manager cannot review its callers, so every request to the diagnostics endpoint fails",
			role.Name, permissions(missing)),
		Fix: fix,
	})
	return nil
}

// checkRoleStale reports a role.yaml that differs from what the Makefile's controller-gen would write,
// comparing the permissions granted, as retrofit's staleness warning does. Drift that an earlier finding
// explains (markers controller-gen ignores, the review rules) is left to that finding.
func checkRoleStale(r *repo) error {
	role, rbac := r.t.Role, r.t.RBAC
	if role == nil || rbac == nil {
		return nil
	}
	mr, err := r.markerRules()
	if err != nil {
		return err
	}
	explained := rbacrole.Permissions(mr.ignored)
	if r.reported(RBACPathsMissMarkers, RoleMissingReviewRules) {
		for p := range rbacrole.Permissions(rbacrole.DiagnosticsRules) {
			explained[p] = true
		}
	}
	isExplained := func(p rbacrole.Permission) bool { return explained[p] }
	missing, extra := rbacrole.Difference(mr.scanned, role.Rules)
	missing, extra = slices.DeleteFunc(missing, isExplained), slices.DeleteFunc(extra, isExplained)
	if len(missing)+len(extra) == 0 {
		return nil
	}
	fix := "run " + r.regenerate() + " and review the diff of " + r.t.RolePath
	fromUnscanned := rbacrole.Permissions(mr.unscanned)
	if slices.ContainsFunc(extra, func(p rbacrole.Permission) bool { return fromUnscanned[p] }) {
		var add []string
		for _, dir := range mr.unscannedDirs {
			add = append(add, strings.TrimSpace(rbac.AddPath(dir).Text))
		}
		fix = fmt.Sprintf("add %s to the controller-gen rbac command (%s:%d), whose markers grant what the role has, then run %s",
			strings.Join(add, " "), rbac.Path, rbac.Line, r.regenerate())
	}
	r.report(Finding{
		ID: RoleStale, File: r.t.RolePath, Line: role.RulesLine(),
		Message: fmt.Sprintf("%s is not what %s writes from the markers it scans: regenerating would %s",
			r.t.RolePath, r.regenerate(), rbacrole.DescribeDifference(missing, extra)),
		Fix: fix,
	})
	return nil
}

// checkRoleClobbered reports another controller-gen invocation that writes the manager's role.yaml
// from other packages: whoever runs its target replaces the role, as CloudStack's test-only
// generate-manifest-test does (upstream bug: it scans ./test/fakes but writes the default config/rbac).
func checkRoleClobbered(r *repo) error {
	for _, other := range r.t.RBACOthers {
		missing, extra, err := r.t.RegenerationDifference(other, r.markers)
		if err != nil || len(missing)+len(extra) == 0 {
			continue
		}
		target := r.t.EntryTarget(other)
		r.report(Finding{
			ID: RoleClobbered, File: other.Path, Line: other.Line,
			Message: fmt.Sprintf("`make %s` also writes %s, from other packages than %s: running it would %s",
				target, r.t.RolePath, r.regenerate(), rbacrole.DescribeDifference(missing, extra)),
			Fix: fmt.Sprintf("give this controller-gen command its own output:rbac:dir (or drop its rbac generator), so only %s writes %s", r.regenerate(), r.t.RolePath),
		})
	}
	return nil
}

// managerFunc names the function that creates the manager.
func (r *repo) managerFunc() string {
	if m := r.t.Manager; m != nil && m.Func != nil {
		return m.Func.Name.Name
	}
	return "main"
}

// uncovered returns the rules of want that rules do not allow.
func uncovered(rules, want []rbacrole.Rule) []rbacrole.Rule {
	var missing []rbacrole.Rule
	for _, w := range want {
		if !rbacrole.Covers(rules, []rbacrole.Rule{w}) {
			missing = append(missing, w)
		}
	}
	return missing
}
