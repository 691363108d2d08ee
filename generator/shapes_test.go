// SPDX-License-Identifier: Apache-2.0

package generator_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/diagkit/diagkit/generator"
	"github.com/diagkit/diagkit/generator/check"
	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/kustomization"
)

// shapes are the shapes real repositories showed that the target fixtures did not have, each a diff
// (testdata/shapes/<name>.diff) over a target fixture, with what diagkit check may still report after
// the retrofit: findings of things diagkit must leave to a person, never one it could fix.
var shapes = []struct {
	name, base string
	empty      bool // a done repository: the plan must be empty
	remaining  []check.ID
	fixes      []string // what the remaining findings' fixes must say
}{
	// cluster-api-provider-nutanix's manager.yaml: indented sequences, `- args:` as the container's first key.
	{name: "indented-sequences", base: "cluster-api-provider-nutanix"},
	// eks-anywhere: an envtest harness creates a manager too, linked only by a test-runner command.
	{name: "test-harness-manager", base: "etcdadm-controller"},
	// cluster-api-provider-cloudstack: a later test-only RBAC call also writes config/rbac, controller-gen
	// pinned in hack/tools/go.mod.
	{name: "two-rbac-calls-tools-module", base: "cluster-api-provider-cloudstack", remaining: []check.ID{check.RoleClobbered},
		fixes: []string{"so only `make generate-manifests` writes config/rbac/role.yaml"}},
	// eks-anywhere-packages: NOTES.txt, a CRD chart using lookup, another module's chart.
	{name: "helm-notes-and-other-charts", base: "eks-anywhere-packages", remaining: []check.ID{check.RoleStale}},
	// cluster-api-provider-nutanix at HEAD: args in a config/default patch, review rules in a bound proxy-role.
	{name: "done-args-in-patch", base: "cluster-api-provider-nutanix", empty: true},
	// cluster-api-provider-nutanix before #529: TLS options discarded in initializeConfig, the metrics
	// options handed to initializeManager in a struct field.
	{name: "tls-discarded-across-functions", base: "cluster-api-provider-nutanix"},
	// eks-anywhere: a patch only a comment mentions; the bundle built from config/prod by release-manifests.
	// Helpers and late assignments (issue 19): opts.Metrics set after the ctrl.Options literal, from a
	// helper given the flag's variable, with a handler of the manager's own that diagnostics.Apply keeps.
	{name: "options-helper-after-literal", base: "etcdadm-controller"},
	// A cobra command whose RunE closure, at package level, creates the manager (issue 19).
	{name: "cobra-rune-closure", base: "eks-anywhere-packages", remaining: []check.ID{check.RoleStale}},
	// Makefile variables (issue 19): the RBAC pass's arguments in a variable naming another, under a
	// file-named rule reached from the phony target.
	{name: "makefile-variables", base: "cluster-api-provider-tinkerbell"},
	// Helm charts as people write them (issue 19): "- args:" first, a kube-rbac-proxy sidecar.
	{name: "helm-args-first-and-proxy", base: "eks-anywhere-packages", remaining: []check.ID{check.RoleStale}},
	// Several managers (issue 19): the operator, a webhook server with its own flag and Deployment, found
	// by the binary the Makefile builds from its package, and an adapter whose metrics server is off.
	{name: "several-managers", base: "etcdadm-controller"},
	// A second command in a kubebuilder v4 project: the scaffold's metrics patch targets every Deployment,
	// so the webhook server's address comes from the rewritten patch, not from its own manifest.
	{name: "kubebuilder-v4-second-command", base: "kubebuilder-v4"},
	// The kubebuilder v4.16 scaffold with its webhook and cert-manager sections enabled (issue 19): the
	// metrics certificate comes from cert-manager through --metrics-cert-path, which keeps working.
	{name: "kubebuilder-v4-cert-manager", base: "kubebuilder-v4"},
	// The flag's variable passed as a parameter (grouped with another string) to the function creating
	// the manager, as Flux's controllers and CloudNativePG do; a log line reads it in the caller.
	{name: "flag-passed-as-parameter", base: "etcdadm-controller"},
	// Options a function returns (JobSet's and Kueue's apply(configFile)), completed by options.Metrics = …,
	// and a config/default patch that replaces the manager's args (JobSet's manager_config_patch.yaml).
	{name: "options-from-config-and-args-patch", base: "kubebuilder-v4"},
	// Options without Metrics (controller-runtime's default: plain HTTP on :8080), as Kueue's experimental
	// commands have: diagnostics options at package level, registered before flag.Parse().
	{name: "no-metrics-options", base: "etcdadm-controller"},
	{name: "commented-patch-and-release-overlay", base: "eks-anywhere", remaining: []check.ID{check.BundleOutOfStep},
		fixes: []string{"run `make release-manifests` (Makefile:42 builds it from config/prod)"}},
}

