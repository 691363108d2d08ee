// SPDX-License-Identifier: Apache-2.0

package check

import (
	"fmt"
	"strings"

	"github.com/diagkit/diagkit/generator"
	"github.com/diagkit/diagkit/generator/gosource"
	"github.com/diagkit/diagkit/generator/rbacrole"
)

const rbacPrefix = "+kubebuilder:rbac:"

func isRBAC(m gosource.Marker) bool { return strings.HasPrefix(m.Text, rbacPrefix) }

// checkIgnoredMarkers reports +kubebuilder:rbac markers controller-gen drops, in a declaration's doc
// comment or inside it: upstream eks-anywhere and the etcdadm providers put the diagnostics markers in
// func main's doc comment, and a later regeneration of role.yaml silently removed the rules.
func checkIgnoredMarkers(r *repo) error {
	for _, pkg := range r.markers {
		// One finding per declaration: its markers are one comment group.
		var group []gosource.Marker
		flush := func() error {
			if len(group) == 0 {
				return nil
			}
			err := r.reportIgnored(group)
			group = nil
			return err
		}
		for _, m := range pkg.Ignored {
			if !isRBAC(m) {
				continue
			}
			if len(group) > 0 && (group[0].File != m.File || group[0].DeclLine != m.DeclLine || group[0].Inside != m.Inside) {
				if err := flush(); err != nil {
					return err
				}
			}
			group = append(group, m)
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return nil
}

func (r *repo) reportIgnored(group []gosource.Marker) error {
	first, last := group[0], group[len(group)-1]
	rules, err := rbacrole.FromMarkers(group, r.t.RoleName)
	if err != nil {
		return err
	}
	lines := fmt.Sprintf("line %d", first.Line)
	if last.Line != first.Line {
		lines = fmt.Sprintf("lines %d-%d", first.Line, last.Line)
	}
	where := "they are the doc comment of " + first.Decl
	fix := fmt.Sprintf("insert a blank line between line %d and %s (line %d), so the markers become a free-standing comment group",
		last.Line, first.Decl, first.DeclLine)
	switch {
	case first.Inside:
		where = "they are inside " + first.Decl + ", not at package level"
		fix = fmt.Sprintf("move %s out of %s into a free-standing comment group between declarations (a blank line after it)", lines, first.Decl)
	case last.Line != first.DeclLine-1:
		fix = fmt.Sprintf("move %s above the doc comment of %s and follow them with a blank line", lines, first.Decl)
	}
	lost := "the rules they describe"
	if len(rules) > 0 {
		lost = permissions(rules)
	}
	r.report(Finding{
		ID: MarkersInGodoc, File: first.File, Line: first.Line,
		Message: fmt.Sprintf("controller-gen ignores these +kubebuilder:rbac markers (%s; it reads only free-standing comment groups), so regenerating never grants %s",
			where, lost),
		Fix: fix,
	})
	return nil
}

// checkRBACPaths reports a Makefile whose controller-gen rbac invocation does not read the package
// holding the diagnostics markers (CAPV and CAPC scanned only ./controllers/...).
func checkRBACPaths(r *repo) error {
	rbac := r.t.RBAC
	if rbac == nil {
		return nil
	}
	var scanned []rbacrole.Rule
	var unscanned *generator.MarkerPackage
	for i, pkg := range r.markers {
		rules, err := rbacrole.FromMarkers(pkg.Collected, r.t.RoleName)
		if err != nil {
			return err
		}
		if pkg.Scanned {
			scanned = append(scanned, rules...)
		} else if unscanned == nil && grantsAnyReview(rules) {
			unscanned = &r.markers[i]
		}
	}
	if unscanned == nil || rbacrole.Grants(scanned, rbacrole.DiagnosticsRules) {
		return nil
	}
	add := strings.TrimSpace(rbac.AddPath(unscanned.Dir).Text)
	marker := reviewMarker(unscanned.Collected, r.t.RoleName)
	r.report(Finding{
		ID: RBACPathsMissMarkers, File: rbac.Path, Line: rbac.Line,
		Message: fmt.Sprintf("the controller-gen rbac command (make %s) does not scan package %s, which holds the tokenreviews/subjectaccessreviews markers (%s:%d): regenerating role.yaml drops the rules the diagnostics endpoint needs",
			rbac.Target, "./"+strings.TrimPrefix(unscanned.Dir, "."), marker.File, marker.Line),
		Fix: fmt.Sprintf("add %s to that command, after its last paths= argument; then run %s", add, r.regenerate()),
	})
	return nil
}

func grantsAnyReview(rules []rbacrole.Rule) bool {
	for _, want := range rbacrole.DiagnosticsRules {
		if rbacrole.Grants(rules, []rbacrole.Rule{want}) {
			return true
		}
	}
	return false
}

// reviewMarker returns the first of ms that grants a review rule (ms has one).
func reviewMarker(ms []gosource.Marker, roleName string) gosource.Marker {
	for _, m := range ms {
		if rules, err := rbacrole.FromMarkers([]gosource.Marker{m}, roleName); err == nil && grantsAnyReview(rules) {
			return m
		}
	}
	return ms[0]
}

// permissions lists what rules grant, sorted: "create tokenreviews.authentication.k8s.io, …".
func permissions(rules []rbacrole.Rule) string {
	missing, _ := rbacrole.Difference(rules, nil)
	s := make([]string, len(missing))
	for i, p := range missing {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}
