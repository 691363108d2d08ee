// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"crypto/tls"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/diagkit/diagkit/e2e/framework"
	"github.com/diagkit/diagkit/generator"
	"github.com/diagkit/diagkit/generator/gosource"
	"github.com/diagkit/diagkit/generator/helmchart"
	"github.com/diagkit/diagkit/generator/kustomization"
	"github.com/diagkit/diagkit/generator/manifest"
)

// reconcileSeries is a series every manager with a controller serves.
const reconcileSeries = "controller_runtime_reconcile_total"

// retrofitTargets are the generator's fixtures (generator/testdata/targets) and how to run each
// retrofitted manager.
var retrofitTargets = []struct {
	name    string
	mainPkg string
	// subcommand comes before the rendered Deployment's args, args after them (overriding listeners the
	// test cannot bind, such as health probes on fixed ports).
	subcommand []string
	args       []string
	// metric is a series every manager's registry has, proving the body is that manager's /metrics.
	metric string
}{
	{name: "eks-anywhere", mainPkg: "./manager", args: []string{"--health-probe-bind-address=0"}},
	// Its kustomize config predates the server subcommand the binary needs (targets.md §2).
	{name: "eks-anywhere-packages", mainPkg: ".", subcommand: []string{"server"}, args: []string{"--health-probe-bind-address=0"}},
	{name: "etcdadm-bootstrap-provider", mainPkg: "."},
	{name: "etcdadm-controller", mainPkg: "."},
	{name: "cluster-api-provider-tinkerbell", mainPkg: ".", args: []string{"--health-addr=0"}},
	{name: "cluster-api-provider-cloudstack", mainPkg: ".", args: []string{"--health-probe-bind-address=0"}},
	{name: "cluster-api-provider-nutanix", mainPkg: ".", args: []string{"--health-probe-bind-address=0"}},
	{name: "kubebuilder-v4", mainPkg: "./cmd", args: []string{"--health-probe-bind-address=0"}},
}

