// SPDX-License-Identifier: Apache-2.0

package rbacrole

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/mod/semver"
	ctrlrbac "sigs.k8s.io/controller-tools/pkg/rbac"

	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/gosource"
)

// Rule is one policy rule as role.yaml spells it.
type Rule struct {
	APIGroups       []string `yaml:"apiGroups,omitempty"`
	NonResourceURLs []string `yaml:"nonResourceURLs,omitempty"`
	ResourceNames   []string `yaml:"resourceNames,omitempty"`
	Resources       []string `yaml:"resources,omitempty"`
	Verbs           []string `yaml:"verbs,omitempty"`
}

// DiagnosticsRules are the rules the diagnostics endpoint needs: a TokenReview and a SubjectAccessReview
// per caller.
var DiagnosticsRules = []Rule{
	{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
	{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
}

// key is controller-tools' sort key: groups, resources, resource names and URLs, each joined with "&".
func (r Rule) key() string {
	return strings.Join([]string{
		strings.Join(r.APIGroups, "&"), strings.Join(r.Resources, "&"),
		strings.Join(r.ResourceNames, "&"), strings.Join(r.NonResourceURLs, "&"),
	}, " + ")
}

// Permission is one (group, resource, name, URL, verb) a rule grants.
type Permission struct{ Group, Resource, Name, URL, Verb string }

func (p Permission) String() string {
	if p.URL != "" {
		return p.Verb + " " + p.URL
	}
	s := p.Verb + " " + p.Resource
	if p.Group != "" {
		s += "." + p.Group
	}
	if p.Name != "" {
		s += "/" + p.Name
	}
	return s
}

// Permissions expands rules into the set they grant.
func Permissions(rules []Rule) map[Permission]bool {
	set := map[Permission]bool{}
	or := func(s []string) []string {
		if len(s) == 0 {
			return []string{""}
		}
		return s
	}
	for _, r := range rules {
		for _, v := range r.Verbs {
			if len(r.NonResourceURLs) > 0 {
				for _, u := range r.NonResourceURLs {
					set[Permission{URL: u, Verb: v}] = true
				}
				continue
			}
			for _, g := range or(r.APIGroups) {
				for _, res := range r.Resources {
					for _, n := range or(r.ResourceNames) {
						set[Permission{Group: g, Resource: res, Name: n, Verb: v}] = true
					}
				}
			}
		}
	}
	return set
}

// Difference returns what want grants and have does not (missing) and what have grants and want does
// not (extra), each sorted by its String form.
func Difference(want, have []Rule) (missing, extra []Permission) {
	w, h := Permissions(want), Permissions(have)
	for p := range w {
		if !h[p] {
			missing = append(missing, p)
		}
	}
	for p := range h {
		if !w[p] {
			extra = append(extra, p)
		}
	}
	byString := func(a, b Permission) int { return strings.Compare(a.String(), b.String()) }
	slices.SortFunc(missing, byString)
	slices.SortFunc(extra, byString)
	return missing, extra
}

// DescribeDifference says what regenerating a role with missing and extra (from Difference) would do:
// "remove 2 permission(s) (…) and add 1 (…)", listing up to three of each.
func DescribeDifference(missing, extra []Permission) string {
	var parts []string
	if len(extra) > 0 {
		parts = append(parts, fmt.Sprintf("remove %d permission(s) (%s)", len(extra), abbreviate(extra)))
	}
	if len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("add %d (%s)", len(missing), abbreviate(missing)))
	}
	return strings.Join(parts, " and ")
}

func abbreviate(ps []Permission) string {
	var s []string
	for i, p := range ps {
		if i == 3 {
			s = append(s, "…")
			break
		}
		s = append(s, p.String())
	}
	return strings.Join(s, ", ")
}

// Grants reports whether rules grant every permission of want.
func Grants(rules []Rule, want []Rule) bool {
	have := Permissions(rules)
	for p := range Permissions(want) {
		if !have[p] && !have[Permission{Group: p.Group, Resource: p.Resource, Name: p.Name, URL: p.URL, Verb: "*"}] {
			return false
		}
	}
	return true
}

// Covers reports whether rules allow every permission of want as the API server's RBAC authorizer
// decides: "*" in a rule's groups, resources or verbs matches anything, and a rule with resource names
// allows only those names. (Grants honours only "*" verbs, as controller-gen's merging does.)
func Covers(rules, want []Rule) bool {
	for p := range Permissions(want) {
		if !slices.ContainsFunc(rules, func(r Rule) bool { return r.allows(p) }) {
			return false
		}
	}
	return true
}

func (r Rule) allows(p Permission) bool {
	match := func(set []string, v string) bool { return slices.Contains(set, "*") || slices.Contains(set, v) }
	if !match(r.Verbs, p.Verb) {
		return false
	}
	if p.URL != "" {
		return slices.ContainsFunc(r.NonResourceURLs, func(u string) bool {
			prefix, wild := strings.CutSuffix(u, "*")
			return u == p.URL || wild && strings.HasPrefix(p.URL, prefix)
		})
	}
	return match(r.APIGroups, p.Group) && match(r.Resources, p.Resource) &&
		(len(r.ResourceNames) == 0 || slices.Contains(r.ResourceNames, p.Name))
}

// FromMarkers parses the +kubebuilder:rbac markers among ms that go into the ClusterRole roleName.
func FromMarkers(ms []gosource.Marker, roleName string) ([]Rule, error) {
	var rules []Rule
	for _, m := range ms {
		if !strings.HasPrefix(m.Text, "+"+ctrlrbac.RuleDefinition.Name+":") {
			continue
		}
		v, err := ctrlrbac.RuleDefinition.Parse(m.Text)
		if err != nil {
			return nil, &edit.PositionError{File: m.File, Line: m.Line, Expected: "a valid +kubebuilder:rbac marker", Found: fmt.Sprintf("%q (%v)", m.Text, err)}
		}
		r := v.(ctrlrbac.Rule)
		if r.Namespace != "" || (r.RoleName != "" && r.RoleName != roleName) {
			continue
		}
		groups := append([]string(nil), r.Groups...)
		for i, g := range groups {
			if g == "core" {
				groups[i] = ""
			}
		}
		rules = append(rules, Rule{APIGroups: groups, Resources: r.Resources, ResourceNames: r.ResourceNames, NonResourceURLs: r.URLs, Verbs: r.Verbs})
	}
	return rules, nil
}

// Family is the controller-tools behaviour that decides how new rules merge into existing ones.
type Family int

const (
	// UpToV015 only merges rules with identical groups, resources, names and URLs (v0.15 and before).
	UpToV015 Family = iota
	// FromV016 also merges rules that differ only in resources (v0.16 and later).
	FromV016
)

// FamilyOf maps a controller-gen version to its family; unknown versions get the newest behaviour.
func FamilyOf(version string) Family {
	if semver.IsValid(version) && semver.Compare(version, "v0.16.0") < 0 {
		return UpToV015
	}
	return FromV016
}

func sortedUnion(a, b []string) []string {
	out := append(append([]string(nil), a...), b...)
	slices.Sort(out)
	return slices.Compact(out)
}
