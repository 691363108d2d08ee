// SPDX-License-Identifier: Apache-2.0

package kustomize

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/diagkit/diagkit/diagnostics"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current components")

// Fixtures are trees shaped like real projects (see testdata/README.md) with the components adopted, either in
// the kustomization that sets namePrefix and namespace or in an overlay on the untouched tree.
var fixtures = []string{"kubebuilder-v3", "kubebuilder-v3-overlay", "kubebuilder-v4", "kubebuilder-v4-overlay",
	"capi-provider", "eks-anywhere"}

// allFixtures adds the overlays that deploy something other than a manager.
var allFixtures = append(slices.Clone(fixtures), "node-metrics-proxy")

// fixtureDirs names the kustomization a fixture builds, where it is not testdata/<fixture>/config/default: the
// kubebuilder trees keep config/default as scaffolded, beside the two ways of adopting the components.
var fixtureDirs = map[string]string{
	"kubebuilder-v3":         "kubebuilder-v3/config/diagkit-in-default",
	"kubebuilder-v3-overlay": "kubebuilder-v3/config/diagkit-overlay",
	"kubebuilder-v4":         "kubebuilder-v4/config/diagkit-in-default",
	"kubebuilder-v4-overlay": "kubebuilder-v4/config/diagkit-overlay",
}

func fixtureDir(name string) string {
	if dir, ok := fixtureDirs[name]; ok {
		return filepath.Join("testdata", dir)
	}
	return filepath.Join("testdata", name, "config", "default")
}

func TestGolden(t *testing.T) {
	for _, name := range allFixtures {
		t.Run(name, func(t *testing.T) {
			got, err := Build(fixtureDir(name))
			if err != nil {
				t.Fatal(err)
			}
			compareGolden(t, name+".yaml", got)
		})
	}
}

// TestKustomizeBinary checks that users without Go get the same output from the kustomize CLI that
// `make tools` builds.
func TestKustomizeBinary(t *testing.T) {
	bin := kustomizeBinary(t)
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

// kustomizeBinary is the CLI `make tools` builds, or $KUSTOMIZE.
func kustomizeBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("KUSTOMIZE")
	if bin == "" {
		bin = filepath.Join("..", "bin", "kustomize")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("kustomize binary: %v (run make tools, or set KUSTOMIZE)", err)
	}
	return bin
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

// TestManagerIsWired checks, on every fixture, what the components promise, independently of the goldens:
// the manager alone in its pod, passed exactly one diagnostics address and no older metrics flag, port 8443
// named metrics, exactly one Service reaching it, exactly one metrics-reader role, and bindings naming accounts
// that exist.
func TestManagerIsWired(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			out, err := Build(fixtureDir(name))
			if err != nil {
				t.Fatal(err)
			}
			nodes := parse(t, out)
			var deployment *yaml.RNode
			var readers []string
			for _, n := range nodes {
				switch n.GetKind() {
				case "Deployment":
					deployment = n
				case "ClusterRole":
					if strings.HasSuffix(n.GetName(), "metrics-reader") {
						readers = append(readers, n.GetName())
					}
				}
				if n.GetApiVersion() == "config.diagkit.dev/v1alpha1" {
					t.Errorf("local-config %s reached the output", n.GetKind())
				}
			}
			if deployment == nil {
				t.Fatal("no Deployment in the output")
			}
			if len(readers) != 1 {
				t.Errorf("metrics-reader ClusterRoles %v, want exactly one", readers)
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
			args := scalars(manager, "args")
			for _, want := range []string{"--" + diagnostics.FlagDiagnosticsAddress + "=:8443", "--" + diagnostics.FlagInsecureDiagnostics + "=false"} {
				if n := count(args, want); n != 1 {
					t.Errorf("args %v contain %q %d times, want once", args, want, n)
				}
			}
			for _, a := range args {
				if oldMetricsFlag.MatchString(a) {
					t.Errorf("old metrics flag %q is still passed", a)
				}
			}
			ports, _ := manager.Pipe(yaml.Lookup("ports", "[containerPort=8443]", "name"))
			if yaml.GetValue(ports) != "metrics" {
				t.Errorf("container port 8443 is not named metrics: %q", yaml.GetValue(ports))
			}

			podLabels, err := mustLookup(t, deployment, "spec", "template", "metadata", "labels").Map()
			if err != nil {
				t.Fatal(err)
			}
			var reaching []string
			for _, n := range nodes {
				if n.GetKind() == "Service" && selects(t, n, podLabels) && reaches(n, 8443, "metrics") {
					reaching = append(reaching, n.GetName())
				}
			}
			if len(reaching) != 1 {
				t.Errorf("Services reaching the manager's port 8443: %v, want exactly one", reaching)
			}

			// Bindings name accounts that exist: in an overlay on a prefixed base, a subject left unprefixed
			// would grant nothing (or a later account of that name).
			accounts := map[string]bool{}
			for _, n := range nodes {
				if n.GetKind() == "ServiceAccount" {
					accounts[n.GetNamespace()+"/"+n.GetName()] = true
				}
			}
			for _, n := range nodes {
				if n.GetKind() != "ClusterRoleBinding" && n.GetKind() != "RoleBinding" {
					continue
				}
				subjects, _ := n.Pipe(yaml.Lookup("subjects"))
				for _, sub := range subjects.Content() {
					m, err := yaml.NewRNode(sub).Map()
					if err != nil {
						t.Fatal(err)
					}
					if id := fmt.Sprint(m["namespace"], "/", m["name"]); m["kind"] == "ServiceAccount" && !accounts[id] {
						t.Errorf("%s %s binds ServiceAccount %s, which is not in the output", n.GetKind(), n.GetName(), id)
					}
				}
			}
		})
	}
}

