// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"crypto/tls"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diagkit/diagkit/e2e/framework"
	"github.com/diagkit/diagkit/generator"
)

// retrofitTargets are the generator's fixtures (generator/testdata/targets) and how to run each
// retrofitted manager.
var retrofitTargets = []struct {
	name    string
	mainPkg string
	args    []string // before the diagnostics flags
	// metric is a series every manager's registry has, proving the body is that manager's /metrics.
	metric string
}{
	{name: "eks-anywhere", mainPkg: "./manager", args: []string{"--health-probe-bind-address=0"}},
	{name: "eks-anywhere-packages", mainPkg: ".", args: []string{"server", "--health-probe-bind-address=0"}},
	{name: "etcdadm-bootstrap-provider", mainPkg: "."},
	{name: "etcdadm-controller", mainPkg: "."},
	{name: "cluster-api-provider-tinkerbell", mainPkg: ".", args: []string{"--health-addr=0"}},
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
			t.Run("kustomize renders the diagnostics args, port and rules", func(t *testing.T) {
				out := runIn(t, dir, kustomize, "build", "config/default")
				for _, want := range []string{"containerPort: 8443", "tokenreviews", "subjectaccessreviews"} {
					if !strings.Contains(out, want) {
						t.Errorf("kustomize build config/default lacks %q", want)
					}
				}
				if len(retrofitted.ProxyPatches) > 0 {
					// A kube-rbac-proxy patch rewrites the manager's args; the plan must say so.
					if !strings.Contains(strings.Join(plan.Warnings, "\n"), "kube-rbac-proxy") {
						t.Errorf("%v override the manager's args, and the plan does not warn: %q", retrofitted.ProxyPatches, plan.Warnings)
					}
					return
				}
				for _, want := range []string{"- --diagnostics-address=", "- --insecure-diagnostics="} {
					if !strings.Contains(out, want) {
						t.Errorf("kustomize build config/default lacks %q", want)
					}
				}
				if strings.Contains(out, "metrics-bind-addr") || strings.Contains(out, "--metrics-addr") {
					t.Error("kustomize build config/default still passes the old metrics bind flag")
				}
			})
			t.Run("the retrofitted manager answers 401/403/200", func(t *testing.T) {
				checkLive(t, dir, bin, target.name, target.args)
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

// checkLive runs the retrofitted binary as a ServiceAccount bound to the ClusterRole of its own
// role.yaml only, and calls the diagnostics endpoint as the three callers.
func checkLive(t *testing.T, dir, bin, name string, args []string) {
	ctx := t.Context()
	cp := controlPlane
	sa := "retrofit-" + name
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := cp.ServiceAccountKubeconfig(ctx, namespace, sa, kubeconfig); err != nil {
		t.Fatal(err)
	}
	rules, err := framework.ClusterRoleRules(filepath.Join(dir, "config", "rbac", "role.yaml"))
	if err != nil {
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
		if c.want == http.StatusOK && !strings.Contains(resp.Body, "controller_runtime_reconcile_total") {
			t.Errorf("reader got no controller-runtime metrics:\n%.400s", resp.Body)
		}
	}
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
