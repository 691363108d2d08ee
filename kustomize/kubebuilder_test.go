// SPDX-License-Identifier: Apache-2.0

package kustomize

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestKubebuilderV4ReusesTheScaffold checks the kubebuilder-v4 component on a kubebuilder v4.16 scaffold, in
// config/default and as an overlay: the scaffold's metrics Service, metrics-reader and metrics-auth-role are
// the only ones of their kind, and every cluster-wide name carries the project's prefix.
func TestKubebuilderV4ReusesTheScaffold(t *testing.T) {
	for _, name := range []string{"kubebuilder-v4", "kubebuilder-v4-overlay"} {
		t.Run(name, func(t *testing.T) {
			out, err := Build(fixtureDir(name))
			if err != nil {
				t.Fatal(err)
			}
			var services, reviewRoles, unprefixed []string
			for _, n := range parse(t, out) {
				switch n.GetKind() {
				case "Service":
					services = append(services, n.GetName())
					port := mustLookup(t, n, "spec", "ports", "[port=8443]", "name")
					if yaml.GetValue(port) != "metrics" || n.GetLabels()["diagkit.dev/endpoint"] != "diagnostics" {
						t.Errorf("Service %s: port 8443 named %q, labels %v; want the name metrics and diagkit.dev/endpoint: diagnostics",
							n.GetName(), yaml.GetValue(port), n.GetLabels())
					}
				case "ClusterRole":
					rules, _ := n.Pipe(yaml.Lookup("rules"))
					for _, r := range rules.Content() {
						if slices.Contains(scalars(yaml.NewRNode(r), "resources"), "tokenreviews") {
							reviewRoles = append(reviewRoles, n.GetName())
						}
					}
				}
				if n.GetNamespace() == "" && n.GetKind() != "CustomResourceDefinition" && !strings.HasPrefix(n.GetName(), "project-v4-") {
					unprefixed = append(unprefixed, n.GetKind()+" "+n.GetName())
				}
			}
			if want := []string{"project-v4-controller-manager-metrics-service"}; !cmp.Equal(services, want) {
				t.Errorf("Services %v, want only the scaffold's %v", services, want)
			}
			if want := []string{"project-v4-metrics-auth-role"}; !cmp.Equal(reviewRoles, want) {
				t.Errorf("roles granting tokenreviews %v, want only the scaffold's %v", reviewRoles, want)
			}
			if len(unprefixed) > 0 {
				t.Errorf("cluster-wide objects without the project's prefix: %v", unprefixed)
			}
		})
	}
}

// TestKubebuilderV4ScaffoldMonitor: the scaffold's own ServiceMonitor (config/prometheus, enabled in an
// overlay here) follows the Service's port to its new name.
func TestKubebuilderV4ScaffoldMonitor(t *testing.T) {
	dir := t.TempDir()
	component, err := filepath.Abs(filepath.Join("components", "kubebuilder-v4"))
	if err != nil {
		t.Fatal(err)
	}
	base, err := filepath.Abs(filepath.Join("testdata", "kubebuilder-v4", "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"monitor.yaml": `apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: controller-manager-metrics-monitor
  namespace: system
spec:
  endpoints:
  - path: /metrics
    port: https
    scheme: https
  selector:
    matchLabels:
      control-plane: controller-manager
`,
		"kustomization.yaml": "namePrefix: project-v4-\nnamespace: project-v4-system\nresources: [monitor.yaml]\n",
	}
	if err := os.MkdirAll(filepath.Join(dir, "prometheus"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, "prometheus", name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rel := func(p string) string {
		r, err := filepath.Rel(dir, p)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	kust := "resources: [" + rel(base) + ", prometheus]\ncomponents: [" + rel(component) + "]\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kust), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range parse(t, out) {
		if n.GetKind() == "ServiceMonitor" {
			if port := yaml.GetValue(mustLookup(t, n, "spec", "endpoints", "0", "port")); port != "metrics" {
				t.Errorf("the scaffold's monitor scrapes port %q, want metrics", port)
			}
			return
		}
	}
	t.Fatal("no ServiceMonitor in the output")
}