// oldMetricsFlag matches the flags the components replace, in any of their spellings.
var oldMetricsFlag = regexp.MustCompile(`^--?(metrics-bind-addr|metrics-bind-address|metrics-addr|metrics-secure)(=|$)`)

// selects reports whether a Service's selector is non-empty and matches the labels.
func selects(t *testing.T, service *yaml.RNode, labels map[string]any) bool {
	t.Helper()
	selector, err := service.Pipe(yaml.Lookup("spec", "selector"))
	if err != nil || selector == nil {
		return false
	}
	sel, err := selector.Map()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

// reaches reports whether one of a Service's ports targets the container port, by number or by name.
func reaches(service *yaml.RNode, port int, name string) bool {
	ports, err := service.Pipe(yaml.Lookup("spec", "ports"))
	if err != nil || ports == nil {
		return false
	}
	for _, p := range ports.Content() {
		target := yaml.NewRNode(p).Field("targetPort")
		if target == nil {
			target = yaml.NewRNode(p).Field("port")
		}
		if v := yaml.GetValue(target.Value); v == strconv.Itoa(port) || v == name {
			return true
		}
	}
	return false
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

// TestNoWildcards: no rule the components add (or leave) grants a verb, resource or group wildcard. Rules
// on the project's own API group are the project's (kubebuilder scaffolds an admin role with verbs *).
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
					if cmp.Equal(scalars(rule, "apiGroups"), []string{"x.example.com"}) {
						continue
					}
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
	const manager = `apiVersion: apps/v1
kind: Deployment
metadata: {name: controller-manager, namespace: system}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      serviceAccountName: sa
      containers: [{name: manager, image: x}]
`
	const service = `apiVersion: v1
kind: Service
metadata: {name: controller-manager-metrics-service, namespace: system}
spec:
  ports: [{name: https, port: 8443, targetPort: 8443}]
  selector: {app: x}
`
	tests := []struct {
		name      string
		component string
		resources []string
		wantErr   []string
	}{
		{
			name:      "a manager Deployment without a container named manager is refused",
			component: "diagnostics",
			resources: []string{strings.Replace(manager, "name: manager", "name: controller", 1)},
			wantErr:   []string{"unable to find field", "containers.[name=", "manager", "].name"},
		},
		{
			name:      "a tree without a controller-manager Deployment is refused",
			component: "diagnostics",
			resources: []string{strings.Replace(manager, "name: controller-manager", "name: my-operator", 1)},
			wantErr:   []string{"controller-manager"},
		},
		{
			name:      "kubebuilder-v4 on a tree without the scaffold's metrics Service is refused, naming it",
			component: "kubebuilder-v4",
			resources: []string{manager},
			wantErr:   []string{"nothing selected by Service", "controller-manager-metrics-service"},
		},
		{
			name:      "kubebuilder-v4 on a tree without the scaffold's metrics-reader is refused, naming it",
			component: "kubebuilder-v4",
			resources: []string{manager, service},
			wantErr:   []string{"nothing selected by ClusterRole", "metrics-reader"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			rel, err := filepath.Rel(dir, filepath.Join(components, tt.component))
			if err != nil {
				t.Fatal(err)
			}
			var resources []string
			for i, r := range tt.resources {
				name := fmt.Sprintf("r%d.yaml", i)
				if err := os.WriteFile(filepath.Join(dir, name), []byte(r), 0o644); err != nil {
					t.Fatal(err)
				}
				resources = append(resources, name)
			}
			kust := "resources: [" + strings.Join(resources, ", ") + "]\ncomponents: [" + rel + "]\n"
			if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kust), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = Build(dir)
			if err == nil {
				t.Fatalf("built, want an error mentioning %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("got %v, want an error mentioning %q", err, want)
				}
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
	want := []string{"cert-manager", "diagnostics", "diagnostics-manager", "kubebuilder-v4", "node-metrics-proxy",
		"node-metrics-proxy-control-plane-only", "prometheus", "prometheus-pod-monitor", "prometheus-scraper",
		"remove-kube-rbac-proxy"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("embedded components (-want +got):\n%s", diff)
	}
}

// TestCertificateWiring checks that what cert-manager will issue is what the manager mounts and what the
// monitors verify: the Secret name in all three places, and the monitors' serverName among the DNS names of
// the Service the monitor selects (kubebuilder-v4 reuses the scaffold's).
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
			if n.GetLabels()["diagkit.dev/endpoint"] == "diagnostics" {
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

// compareGolden compares got with testdata/golden/<name>, rewriting it with -update.
func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", "golden", name)
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
}
