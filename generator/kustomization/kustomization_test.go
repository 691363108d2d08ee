// SPDX-License-Identifier: Apache-2.0

package kustomization_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/diagkit/diagkit/generator/kustomization"
	"github.com/diagkit/diagkit/generator/rbacrole"
)

const nutanix = "../testdata/targets/cluster-api-provider-nutanix"

// donePatch is the config/default patch of a manager serving diagnostics itself (Nutanix at HEAD).
const donePatch = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: controller-manager
  namespace: system
spec:
  template:
    spec:
      containers:
      - name: manager
        args:
        - --diagnostics-address=:8443
        ports:
        - containerPort: 8443
          name: https
`

func TestReferencedFilesAreWhatKustomizationsName(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(nutanix)); err != nil {
		t.Fatal(err)
	}
	// A patch only a comment mentions, as kubebuilder scaffolds manager_config_patch.yaml.
	k := filepath.Join(dir, "config/default/kustomization.yaml")
	src, _ := os.ReadFile(k)
	if err := os.WriteFile(k, append(src, "#- manager_config_patch.yaml\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config/default/manager_config_patch.yaml"), []byte(donePatch), 0o644); err != nil {
		t.Fatal(err)
	}
	tree, err := kustomization.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"config/default", "config/manager", "config/rbac"}; !slices.Equal(tree.Dirs, want) {
		t.Errorf("Dirs = %v, want %v", tree.Dirs, want)
	}
	for file, want := range map[string]bool{
		"config/default/manager_auth_proxy_patch.yaml": true,
		"config/rbac/auth_proxy_role.yaml":             true,
		"config/manager/manager.yaml":                  true,
		"config/default/manager_config_patch.yaml":     false,
	} {
		if got := tree.Referenced(file); got != want {
			t.Errorf("Referenced(%s) = %v, want %v", file, got, want)
		}
	}
}

func TestDeployedManagerAsRendered(t *testing.T) {
	tree, err := kustomization.Read(nutanix)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		overlay map[string][]byte
		serves  bool
		why     string
	}{
		{name: "behind kube-rbac-proxy", why: "declares no port 8080"}, // insecure on 127.0.0.1:8080
		{name: "the patch planned in memory", overlay: map[string][]byte{"config/default/manager_auth_proxy_patch.yaml": []byte(donePatch)}, serves: true},
		{name: "a planned patch without the port", overlay: map[string][]byte{
			"config/default/manager_auth_proxy_patch.yaml": []byte(strings.Split(donePatch, "        ports:")[0])}, why: "declares no port 8443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tree.Render("config/default", tt.overlay)
			if err != nil {
				t.Fatal(err)
			}
			d, err := kustomization.FindDeployed(out, "controller-manager", "manager")
			if err != nil || d == nil {
				t.Fatalf("FindDeployed: %v, %v", d, err)
			}
			if d.Manager.Deployment != "capx-controller-manager" || d.ServiceAccount != "capx-system/capx-controller-manager" {
				t.Errorf("deployed %s as %s", d.Manager.Deployment, d.ServiceAccount)
			}
			// The kube-rbac-proxy era proxy-role stays bound to the manager's account.
			if !rbacrole.Grants(d.Rules["capx-proxy-role"], rbacrole.DiagnosticsRules) {
				t.Errorf("bound rules %v lack the reviews", d.Rules)
			}
			serves, why := d.ServesDiagnostics()
			if serves != tt.serves || !strings.Contains(why, tt.why) {
				t.Errorf("ServesDiagnostics = %v %q, want %v %q", serves, why, tt.serves, tt.why)
			}
		})
	}
	// The overlay never reaches the disk.
	if src, _ := os.ReadFile(filepath.Join(nutanix, "config/default/manager_auth_proxy_patch.yaml")); !strings.Contains(string(src), "kube-rbac-proxy") {
		t.Error("the fixture's patch changed on disk")
	}
}

// TestFindDeployedFollowsAggregationAndBareSubjects: Cluster API providers bind an aggregated ClusterRole
// whose rules the cluster copies in from the roles its selectors match, and base trees leave a subject's
// namespace for the overlay to set. Both bind the manager's account to the roles they name.
func TestFindDeployedFollowsAggregationAndBareSubjects(t *testing.T) {
	rendered := []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: controller-manager
  namespace: capv-system
spec:
  template:
    spec:
      serviceAccountName: manager
      containers:
      - name: manager
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: aggregated-manager-role
aggregationRule:
  clusterRoleSelectors:
  - matchLabels:
      aggregate-to-manager: "true"
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: manager-role
  labels:
    aggregate-to-manager: "true"
rules:
- apiGroups: [authentication.k8s.io]
  resources: [tokenreviews]
  verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: unrelated-role
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: manager-rolebinding
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: aggregated-manager-role
subjects:
- kind: ServiceAccount
  name: manager
  namespace: capv-system
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: res-rolebinding
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: elsewhere-role
subjects:
- kind: ServiceAccount
  name: manager
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: other-account
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: unrelated-role
subjects:
- kind: ServiceAccount
  name: someone-else
  namespace: capv-system
`)
	d, err := kustomization.FindDeployed(rendered, "controller-manager", "manager")
	if err != nil || d == nil {
		t.Fatalf("FindDeployed: %v, %v", d, err)
	}
	bound := slices.Sorted(slices.Values(d.Bound))
	if want := []string{"aggregated-manager-role", "elsewhere-role", "manager-role"}; !slices.Equal(bound, want) {
		t.Errorf("bound %q, want %q", bound, want)
	}
	if len(d.Rules["manager-role"]) != 1 || len(d.Rules["unrelated-role"]) != 0 {
		t.Errorf("rules %+v: want manager-role's (aggregated) and not unrelated-role's", d.Rules)
	}
}