// shapeFixture copies the base fixture and applies the shape's diff.
func shapeFixture(t *testing.T, base, name string) string {
	t.Helper()
	dir := copyFixture(t, base)
	applyDiff(t, dir, filepath.Join("testdata", "shapes", name+".diff"))
	return dir
}

// applyDiff applies a diff (a path relative to this package) to dir with git apply.
func applyDiff(t *testing.T, dir, diff string) {
	t.Helper()
	patch, err := filepath.Abs(diff)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "apply", "-p1", patch)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git apply %s: %v\n%s", diff, err, out)
	}
}

func TestRealWorldShapes(t *testing.T) {
	for _, tt := range shapes {
		t.Run(tt.name, func(t *testing.T) {
			dir := shapeFixture(t, tt.base, tt.name)
			p := plan(t, dir)
			if tt.empty {
				if !p.Empty() {
					t.Fatalf("a done repository gets a plan:\n%s", diffOf(t, p))
				}
			} else {
				compareGolden(t, "shape-"+tt.name, diffOf(t, p))
			}
			findings := assertRetrofitProperties(t, dir, p, tt.remaining)
			var b strings.Builder
			check.WriteText(&b, findings)
			for _, want := range tt.fixes {
				if !strings.Contains(b.String(), want) {
					t.Errorf("diagkit check does not say %q:\n%s", want, b.String())
				}
			}
		})
	}
}

// TestRetrofitPropertiesOnTargets holds every target fixture to the same properties as the shapes.
func TestRetrofitPropertiesOnTargets(t *testing.T) {
	remaining := map[string][]check.ID{
		"eks-anywhere":          {check.BundleOutOfStep},
		"eks-anywhere-packages": {check.RoleStale},
	}
	for _, name := range retrofittable {
		t.Run(name, func(t *testing.T) {
			dir := copyFixture(t, name)
			assertRetrofitProperties(t, dir, plan(t, dir), remaining[name])
		})
	}
}

