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
