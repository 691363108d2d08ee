// SPDX-License-Identifier: Apache-2.0

package kustomize

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/diagkit/diagkit/diagnostics"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current components")

// Fixtures are bases shaped like real projects (see testdata/README.md), each already including the
// components in its config/default.
var fixtures = []string{"kubebuilder-v3", "kubebuilder-v4", "capi-provider", "eks-anywhere"}

// allFixtures adds the overlays that deploy something other than a manager.
var allFixtures = append(slices.Clone(fixtures), "node-metrics-proxy")

func fixtureDir(name string) string { return filepath.Join("testdata", name, "config", "default") }

func TestGolden(t *testing.T) {
	for _, name := range allFixtures {
		t.Run(name, func(t *testing.T) {
			got, err := Build(fixtureDir(name))
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", name+".yaml")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run: go test ./kustomize -update)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("output differs from %s (-want +got); review, then go test ./kustomize -update:\n%s", golden, diff)
			}
		})
	}
}

// TestKustomizeBinary checks that users without Go get the same output from the kustomize CLI that
// `make tools` builds.
func TestKustomizeBinary(t *testing.T) {
	bin := os.Getenv("KUSTOMIZE")
	if bin == "" {
		bin = filepath.Join("..", "bin", "kustomize")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("kustomize binary: %v (run make tools, or set KUSTOMIZE)", err)
	}
	for _, name := range allFixtures {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(bin, "build", fixtureDir(name))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("kustomize build: %v\n%s", err, stderr.String())
			}
			want, err := Build(fixtureDir(name))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(out)); diff != "" {
				t.Errorf("kustomize CLI and the library differ (-library +CLI):\n%s", diff)
			}
		})
	}
}

func parse(t *testing.T, out []byte) []*yaml.RNode {
	t.Helper()
	nodes, err := kio.FromBytes(out)
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

// scalars returns the scalar items of the list at path.
func scalars(n *yaml.RNode, path ...string) []string {
	v, err := n.Pipe(yaml.Lookup(path...))
	if err != nil || v == nil {
		return nil
	}
	var out []string
	for _, e := range v.Content() {
		out = append(out, e.Value)
	}
	return out
}

// TestManagerIsWired checks, on every fixture, what the components promise, independently of the goldens.
func TestManagerIsWired(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			out, err := Build(fixtureDir(name))
			if err != nil {
				t.Fatal(err)
			}
			var deployment *yaml.RNode
			for _, n := range parse(t, out) {
				if n.GetKind() == "Deployment" {
					deployment = n
				}
				if n.GetKind() == "DiagnosticsSettings" || n.GetKind() == "DiagnosticsCertificateSettings" {
					t.Errorf("local-config %s reached the output", n.GetKind())
				}
			}
			if deployment == nil {
				t.Fatal("no Deployment in the output")
			}
			containers, err := deployment.Pipe(yaml.Lookup("spec", "template", "spec", "containers"))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			var manager *yaml.RNode
			for _, c := range containers.Content() {
				rn := yaml.NewRNode(c)
				names = append(names, yaml.GetValue(rn.Field("name").Value))
				if yaml.GetValue(rn.Field("name").Value) == "manager" {
					manager = rn
				}
			}
			if !cmp.Equal(names, []string{"manager"}) {
				t.Errorf("containers %v, want only the manager (no kube-rbac-proxy)", names)
			}
			var args []string
			for _, a := range manager.Field("args").Value.Content() {
				args = append(args, a.Value)
			}
			for _, want := range []string{"--" + diagnostics.FlagDiagnosticsAddress + "=:8443", "--" + diagnostics.FlagInsecureDiagnostics + "=false"} {
				if n := count(args, want); n != 1 {
					t.Errorf("args %v contain %q %d times, want once", args, want, n)
				}
			}
			for _, a := range args {
				if strings.HasPrefix(a, "--metrics-bind-addr") || strings.HasPrefix(a, "--metrics-addr") {
					t.Errorf("old metrics flag %q is still passed", a)
				}
			}
			ports, _ := manager.Pipe(yaml.Lookup("ports", "[containerPort=8443]", "name"))
			if yaml.GetValue(ports) != "metrics" {
				t.Errorf("container port 8443 is not named metrics: %q", yaml.GetValue(ports))
			}

			podLabels, _ := deployment.Pipe(yaml.Lookup("spec", "template", "metadata", "labels"))
			for _, n := range parse(t, out) {
				if n.GetKind() != "Service" || !strings.HasSuffix(n.GetName(), "diagnostics-service") {
					continue
				}
				selector, _ := n.Pipe(yaml.Lookup("spec", "selector"))
				sel, err := selector.Map()
				if err != nil || len(sel) == 0 {
					t.Fatalf("the diagnostics Service selects nothing (%v)", err)
				}
				labels, err := podLabels.Map()
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range sel {
					if labels[k] != v {
						t.Errorf("Service selects %s=%v, the manager's pods have %v", k, v, labels[k])
					}
				}
			}
		})
	}
}

