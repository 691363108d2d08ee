// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/diagkit/diagkit/e2e/framework"
	"github.com/diagkit/diagkit/generator"
	diagcheck "github.com/diagkit/diagkit/generator/check" // this package has a func check
	"github.com/diagkit/diagkit/generator/gosource"
)

// TestCheckAgreesWithControllerGen regenerates role.yaml with the controller-gen version each repository
// pins, over the paths its Makefile scans, and runs diagkit check before and after: after, role-stale
// must be gone (check models what controller-gen writes), and what check predicted regeneration would
// lose must be lost (markers controller-gen ignores or does not scan grant nothing).
func TestCheckAgreesWithControllerGen(t *testing.T) {
	controllerGens := requireEnv(t, "CONTROLLER_GEN_DIR")
	tests := []struct {
		name, base, defect string // defect: generator/check/testdata/defects/<defect>.diff
		after              []diagcheck.ID
	}{
		{name: "retrofitted cluster-api-provider-tinkerbell", base: "cluster-api-provider-tinkerbell"},
		{name: "retrofitted cluster-api-provider-cloudstack", base: "cluster-api-provider-cloudstack"},
		{name: "retrofitted cluster-api-provider-nutanix", base: "cluster-api-provider-nutanix"},
		{name: "cluster-api-provider-vsphere as upstream did it", base: "cluster-api-provider-vsphere"},
		{name: "retrofitted eks-anywhere", base: "eks-anywhere", after: []diagcheck.ID{diagcheck.BundleOutOfStep, diagcheck.BundleOutOfStep}},
		// The reviews come from the proxy-role bound to the manager's account, so the retrofit adds no markers
		// and `make manifests` still scans only api/v1alpha1, which has none: controller-gen writes no role,
		// and the committed one stays as stale as upstream's.
		{name: "retrofitted eks-anywhere-packages", base: "eks-anywhere-packages", after: []diagcheck.ID{diagcheck.RoleStale}},
		{name: "retrofitted etcdadm-bootstrap-provider", base: "etcdadm-bootstrap-provider"},
		{name: "retrofitted etcdadm-controller", base: "etcdadm-controller"},
		{name: "a stale role", base: "etcdadm-controller", defect: "role-stale"},
		{name: "markers in func main's godoc lose the review rules", base: "etcdadm-controller", defect: "markers-in-godoc",
			after: []diagcheck.ID{diagcheck.RoleMissingReviewRules, diagcheck.MarkersInGodoc}},
		{name: "markers in an unscanned package lose the review rules", base: "etcdadm-controller", defect: "rbac-paths-miss-markers",
			after: []diagcheck.ID{diagcheck.RBACPathsMissMarkers, diagcheck.RoleMissingReviewRules}},
		{name: "no markers and no rules", base: "etcdadm-controller", defect: "role-missing-review-rules",
			after: []diagcheck.ID{diagcheck.RoleMissingReviewRules}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			plan, err := framework.RetrofitCopy(filepath.Join("..", "generator", "testdata", "targets", tt.base), dir)
			if err != nil {
				t.Fatal(err)
			}
			// controller-gen loads the packages, so the module must resolve as it does for a build.
			if plan.Backend == string(gosource.Diagkit) {
				runIn(t, dir, "go", "mod", "edit", "-replace", gosource.DiagnosticsImport+"="+filepath.Join(framework.RepoRoot(), "diagnostics"))
			}
			runIn(t, dir, "go", "mod", "tidy")
			if tt.defect != "" {
				patch, err := filepath.Abs(filepath.Join("..", "generator", "check", "testdata", "defects", tt.defect+".diff"))
				if err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command("git", "apply", "-p1", patch)
				cmd.Dir, cmd.Env = dir, append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("git apply: %v\n%s", err, out)
				}
			}
			target, err := generator.Detect(dir, generator.DetectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			bin := filepath.Join(controllerGens, "controller-gen-"+target.ControllerGenVersion)
			args := []string{"rbac:roleName=" + target.RoleName, "output:rbac:dir=" + filepath.Join(dir, target.RBAC.OutputDir)}
			for _, p := range target.RBAC.Paths {
				args = append(args, "paths=./"+strings.TrimPrefix(p, "./"))
			}
			runIn(t, dir, bin, args...)

			findings, err := diagcheck.Run(dir, diagcheck.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []diagcheck.ID
			for _, f := range findings {
				got = append(got, f.ID)
			}
			if slices.Contains(got, diagcheck.RoleStale) && !slices.Contains(tt.after, diagcheck.RoleStale) {
				t.Errorf("check calls the role controller-gen %s just wrote stale: %+v", target.ControllerGenVersion, findings)
			}
			if d := cmp.Diff(tt.after, got); d != "" {
				t.Errorf("findings after regeneration (-want +got):\n%s", d)
			}
		})
	}
}
