// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diagkit/diagkit/e2e/framework"
	"github.com/diagkit/diagkit/generator"
)

// TestFreshKubebuilderProject is the most common input in the world, tested for real: a project the real
// kubebuilder scaffolds now (init, create api, its CRD and deepcopy generated), retrofitted, built and vetted;
// config/default renders one address and the review rules; the manager, run with the rendered args and the
// rules its ServiceAccount is bound to, answers 401/403/200 on the real API server with the Widget CRD
// installed.
func TestFreshKubebuilderProject(t *testing.T) {
	kubebuilder := requireEnv(t, "KUBEBUILDER")
	kustomize := requireEnv(t, "KUSTOMIZE")
	controllerGen := filepath.Join(requireEnv(t, "CONTROLLER_GEN_DIR"), "controller-gen")
	ctx := t.Context()

	scaffold := t.TempDir()
	runIn(t, scaffold, kubebuilder, "init", "--domain", "example.com", "--repo", "example.com/widgets", "--skip-go-version-check")
	runIn(t, scaffold, kubebuilder, "create", "api", "--group", "apps", "--version", "v1", "--kind", "Widget",
		"--resource", "--controller", "--make=false")
	// What the scaffold's `make generate manifests` runs, with the controller-gen make tools built (the
	// scaffold's own would be downloaded).
	runIn(t, scaffold, controllerGen, `object:headerFile=hack/boilerplate.go.txt`, "paths=./...")
	runIn(t, scaffold, controllerGen, "rbac:roleName=manager-role", "crd", "webhook", "paths=./...", "output:crd:artifacts:config=config/crd/bases")

	before, err := generator.Detect(scaffold, generator.DetectOptions{})
	if err != nil {
		t.Fatalf("detect on a fresh kubebuilder project: %v", err)
	}
	if !before.Manager.Wrap {
		t.Errorf("the scaffold's metrics options are not wrapped in diagnostics.Apply (%s)", before.Manager.File.Text(before.Manager.Metrics.Value))
	}

	dir := t.TempDir()
	plan, err := framework.RetrofitCopy(scaffold, dir)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "manager.bin")
	if err := framework.BuildRetrofitted(ctx, dir, "./cmd", bin, plan); err != nil {
		t.Fatal(err)
	}
	runIn(t, dir, "go", "vet", "./cmd/...", "./internal/...")

	again, err := generator.Detect(dir, generator.DetectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if second, err := generator.Retrofit(again, generator.Options{}); err != nil || !second.Empty() {
		t.Errorf("a second retrofit plans changes (%v): %v", err, second.Paths())
	}

	rendered := runIn(t, dir, kustomize, "build", "config/default")
	if strings.Count(rendered, "--diagnostics-address=") != 1 || strings.Contains(rendered, "--metrics-bind-address") {
		t.Errorf("config/default renders %d diagnostics addresses (want 1) or still the old flag:\n%s",
			strings.Count(rendered, "--diagnostics-address="), grepLines(rendered, "-address"))
	}
	args := checkRenderedManager(t, "config/default", rendered, again.Container.Name, before.Manager.Registration)

	crd, err := os.ReadFile(filepath.Join(dir, "config", "crd", "bases", "apps.example.com_widgets.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := framework.Decode(crd)
	if err != nil {
		t.Fatal(err)
	}
	if err := controlPlane.Create(ctx, objs); err != nil {
		t.Fatal(err)
	}
	checkLive(t, dir, bin, "kubebuilder-fresh", reconcileSeries, boundRules(t, rendered, again.Container.Name),
		append(deployableArgs(args), "--health-probe-bind-address=0"))

	t.Run("a leftover chart passing the old flags still starts, serving diagnostics", func(t *testing.T) {
		addr, err := framework.FreeAddress()
		if err != nil {
			t.Fatal(err)
		}
		kubeconfig := filepath.Join(dir, "kubeconfig") // written by checkLive for the bound account
		mgr, err := framework.StartProcess(bin, []string{"KUBECONFIG=" + kubeconfig}, addr,
			"--metrics-bind-address="+addr, "--metrics-secure=true", "--health-probe-bind-address=0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = mgr.Stop() })
		resp, err := framework.Call(ctx, framework.Client(tls.VersionTLS12, 0), http.MethodGet, "https://"+addr+"/metrics", "", "")
		if err != nil || resp.Status != http.StatusUnauthorized {
			t.Errorf("anonymous GET /metrics on the old flag's address: %v, status %d; want 401 over HTTPS\n%s", err, resp.Status, tail(mgr.Logs(), 20))
		}
	})
}

// grepLines returns the lines of s containing sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