func count(list []string, s string) int {
	n := 0
	for _, e := range list {
		if e == s {
			n++
		}
	}
	return n
}

// TestNoWildcards: no rule the components add (or leave) grants a verb, resource or group wildcard.
func TestNoWildcards(t *testing.T) {
	for _, name := range allFixtures {
		t.Run(name, func(t *testing.T) {
			out, err := Build(fixtureDir(name))
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range parse(t, out) {
				if n.GetKind() != "ClusterRole" && n.GetKind() != "Role" {
					continue
				}
				rules, _ := n.Pipe(yaml.Lookup("rules"))
				for _, r := range rules.Content() {
					rule := yaml.NewRNode(r)
					for _, field := range []string{"verbs", "resources", "apiGroups"} {
						if slices.Contains(scalars(rule, field), "*") {
							t.Errorf("%s %s grants %s *", n.GetKind(), n.GetName(), field)
						}
					}
				}
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	components, err := filepath.Abs("components")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		deployment string
		wantErr    string
	}{
		{
			name: "a manager Deployment without a container named manager is refused",
			deployment: `apiVersion: apps/v1
kind: Deployment
metadata: {name: controller-manager, namespace: system}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      serviceAccountName: sa
      containers: [{name: controller, image: x}]
`,
			wantErr: "spec.template.spec.containers.[name=^manager$].name",
		},
		{
			name: "a tree without a controller-manager Deployment is refused",
			deployment: `apiVersion: apps/v1
kind: Deployment
metadata: {name: my-operator, namespace: system}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec: {containers: [{name: manager, image: x}]}
`,
			wantErr: "controller-manager",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			rel, err := filepath.Rel(dir, filepath.Join(components, "diagnostics"))
			if err != nil {
				t.Fatal(err)
			}
			kust := "resources: [deployment.yaml]\ncomponents: [" + rel + "]\n"
			if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kust), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "deployment.yaml"), []byte(tt.deployment), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = Build(dir)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestComponentsAreEmbedded(t *testing.T) {
	entries, err := Components.ReadDir("components")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if _, err := Components.ReadFile("components/" + e.Name() + "/kustomization.yaml"); err != nil {
			t.Errorf("%s: %v", e.Name(), err)
		}
		got = append(got, e.Name())
	}
	want := []string{"cert-manager", "diagnostics", "node-metrics-proxy", "node-metrics-proxy-control-plane-only", "prometheus",
		"prometheus-pod-monitor", "prometheus-scraper", "remove-kube-rbac-proxy"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("embedded components (-want +got):\n%s", diff)
	}
}

// TestCertificateWiring checks that what cert-manager will issue is what the manager mounts and what the
// monitors verify: the Secret name in all three places, and the monitors' serverName among the DNS names.
func TestCertificateWiring(t *testing.T) {
	out, err := Build(fixtureDir("kubebuilder-v4"))
	if err != nil {
		t.Fatal(err)
	}
	var secretName, volumeSecret, serverName, caSecret, serviceDNS string
	var dnsNames []string
	for _, n := range parse(t, out) {
		switch n.GetKind() {
		case "Certificate":
			secretName = yaml.GetValue(mustLookup(t, n, "spec", "secretName"))
			dnsNames = scalars(n, "spec", "dnsNames")
		case "Deployment":
			volumeSecret = yaml.GetValue(mustLookup(t, n, "spec", "template", "spec", "volumes", "[name=diagnostics-certs]", "secret", "secretName"))
		case "ServiceMonitor":
			serverName = yaml.GetValue(mustLookup(t, n, "spec", "endpoints", "0", "tlsConfig", "serverName"))
			caSecret = yaml.GetValue(mustLookup(t, n, "spec", "endpoints", "0", "tlsConfig", "ca", "secret", "name"))
		case "Service":
			if strings.HasSuffix(n.GetName(), "diagnostics-service") {
				serviceDNS = n.GetName() + "." + n.GetNamespace() + ".svc"
			}
		}
	}
	if serviceDNS == "" || !slices.Contains(dnsNames, serviceDNS) {
		t.Errorf("certificate DNS names %v lack the diagnostics Service's %q", dnsNames, serviceDNS)
	}
	if secretName == "" || secretName != volumeSecret || secretName != caSecret {
		t.Errorf("Secret names differ: Certificate %q, volume %q, monitor CA %q", secretName, volumeSecret, caSecret)
	}
	if !slices.Contains(dnsNames, serverName) {
		t.Errorf("the monitor verifies serverName %q, the certificate is for %v", serverName, dnsNames)
	}
}

func mustLookup(t *testing.T, n *yaml.RNode, path ...string) *yaml.RNode {
	t.Helper()
	v, err := n.Pipe(yaml.Lookup(path...))
	if err != nil || v == nil {
		t.Fatalf("%s %s has no %s", n.GetKind(), n.GetName(), strings.Join(path, "."))
	}
	return v
}
