// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/diagkit/diagkit/e2e/framework"
	"github.com/diagkit/diagkit/generator"
)

// liveShapes are shapes of generator/testdata/shapes whose retrofitted managers run against the API
// server here: the Go the generator writes for them goes beyond the targets'.
var liveShapes = []struct {
	shape, base string
	managers    int // how many managers the plan names (0 when it names none: one manager)
	run         []liveManager
}{
	// The operator, a webhook server with its own flag and Deployment, and an adapter whose metrics
	// server is off, retrofitted in one run.
	{shape: "several-managers", base: "etcdadm-controller", managers: 3, run: []liveManager{
		{pkg: ".", container: "manager", series: reconcileSeries},
		// The webhook server runs no controller: its controller-runtime series have no samples yet.
		{pkg: "./cmd/webhook", container: "webhook"},
	}},
	// The flag's variable passed to the function creating the manager: the options now are, by pointer.
	{shape: "flag-passed-as-parameter", base: "etcdadm-controller", run: []liveManager{{pkg: ".", container: "manager", series: reconcileSeries}}},
	// No Metrics at all: package-level diagnostics options registered before flag.Parse().
	{shape: "no-metrics-options", base: "etcdadm-controller", run: []liveManager{{pkg: ".", container: "manager", series: reconcileSeries}}},
	// Options from a configuration file, whose address applies unless the flag was passed (JobSet's
	// flagsSet["metrics-bind-address"]): the --diagnostics-address passed here wins over the file's :8443.
	{shape: "options-from-config-and-args-patch", base: "kubebuilder-v4", run: []liveManager{{pkg: "./cmd", container: "manager", series: reconcileSeries,
		config: "--config", args: []string{"--health-probe-bind-address=0"}}}},
}

type liveManager struct {
	pkg, container, series string
	config                 string   // a flag naming a configuration file the manager reads: it gets an empty one
	args                   []string // after the rendered args (the last value of a flag wins)
}

// TestShapesLive retrofits each live shape, builds and vets it, checks that a second run is empty, and runs
// each manager with the args and rules config/default renders for its own Deployment: each answers
// 401/403/200 on the diagnostics endpoint, and listens on nothing else (the old metrics flags are gone
// from the rendered args).
func TestShapesLive(t *testing.T) {
	kustomize := requireEnv(t, "KUSTOMIZE")
	generatorDir := filepath.Join("..", "generator")
	for _, s := range liveShapes {
		t.Run(s.shape, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(filepath.Join(generatorDir, "testdata", "targets", s.base))); err != nil {
				t.Fatal(err)
			}
			patch, err := filepath.Abs(filepath.Join(generatorDir, "testdata", "shapes", s.shape+".diff"))
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
			if len(plan.Managers) != s.managers {
				t.Fatalf("the plan names %d managers, want %d: %q", len(plan.Managers), s.managers, plan.Managers)
			}
			// The first build also makes the module build against this checkout's diagnostics module.
			bins := make([]string, len(s.run))
			for i, m := range s.run {
				bins[i] = filepath.Join(dir, "manager-"+filepath.Base(m.pkg)+".bin")
				if i > 0 {
					runIn(t, dir, "go", "build", "-o", bins[i], m.pkg)
				} else if err := framework.BuildRetrofitted(t.Context(), dir, m.pkg, bins[i], plan); err != nil {
					t.Fatal(err)
				}
			}
			runIn(t, dir, "go", "vet", "./...")
			if again, err := generator.RetrofitRepository(dir, nil, generator.Options{}); err != nil || !again.Empty() {
				t.Fatalf("second run: %v, %v", again, err)
			}
			rendered := runIn(t, dir, kustomize, "build", "config/default")
			for i, m := range s.run {
				name := s.shape + "-" + m.container
				t.Run(m.container, func(t *testing.T) {
					args := checkRenderedManager(t, "config/default", rendered, m.container, nil)
					if slices.ContainsFunc(args, func(a string) bool {
						return slices.Contains([]string{"--metrics-addr", "--metrics-bind-address"}, flagName(a))
					}) {
						t.Errorf("%s still passes an old metrics flag: %q", m.container, args)
					}
					run := deployableArgs(args)
					if m.config != "" {
						file := filepath.Join(dir, m.container+"-config.yaml")
						if err := os.WriteFile(file, nil, 0o600); err != nil {
							t.Fatal(err)
						}
						run = append(run, m.config+"="+file)
					}
					checkLive(t, dir, bins[i], name, m.series, boundRules(t, rendered, m.container), append(run, m.args...))
				})
			}
		})
	}
}

// flagName is the --name of an argument --name=value.
func flagName(arg string) string {
	name, _, _ := strings.Cut(arg, "=")
	return name
}