// TestRetrofittedTargets retrofits each fixture, then proves the result the way its maintainer would:
// it builds and vets, controller-gen of the repository's own version writes the same role.yaml,
// kustomize renders the new arguments, port and rules, and the binary, run with nothing but the
// ClusterRole from its patched role.yaml, answers 401/403/200 on the diagnostics endpoint.
func TestRetrofittedTargets(t *testing.T) {
	kustomize := requireEnv(t, "KUSTOMIZE")
	controllerGens := requireEnv(t, "CONTROLLER_GEN_DIR")
	for _, target := range retrofitTargets {
		t.Run(target.name, func(t *testing.T) {
			dir := t.TempDir()
			plan, err := framework.RetrofitCopy(filepath.Join("..", "generator", "testdata", "targets", target.name), dir)
			if err != nil {
				t.Fatal(err)
			}
			bin := filepath.Join(dir, "manager.bin")
			if err := framework.BuildRetrofitted(t.Context(), dir, target.mainPkg, bin, plan); err != nil {
				t.Fatal(err)
			}
			runIn(t, dir, "go", "vet", "./...")

			retrofitted, err := generator.Detect(dir, generator.DetectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Run("controller-gen writes the same role.yaml", func(t *testing.T) {
				checkRoleOracle(t, dir, controllerGens, retrofitted, plan)
			})
			var managerArgs []string
			t.Run("kustomize renders the diagnostics args, port and rules, and no kube-rbac-proxy", func(t *testing.T) {
				// config/default, and every overlay that added a kube-rbac-proxy sidecar.
				builds := []string{"config/default"}
				for _, patch := range retrofitted.ProxyPatches {
					if d := filepath.Dir(patch); !slices.Contains(builds, d) {
						builds = append(builds, d)
					}
				}
				for _, build := range builds {
					out := runIn(t, dir, kustomize, "build", build)
					for _, want := range []string{"tokenreviews", "subjectaccessreviews"} {
						if !strings.Contains(out, want) {
							t.Errorf("kustomize build %s lacks %q", build, want)
						}
					}
					args := checkRenderedManager(t, build, out, retrofitted.Container.Name, retrofitted.Manager.Registration)
					if build == "config/default" {
						managerArgs = args
					}
				}
			})
			charts, err := helmchart.Find(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, chartDir := range charts {
				t.Run("helm template "+chartDir+" renders the diagnostics args, port and rules; the manager runs with them", func(t *testing.T) {
					chart, err := helmchart.Load(dir, chartDir)
					if err != nil {
						t.Fatal(err)
					}
					rendered, err := chart.Render()
					if err != nil {
						t.Fatal(err)
					}
					var docs []string
					for _, doc := range rendered {
						docs = append(docs, doc)
					}
					out := strings.Join(docs, "\n---\n")
					container := chartManager(t, out)
					args := checkRenderedManager(t, "helm template "+chartDir, out, container, retrofitted.Manager.Registration)
					if !strings.Contains(out, "tokenreviews") || !strings.Contains(out, "subjectaccessreviews") {
						t.Errorf("helm template %s grants no reviews", chartDir)
					}
					checkLive(t, dir, bin, target.name+"-chart", reconcileSeries, boundRules(t, out, container), append(deployableArgs(args), target.args...))
				})
			}
			t.Run("the retrofitted manager answers 401/403/200", func(t *testing.T) {
				rendered := runIn(t, dir, kustomize, "build", "config/default")
				checkLive(t, dir, bin, target.name, reconcileSeries, boundRules(t, rendered, retrofitted.Container.Name),
					append(append(slices.Clone(target.subcommand), deployableArgs(managerArgs)...), target.args...))
			})
		})
	}
}

// checkRoleOracle runs the controller-gen version the repository pins over the paths its Makefile
// now scans, and compares with the role.yaml the generator wrote.
func checkRoleOracle(t *testing.T, dir, controllerGens string, target *generator.Target, plan *generator.Plan) {
	bin := filepath.Join(controllerGens, "controller-gen-"+target.ControllerGenVersion)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no controller-gen %s built (make controller-gens): %v", target.ControllerGenVersion, err)
	}
	stale := false
	for _, w := range plan.Warnings {
		stale = stale || strings.Contains(w, "is stale")
	}
	if stale && !slices.Contains(plan.Paths(), target.RolePath) {
		// The reviews come from another role bound to the manager's account (eks-anywhere-packages'
		// proxy-role): diagkit added nothing to the stale role, so there is nothing of its to compare.
		return
	}
	out := t.TempDir()
	args := []string{"rbac:roleName=" + target.RoleName, "output:rbac:dir=" + out}
	if stale {
		// A stale role.yaml keeps its rules; the oracle is then that the rules diagkit added read
		// exactly as controller-gen writes them from diagkit's markers alone.
		args = append(args, "paths=./"+target.MainPackage.Dir)
	} else {
		for _, p := range target.RBAC.Paths {
			args = append(args, "paths=./"+strings.TrimPrefix(p, "./"))
		}
	}
	runIn(t, dir, bin, args...)
	want, err := os.ReadFile(filepath.Join(out, "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, target.RolePath))
	if err != nil {
		t.Fatal(err)
	}
	if stale {
		rules := string(want[strings.Index(string(want), "rules:\n")+len("rules:\n"):])
		if !strings.Contains(string(got), rules) {
			t.Errorf("the added rules differ from controller-gen %s's:\n%s\nin:\n%s", target.ControllerGenVersion, rules, got)
		}
		return
	}
	if string(got) != string(want) {
		t.Errorf("role.yaml differs from controller-gen %s's output\n--- generator\n%s\n--- controller-gen\n%s", target.ControllerGenVersion, got, want)
	}
}

// checkLive runs the retrofitted binary as a ServiceAccount granted exactly the rules its rendered
// deployment binds to the manager's account (the generated role, and a kube-rbac-proxy era proxy-role
// where the repository keeps one), and calls the diagnostics endpoint as the three callers; the reader
// must get series, a series of that manager's registry ("" for a manager with no controller, whose
// controller-runtime series have no samples).
func checkLive(t *testing.T, dir, bin, name, series string, rules []framework.Rule, args []string) {
	ctx := t.Context()
	cp := controlPlane
	sa := "retrofit-" + name
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := cp.ServiceAccountKubeconfig(ctx, namespace, sa, kubeconfig); err != nil {
		t.Fatal(err)
	}
	if err := cp.Grant(ctx, namespace, sa, "diagkit-e2e-"+sa, rules...); err != nil {
		t.Fatal(err)
	}
	addr, err := framework.FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := framework.StartProcess(bin, []string{"KUBECONFIG=" + kubeconfig}, addr,
		append(append([]string(nil), args...), "--diagnostics-address="+addr)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = mgr.Stop()
		if t.Failed() {
			t.Logf("last lines of %s's log:\n%s", name, tail(mgr.Logs(), 40))
		}
	})
	reader := caller(t, cp, "retrofit-reader", framework.MetricsReaderRule)
	unprivileged := caller(t, cp, "retrofit-unprivileged")
	client := framework.Client(tls.VersionTLS12, 0)
	for _, c := range []struct {
		who, token string
		want       int
	}{{"anonymous", "", http.StatusUnauthorized}, {"unprivileged", unprivileged, http.StatusForbidden}, {"reader", reader, http.StatusOK}} {
		resp, err := framework.Call(ctx, client, http.MethodGet, "https://"+addr+"/metrics", c.token, "")
		if err != nil {
			t.Fatalf("%s: %v", c.who, err)
		}
		if resp.Status != c.want {
			t.Errorf("%s caller: got %d, want %d", c.who, resp.Status, c.want)
		}
		if c.want == http.StatusOK && !strings.Contains(resp.Body, series) {
			t.Errorf("reader got no %s:\n%.400s", series, resp.Body)
		}
	}
	// The old plain-HTTP metrics listener is gone: the diagnostics endpoint is the process's only one.
	listening, err := mgr.Listening()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(listening, []string{addr}) {
		t.Errorf("%s listens on %v, want only the diagnostics endpoint %s", name, listening, addr)
	}
}

// boundRules returns the rules a rendered tree binds to the account of the Deployment running container.
func boundRules(t *testing.T, rendered, container string) []framework.Rule {
	t.Helper()
	containers, err := manifest.FindAll("rendered", []byte(rendered))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range containers {
		if c.Name != container {
			continue
		}
		d, err := kustomization.FindDeployed([]byte(rendered), c.Deployment, container)
		if err != nil || d == nil {
			t.Fatalf("the rendered Deployment %s: %v", c.Deployment, err)
		}
		var rules []framework.Rule
		for _, name := range slices.Sorted(maps.Keys(d.Rules)) {
			for _, r := range d.Rules[name] {
				rules = append(rules, framework.Rule{APIGroups: r.APIGroups, Resources: r.Resources, ResourceNames: r.ResourceNames,
					NonResourceURLs: r.NonResourceURLs, Verbs: r.Verbs})
			}
		}
		return rules
	}
	t.Fatalf("no container %s rendered", container)
	return nil
}

// checkRenderedManager checks the manager's Deployment in a kustomize build: no kube-rbac-proxy, the
// diagnostics args (and not the old metrics flag), container port 8443, and every Service selecting the
// manager's pods reaching a port the manager has. It returns the manager's args.
func checkRenderedManager(t *testing.T, build, out, container string, old *gosource.Registration) []string {
	t.Helper()
	objs, err := framework.Decode([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	var manager *corev1.Container
	var pod map[string]string
	var services []corev1.Service
	for _, o := range objs {
		b, _ := yaml.Marshal(o.Object)
		switch o.GetKind() {
		case "Deployment":
			var d appsv1.Deployment
			if err := yaml.Unmarshal(b, &d); err != nil {
				t.Fatal(err)
			}
			for i, c := range d.Spec.Template.Spec.Containers {
				if strings.Contains(c.Name, "kube-rbac-proxy") || strings.Contains(c.Image, "kube-rbac-proxy") {
					t.Errorf("%s: Deployment %s still runs %s", build, d.Name, c.Name)
				}
				if c.Name == container {
					manager, pod = &d.Spec.Template.Spec.Containers[i], d.Spec.Template.Labels
				}
			}
		case "Service":
			var svc corev1.Service
			if err := yaml.Unmarshal(b, &svc); err != nil {
				t.Fatal(err)
			}
			services = append(services, svc)
		}
	}
	if manager == nil {
		t.Fatalf("%s: no container %s", build, container)
	}
	args := strings.Join(manager.Args, " ")
	for _, want := range []string{"--diagnostics-address=", "--insecure-diagnostics="} {
		if !strings.Contains(args, want) {
			t.Errorf("%s: manager args %q lack %s", build, args, want)
		}
	}
	if strings.Contains(args, "--insecure-diagnostics=true") || regexp.MustCompile(`--insecure-diagnostics(\s|$)`).MatchString(args) {
		t.Errorf("%s: manager args %q serve insecurely", build, args)
	}
	if old != nil && strings.Contains(args, "--"+old.FlagName+"=") {
		t.Errorf("%s: manager args %q still pass --%s", build, args, old.FlagName)
	}
	has8443 := false
	for _, p := range manager.Ports {
		has8443 = has8443 || p.ContainerPort == 8443
	}
	if !has8443 {
		t.Errorf("%s: manager declares no container port 8443: %+v", build, manager.Ports)
	}
	for _, svc := range services {
		selects := len(svc.Spec.Selector) > 0
		for k, v := range svc.Spec.Selector {
			selects = selects && pod[k] == v
		}
		if !selects {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			// A numeric targetPort reaches the pod whether or not the container declares it (webhook
			// Services do that); a named one needs a port of that name.
			if sp.TargetPort.Type == intstr.String && !slices.ContainsFunc(manager.Ports, func(p corev1.ContainerPort) bool { return sp.TargetPort.StrVal == p.Name }) {
				t.Errorf("%s: Service %s port %s targets %s, which the manager does not have (%+v)", build, svc.Name, sp.Name, sp.TargetPort.String(), manager.Ports)
			}
		}
	}
	return manager.Args
}

// chartManager is the name of the rendered container that passes --diagnostics-address.
func chartManager(t *testing.T, out string) string {
	t.Helper()
	containers, err := manifest.FindAll("chart", []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range containers {
		if _, _, ok := c.Arg(manifest.AddressFlag, true); ok {
			return c.Name
		}
	}
	t.Fatal("no rendered container passes --diagnostics-address")
	return ""
}

// deployableArgs are the Deployment's args as a test can run them: clusterctl ${VAR:=default} resolved
// to the default, and no leader election (it needs the in-cluster namespace).
func deployableArgs(args []string) []string {
	variable := regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*:?=([^}]*)\}`)
	var out []string
	for _, a := range args {
		if strings.Contains(a, "leader-elect") {
			continue
		}
		out = append(out, variable.ReplaceAllString(a, "$1"))
	}
	return out
}

func requireEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run through make test, or eval \"$(make -s print-test-env)\"", name)
	}
	return v
}

// runIn runs a command in dir and returns its output, failing the test on error.
func runIn(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Dir = dir
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}
