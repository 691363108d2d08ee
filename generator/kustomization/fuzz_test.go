// SPDX-License-Identifier: Apache-2.0

package kustomization

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/diagkit/diagkit/generator/internal/fixture"
)

// FuzzRead holds Read to what the generator needs of any kustomization: a kustomization it cannot read
// is an error of its directory, naming the file, not of the tree; one it reads names, among the tree's
// files, every path its resources, components and patches name, cleaned and in order; and the file is
// left as it was.
func FuzzRead(f *testing.F) {
	files, err := fixture.Files(func(p string) bool { return path.Base(p) == "kustomization.yaml" })
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		f.Add(file.Data)
	}
	f.Add([]byte("resources:\n- ../manager\npatches:\n- path: p.yaml\n  target:\n    kind: Deployment\npatchesStrategicMerge:\n- |\n  kind: Deployment\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		root := t.TempDir()
		file := filepath.Join(root, "config", "default", "kustomization.yaml")
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, src, 0o644); err != nil {
			t.Fatal(err)
		}
		tree, err := Read(root)
		if err != nil {
			t.Fatalf("Read failed on one unreadable kustomization: %v", err)
		}
		if after, err := os.ReadFile(file); err != nil || !bytes.Equal(after, src) {
			t.Fatalf("Read changed the kustomization (%v)", err)
		}
		if !slices.Equal(tree.Dirs, []string{"config/default"}) {
			t.Fatalf("Dirs = %q", tree.Dirs)
		}
		if err := tree.errs["config/default"]; err != nil {
			if !strings.Contains(err.Error(), file) {
				t.Fatalf("error %q does not name %s", err, file)
			}
			if len(tree.Files()) != 0 {
				t.Fatalf("an unreadable kustomization names %q", tree.Files())
			}
			return
		}
		got := tree.Files()
		if !slices.IsSorted(got) {
			t.Fatalf("Files() = %q, not sorted", got)
		}
		for _, p := range got {
			if p != path.Clean(p) || !tree.Referenced(p) {
				t.Fatalf("Files() names %q, not clean or not Referenced", p)
			}
		}
		for _, p := range namedPaths(src) {
			if !tree.Referenced(path.Join("config/default", p)) {
				t.Fatalf("%q is named but not referenced; Files() = %q", p, got)
			}
		}
	})
}

// namedPaths reads, with another YAML parser, the paths a kustomization names that are surely files or
// bases: resources (bases), components and the path of each patch.
func namedPaths(src []byte) []string {
	var k struct {
		Resources  []any `yaml:"resources"`
		Bases      []any `yaml:"bases"`
		Components []any `yaml:"components"`
		Patches    []any `yaml:"patches"`
	}
	if yamlv3.Unmarshal(src, &k) != nil {
		return nil
	}
	var paths []string
	for _, list := range [][]any{k.Resources, k.Bases, k.Components} {
		for _, v := range list {
			if s, ok := v.(string); ok && s != "" {
				paths = append(paths, s)
			}
		}
	}
	for _, p := range k.Patches {
		if m, ok := p.(map[string]any); ok {
			if s, ok := m["path"].(string); ok && s != "" {
				paths = append(paths, s)
			}
		}
	}
	return paths
}

// FuzzFindDeployed holds FindDeployed to what diagkit check needs of any rendered stream: no panic, an
// error or the manager it asked for, with the account it runs as and only rules bound to that account.
func FuzzFindDeployed(f *testing.F) {
	files, err := fixture.Files(func(p string) bool { return strings.HasSuffix(p, ".yaml") })
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		f.Add(file.Data)
	}
	golden, _ := filepath.Glob("../../kustomize/testdata/golden/*.yaml")
	for _, g := range golden {
		if data, err := os.ReadFile(g); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(donePatchSeed))
	f.Fuzz(func(t *testing.T, rendered []byte) {
		orig := bytes.Clone(rendered)
		d, err := FindDeployed(rendered, "controller-manager", "manager")
		if !bytes.Equal(rendered, orig) {
			t.Fatal("FindDeployed changed its input")
		}
		if err != nil || d == nil {
			return
		}
		if d.Manager == nil || d.Manager.Name != "manager" {
			t.Fatalf("manager %+v", d.Manager)
		}
		for _, c := range d.Others {
			if c == d.Manager || c.Deployment != d.Manager.Deployment {
				t.Fatalf("other container %s of %s", c.Name, c.Deployment)
			}
		}
		if ns, name, ok := strings.Cut(d.ServiceAccount, "/"); !ok || ns == "" || name == "" {
			t.Fatalf("service account %q", d.ServiceAccount)
		}
		d.ServesDiagnostics()
	})
}

const donePatchSeed = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: controller-manager
  namespace: system
spec:
  template:
    spec:
      serviceAccountName: controller-manager
      containers:
      - name: manager
        args:
        - --diagnostics-address=:8443
        ports:
        - containerPort: 8443
          name: https
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: manager-rolebinding
roleRef:
  kind: ClusterRole
  name: manager-role
subjects:
- kind: ServiceAccount
  name: controller-manager
  namespace: system
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: manager-role
rules:
- apiGroups: [authentication.k8s.io]
  resources: [tokenreviews]
  verbs: [create]
`
