// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/diagkit/diagkit/e2e/framework"
	"github.com/diagkit/diagkit/generator"
)

// TestSeveralManagersLive retrofits a module whose commands create three managers (the
// several-managers shape: the operator, a webhook server with its own flag and Deployment, and an
// adapter whose metrics server is off) in one run, then runs the operator and the webhook server each
// with the args and rules config/default renders for its own Deployment: both answer 401/403/200 on
// the diagnostics endpoint and listen on nothing else.
func TestSeveralManagersLive(t *testing.T) {
	kustomize := requireEnv(t, "KUSTOMIZE")
	dir := t.TempDir()
	generatorDir := filepath.Join("..", "generator")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(generatorDir, "testdata", "targets", "etcdadm-controller"))); err != nil {
		t.Fatal(err)
	}
	patch, err := filepath.Abs(filepath.Join(generatorDir, "testdata", "shapes", "several-managers.diff"))
	if err != nil {
		t.Fatal(err)
	}
	apply := exec.CommandContext(t.Context(), "git", "apply", "-p1", patch)
	apply.Dir, apply.Env = dir, append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("git apply: %v\n%s", err, out)
	}
	plan, err := framework.Retrofit(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Managers) != 3 {
		t.Fatalf("the plan names %d managers, want 3: %q", len(plan.Managers), plan.Managers)
	}
	operator, webhook := filepath.Join(dir, "operator.bin"), filepath.Join(dir, "webhook.bin")
	if err := framework.BuildRetrofitted(t.Context(), dir, ".", operator, plan); err != nil {
		t.Fatal(err)
	}
	runIn(t, dir, "go", "build", "-o", webhook, "./cmd/webhook")
	runIn(t, dir, "go", "vet", "./...")
	if again, err := generator.RetrofitRepository(dir, nil, generator.Options{}); err != nil || !again.Empty() {
		t.Fatalf("second run: %v, %v", again.Paths(), err)
	}

	rendered := runIn(t, dir, kustomize, "build", "config/default")
	for _, m := range []struct {
		name, bin, container, series string
	}{
		{name: "several-operator", bin: operator, container: "manager", series: reconcileSeries},
		// The webhook server runs no controller: its controller-runtime series have no samples yet.
		{name: "several-webhook", bin: webhook, container: "webhook"},
	} {
		t.Run(m.name, func(t *testing.T) {
			args := checkRenderedManager(t, "config/default", rendered, m.container, nil)
			if slices.Contains(args, "--metrics-bind-address=:8080") || slices.Contains(args, "--metrics-addr=localhost:8080") {
				t.Errorf("%s still passes its old metrics flag: %q", m.container, args)
			}
			checkLive(t, dir, m.bin, m.name, m.series, boundRules(t, rendered, m.container), deployableArgs(args))
		})
	}
}
