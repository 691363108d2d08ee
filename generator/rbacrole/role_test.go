// SPDX-License-Identifier: Apache-2.0

package rbacrole

import (
	"strings"
	"testing"
)

const role = `---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: manager-role
rules:
- apiGroups:
  - ""
  resources:
  - secrets
  verbs:
  - get
- apiGroups:
  - authentication.k8s.io
  resources:
  - selfsubjectreviews
  verbs:
  - create
`

func TestAddMergesAsEachControllerToolsFamily(t *testing.T) {
	r, err := ParseRole("role.yaml", []byte(role), "manager-role")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("v0.16 and later merge rules that differ only in resources", func(t *testing.T) {
		out, _, err := r.Add(DiagnosticsRules, FamilyOf("v0.17.2"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), "  resources:\n  - selfsubjectreviews\n  - tokenreviews\n  verbs:\n  - create\n") {
			t.Errorf("tokenreviews not merged into the authentication.k8s.io rule:\n%s", out)
		}
	})
	t.Run("v0.15 and earlier add a rule of its own", func(t *testing.T) {
		out, _, err := r.Add(DiagnosticsRules, FamilyOf("v0.11.4"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(out), "- authentication.k8s.io\n") != 2 {
			t.Errorf("want two authentication.k8s.io rules:\n%s", out)
		}
	})
	t.Run("a role that grants the rules is left alone", func(t *testing.T) {
		once, _, _ := r.Add(DiagnosticsRules, FromV016)
		again, err := ParseRole("role.yaml", once, "manager-role")
		if err != nil {
			t.Fatal(err)
		}
		twice, edits, err := again.Add(DiagnosticsRules, FromV016)
		if err != nil || len(edits) != 0 || string(twice) != string(once) {
			t.Errorf("second Add changed the file (%v, %d edits)", err, len(edits))
		}
	})
}

func TestAddRefusesAHandEditedRole(t *testing.T) {
	edited := strings.Replace(role, "  - get\n", "  - get \n", 1) // trailing space, as in etcdadm-controller#73
	r, err := ParseRole("role.yaml", []byte(edited), "manager-role")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = r.Add(DiagnosticsRules, FromV016)
	if err == nil || !strings.Contains(err.Error(), "role.yaml:7: expected rules as controller-gen writes them") {
		t.Errorf("got %v, want a positioned error", err)
	}
}

func TestCoversAsTheAuthorizerDecides(t *testing.T) {
	review := []Rule{{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}}}
	tests := []struct {
		name  string
		rules []Rule
		want  bool
	}{
		{"the rule itself", review, true},
		{"wildcards in groups, resources and verbs", []Rule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}, true},
		{"another group", []Rule{{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}}}, false},
		{"resource names restrict the rule", []Rule{{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, ResourceNames: []string{"x"}, Verbs: []string{"create"}}}, false},
		{"another verb", []Rule{{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"get"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Covers(tt.rules, review); got != tt.want {
				t.Errorf("Covers = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseRolesFindsPrefixedRolesWithTheirLines(t *testing.T) {
	bundle := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n---\n" + strings.TrimPrefix(strings.Replace(role, "name: manager-role", "name: eksa-manager-role", 1), "---\n")
	roles, err := ParseRoles("bundle.yaml", []byte(bundle), func(name string) bool { return strings.HasSuffix(name, "-manager-role") })
	if err != nil || len(roles) != 1 {
		t.Fatalf("got %d roles, %v", len(roles), err)
	}
	if r := roles[0]; r.Name != "eksa-manager-role" || r.KindLine() != 7 || r.RulesLine() != 10 {
		t.Errorf("role %s at kind line %d, rules line %d; want eksa-manager-role, 7, 10", r.Name, r.KindLine(), r.RulesLine())
	}
	missing, extra := Difference(DiagnosticsRules, roles[0].Rules)
	if got := DescribeDifference(missing, extra); got != "remove 2 permission(s) (create selfsubjectreviews.authentication.k8s.io, get secrets) and add 2 (create subjectaccessreviews.authorization.k8s.io, create tokenreviews.authentication.k8s.io)" {
		t.Errorf("DescribeDifference = %q", got)
	}
}

// TestParseRoleRefusesOtherLineBreaks: YAML counts a lone \r (or U+0085, U+2028, U+2029) as a line break
// and edit.LineOffsets does not, so the rules' spans would be cut at the wrong bytes.
func TestParseRoleRefusesOtherLineBreaks(t *testing.T) {
	src := strings.Replace(role, "  - secrets\n", "  - secrets\r", 1)
	_, err := ParseRole("role.yaml", []byte(src), "manager-role")
	if err == nil || err.Error() != `role.yaml:10: expected lines ending in \n or \r\n, found a \r line break` {
		t.Errorf("got %v", err)
	}
}

// TestRulesNotAsControllerGenWritesThem: rules in flow style or below a lone dash are read, and refused
// for edits at their line (found by FuzzAdd: finding the first rule's "- " panicked).
func TestRulesNotAsControllerGenWritesThem(t *testing.T) {
	tests := []struct{ name, rules, want string }{
		{"a flow sequence", "rules: [{apiGroups: [\"\"], resources: [secrets], verbs: [get]}]\n",
			`role.yaml:5: expected rules as controller-gen writes them (regenerate role.yaml first), found "rules: [`},
		{"a lone dash", "rules:\n-\n  apiGroups: [\"\"]\n  resources: [secrets]\n  verbs: [get]\n",
			`role.yaml:7: expected rules as controller-gen writes them (regenerate role.yaml first), found "  apiGroups: [\"\"]\n"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: manager-role\n" + tt.rules
			r, err := ParseRole("role.yaml", []byte(src), "manager-role")
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Rules) != 1 || r.Rules[0].Resources[0] != "secrets" {
				t.Errorf("rules %+v", r.Rules)
			}
			if _, _, err := r.Add(DiagnosticsRules, FromV016); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Add: %v, want %q", err, tt.want)
			}
		})
	}
}