// assertRetrofitProperties applies p to dir and checks what a retrofit must always leave: every YAML file
// written parses, every kustomization that rendered before renders after, a second run plans nothing, and
// diagkit check finds nothing but remaining.
func assertRetrofitProperties(t *testing.T, dir string, p *generator.Plan, remaining []check.ID) []check.Finding {
	t.Helper()
	tree, err := kustomization.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	rendered := map[string]bool{}
	for _, d := range tree.Dirs {
		_, err := tree.Render(d, nil)
		rendered[d] = err == nil
	}
	if err := generator.Apply(p); err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Changes {
		if !strings.HasSuffix(c.Path, ".yaml") || strings.Contains(c.Path, "/templates/") {
			continue
		}
		dec := yamlv3.NewDecoder(bytes.NewReader(c.After))
		for {
			var n yamlv3.Node
			if err := dec.Decode(&n); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Errorf("%s no longer parses: %v", c.Path, err)
				break
			}
		}
	}
	for _, d := range tree.Dirs {
		if _, err := tree.Render(d, nil); rendered[d] && err != nil {
			t.Errorf("kustomize build %s rendered before the retrofit, not after: %v", d, err)
		}
	}
	if second := plan(t, dir); !second.Empty() {
		t.Errorf("second run plans changes:\n%s", diffOf(t, second))
	}
	findings, err := check.Run(dir, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []check.ID
	for _, f := range findings {
		ids = append(ids, f.ID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	want := slices.Clone(remaining)
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		var b strings.Builder
		check.WriteText(&b, findings)
		t.Errorf("diagkit check after the retrofit: %v, want %v\n%s", ids, want, b.String())
	}
	return findings
}

// TestVerifyRefusesAPlanThatBreaksARender: an overlay pins the manager's image by its index in the
// containers list, behind the kube-rbac-proxy the retrofit removes. The planned files would no longer
// render, so retrofit names the kustomization and writes nothing.
func TestVerifyRefusesAPlanThatBreaksARender(t *testing.T) {
	dir := shapeFixture(t, "cluster-api-provider-nutanix", "json-patch-by-index")
	before := snapshotTree(t, dir)
	target, err := generator.Detect(dir, generator.DetectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = generator.Retrofit(target, generator.Options{})
	if !errors.Is(err, generator.ErrVerify) {
		t.Fatalf("Retrofit: got %v, want ErrVerify", err)
	}
	if !strings.Contains(err.Error(), "config/overlays/pinned/kustomization.yaml") {
		t.Errorf("the error does not name the kustomization that breaks: %v", err)
	}
	if after := snapshotTree(t, dir); !maps.Equal(before, after) {
		t.Error("files changed although the plan was refused")
	}
}

func snapshotTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		files[p] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestShapeDetection: what Detect must find in the shapes that fooled it on real repositories.
func TestShapeDetection(t *testing.T) {
	tests := []struct {
		shape, base                 string
		main, controllerGen, rbacAt string
	}{
		{shape: "test-harness-manager", base: "etcdadm-controller", main: "main.go", controllerGen: "v0.11.4", rbacAt: "manifests"},
		{shape: "two-rbac-calls-tools-module", base: "cluster-api-provider-cloudstack", main: "main.go", controllerGen: "v0.16.5", rbacAt: "config/.flag.mk"},
	}
	for _, tt := range tests {
		t.Run(tt.shape, func(t *testing.T) {
			target, err := generator.Detect(shapeFixture(t, tt.base, tt.shape), generator.DetectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if target.Manager.File.Path != tt.main || target.ControllerGenVersion != tt.controllerGen || target.RBAC == nil || target.RBAC.Target != tt.rbacAt {
				t.Errorf("detected manager %s, controller-gen %q, rbac %+v; want %s, %s, %s", target.Manager.File.Path, target.ControllerGenVersion, target.RBAC, tt.main, tt.controllerGen, tt.rbacAt)
			}
		})
	}
}

// TestRefusedShapes: shapes diagkit does not retrofit on purpose are refused (exit 3) with what to do by
// hand, write nothing, and leave check reporting that it could not analyse the manager — never a clean
// bill.
func TestRefusedShapes(t *testing.T) {
	tests := []struct {
		name, base string
		says       []string // what the refusal must say
	}{
		// The bind address in the project's own configuration type, decoded from a --config file, with
		// its default in code (issue 19, shape 4).
		{name: "config-file", base: "etcdadm-controller", says: []string{"main.go:92:", "cfg.Metrics.BindAddress, which no flag sets",
			"diagnosticsOptions.Apply", "drop the metrics address from the configuration type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := shapeFixture(t, tt.base, tt.name)
			before := snapshotTree(t, dir)
			_, err := generator.RetrofitRepository(dir, nil, generator.Options{})
			if !errors.Is(err, edit.ErrRefused) {
				t.Fatalf("got %v, want a refusal (exit 3)", err)
			}
			for _, want := range tt.says {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the refusal does not say %q: %v", want, err)
				}
			}
			if after := snapshotTree(t, dir); !maps.Equal(before, after) {
				t.Error("files changed although the repository was refused")
			}
			findings, err := check.Run(dir, check.Options{})
			if err != nil {
				t.Fatal(err)
			}
			at := strings.TrimSuffix(tt.says[0], ":")
			if !slices.ContainsFunc(findings, func(f check.Finding) bool {
				return f.ID == check.MetricsNotAnalysed && fmt.Sprintf("%s:%d", f.File, f.Line) == at
			}) {
				t.Errorf("check does not say, at %s, that it could not analyse the manager: %+v", at, findings)
			}
		})
	}
}
