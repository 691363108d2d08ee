// SPDX-License-Identifier: Apache-2.0

package generator_test

import (
	"bytes"
	"errors"
	"flag"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pmezard/go-difflib/difflib"

	"github.com/diagkit/diagkit/generator"
	"github.com/diagkit/diagkit/generator/check"
	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/gosource"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current plans")

// retrofittable are the fixtures of testdata/targets the generator must patch (see its README).
var retrofittable = []string{
	"cluster-api-provider-cloudstack",
	"cluster-api-provider-nutanix",
	"cluster-api-provider-tinkerbell",
	"eks-anywhere",
	"eks-anywhere-packages",
	"etcdadm-bootstrap-provider",
	"etcdadm-controller",
	"kubebuilder-v4",
}

func fixture(name string) string { return filepath.Join("testdata", "targets", name) }

// copyFixture copies a fixture into a temporary directory the test may change.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(fixture(name))); err != nil {
		t.Fatal(err)
	}
	return dst
}

// plan is what diagkit retrofit plans for dir: every manager of the repository.
func plan(t *testing.T, dir string) *generator.Plan {
	t.Helper()
	p, err := generator.RetrofitRepository(dir, nil, generator.Options{})
	if err != nil {
		t.Fatalf("retrofit: %v", err)
	}
	return p
}

func diffOf(t *testing.T, p *generator.Plan) string {
	t.Helper()
	var b bytes.Buffer
	if err := p.Diff(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// compareGolden compares a plan's diff with testdata/golden/<name>.diff, rewriting it with -update.
func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	golden := filepath.Join("testdata", "golden", name+".diff")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./generator -update)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("plan differs from %s (-want +got):\n%s", golden, d)
	}
}

func TestRetrofitFixtures(t *testing.T) {
	for _, name := range retrofittable {
		t.Run(name, func(t *testing.T) {
			p := plan(t, fixture(name))
			got := diffOf(t, p)

			t.Run("the plan is the reviewed golden diff", func(t *testing.T) {
				compareGolden(t, name, got)
			})

			t.Run("planning is deterministic", func(t *testing.T) {
				for range 5 {
					if again := diffOf(t, plan(t, fixture(name))); again != got {
						t.Fatal("two plans of the same repository differ")
					}
				}
			})

			t.Run("lines outside the edits are untouched", func(t *testing.T) {
				for _, c := range p.Changes {
					for _, line := range removedLines(c) {
						if !insideEdits(c, line) {
							t.Errorf("%s:%d changed outside every edit: %q", c.Path, line.number, line.text)
						}
					}
				}
			})

			t.Run("git apply accepts the diff", func(t *testing.T) {
				dir := copyFixture(t, name)
				cmd := exec.Command("git", "apply", "-p1", "--check", "-")
				cmd.Dir, cmd.Stdin = dir, strings.NewReader(got)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("git apply --check: %v\n%s", err, out)
				}
			})

			t.Run("a second run changes nothing", func(t *testing.T) {
				dir := copyFixture(t, name)
				first := plan(t, dir)
				if err := generator.Apply(first); err != nil {
					t.Fatal(err)
				}
				for _, c := range first.Changes {
					written, err := os.ReadFile(filepath.Join(dir, c.Path))
					if err != nil || !bytes.Equal(written, c.After) {
						t.Fatalf("%s: not written as planned (%v)", c.Path, err)
					}
				}
				if second := plan(t, dir); !second.Empty() {
					t.Fatalf("second run plans changes:\n%s", diffOf(t, second))
				}
			})
		})
	}
}

func TestRefusesControllerRuntimeWithoutMetricsOptions(t *testing.T) {
	_, err := generator.Detect(fixture("controller-runtime-v0.15"), generator.DetectOptions{})
	if !errors.Is(err, edit.ErrRefused) {
		t.Fatalf("got %v, want a refusal", err)
	}
	for _, want := range []string{"v0.15.3", "v0.16.0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not name %s", err, want)
		}
	}
}

func TestApplyWritesNothingWhenAFileChangedSincePlanning(t *testing.T) {
	dir := copyFixture(t, "etcdadm-controller")
	p := plan(t, dir)
	if len(p.Changes) < 2 {
		t.Fatalf("want a plan over several files, got %v", p.Paths())
	}
	last := filepath.Join(dir, p.Changes[len(p.Changes)-1].Path)
	if err := os.WriteFile(last, []byte("edited meanwhile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := generator.Apply(p); !errors.Is(err, generator.ErrChangedSincePlanning) {
		t.Fatalf("Apply: got %v, want ErrChangedSincePlanning", err)
	}
	for _, c := range p.Changes[:len(p.Changes)-1] {
		now, _ := os.ReadFile(filepath.Join(dir, c.Path))
		if !bytes.Equal(now, c.Before) {
			t.Errorf("%s was written although the plan was aborted", c.Path)
		}
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "*", ".*diagkit-*"))
	if len(entries) > 0 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestStaleRoleIsReportedNotRewritten(t *testing.T) {
	p := plan(t, fixture("eks-anywhere-packages"))
	var stale string
	for _, w := range p.Warnings {
		if strings.Contains(w, "config/rbac/role.yaml is stale") {
			stale = w
		}
	}
	if stale == "" {
		t.Fatalf("no stale-role warning in %q", p.Warnings)
	}
	for _, c := range p.Changes {
		if c.Path != "config/rbac/role.yaml" {
			continue
		}
		for _, line := range removedLines(c) {
			t.Errorf("stale role.yaml lost a line: %q", line.text)
		}
	}
}

type numberedLine struct {
	number int
	offset int
	text   string
}

// removedLines returns the lines of Before that are not in After, ignoring whitespace (gofmt may
// realign a neighbour of an edit).
func removedLines(c generator.FileChange) []numberedLine {
	norm := func(b []byte) []string {
		lines := strings.SplitAfter(string(b), "\n")
		out := make([]string, len(lines))
		for i, l := range lines {
			out[i] = strings.Join(strings.Fields(l), " ")
		}
		return out
	}
	before, after := norm(c.Before), norm(c.After)
	raw := strings.SplitAfter(string(c.Before), "\n")
	offsets := make([]int, len(raw))
	for i := 1; i < len(raw); i++ {
		offsets[i] = offsets[i-1] + len(raw[i-1])
	}
	var removed []numberedLine
	for _, op := range difflib.NewMatcher(before, after).GetOpCodes() {
		if op.Tag != 'd' && op.Tag != 'r' {
			continue
		}
		// A pure deletion is ambiguous when the lines after it repeat its first lines (deleting "}, blank,
		// if {, x" or "if {, x, }, blank" from "}, blank, if {, x, }, blank" reads the same): slide it down
		// while the line it would take instead is one the edits removed, rather than keep the copy difflib picked.
		a, b := op.I1, op.I2
		if op.Tag == 'd' {
			for b < len(before) && before[a] == before[b] && insideEdits(c, numberedLine{offset: offsets[b], text: raw[b]}) {
				a, b = a+1, b+1
			}
		}
		for i := a; i < b; i++ {
			removed = append(removed, numberedLine{number: i + 1, offset: offsets[i], text: raw[i]})
		}
	}
	return removed
}

func insideEdits(c generator.FileChange, l numberedLine) bool {
	end := l.offset + len(l.text)
	for _, e := range c.Edited {
		if e[0] < end && e[1] > l.offset {
			return true
		}
	}
	return false
}

// TestHalfDoneRepositories retrofits repositories that are partly done already — a retrofitted fixture with
// one piece undone by a diff (generator/check's defect fixtures, and testdata/halfdone) — and checks that the
// generator completes exactly what is missing: the reviewed golden diff, a second run changes nothing, and
// diagkit check then finds nothing but what the generator leaves to a person.
func TestHalfDoneRepositories(t *testing.T) {
	tests := []struct {
		base, diff string // diff: relative to testdata/ of this package
		golden     string // testdata/golden/halfdone-<golden>.diff; empty: the plan must be empty
		remaining  []check.ID
	}{
		{base: "etcdadm-controller"}, // done: nothing to plan
		{base: "etcdadm-controller", diff: "../check/testdata/defects/markers-in-godoc.diff", golden: "markers-in-godoc"},
		{base: "etcdadm-controller", diff: "halfdone/markers-after-godoc-prose.diff", golden: "markers-after-godoc-prose"},
		{base: "etcdadm-controller", diff: "../check/testdata/defects/role-missing-review-rules.diff", golden: "role-missing-review-rules"},
		{base: "etcdadm-controller", diff: "../check/testdata/defects/manifest-no-port.diff", golden: "manifest-no-port"},
		{base: "etcdadm-controller", diff: "../check/testdata/defects/manifest-no-diagnostics-args.diff", golden: "manifest-no-diagnostics-args"},
		{base: "etcdadm-controller", diff: "../check/testdata/defects/helm-out-of-step.diff", golden: "helm-out-of-step"},
		{base: "eks-anywhere", diff: "../check/testdata/defects/eks-anywhere-head.diff", golden: "eks-anywhere-head",
			remaining: []check.ID{check.BundleOutOfStep}},
	}
	for _, tt := range tests {
		name := tt.golden
		if name == "" {
			name = "retrofitted " + tt.base
		}
		t.Run(name, func(t *testing.T) {
			dir := copyFixture(t, tt.base)
			if err := generator.Apply(plan(t, dir)); err != nil {
				t.Fatal(err)
			}
			if tt.diff != "" {
				applyDiff(t, dir, filepath.Join("testdata", tt.diff))
			}
			p := plan(t, dir)
			got := diffOf(t, p)
			if tt.golden == "" {
				if !p.Empty() {
					t.Fatalf("a done repository gets a plan:\n%s", got)
				}
				return
			}
			compareGolden(t, "halfdone-"+tt.golden, got)
			assertRetrofitProperties(t, dir, p, tt.remaining)
		})
	}
}

// TestDoneRepositoriesPlanNothing: a repository that serves diagnostics completely gets an empty plan,
// also when its manager is created by a wrapper from options filled in elsewhere (CAPV's pkg/manager).
func TestDoneRepositoriesPlanNothing(t *testing.T) {
	for _, name := range []string{"cluster-api-provider-vsphere"} {
		t.Run(name, func(t *testing.T) {
			p := plan(t, fixture(name))
			if !p.Empty() {
				t.Fatalf("a done repository gets a plan:\n%s", diffOf(t, p))
			}
			if len(p.Warnings) != 0 {
				t.Errorf("warnings for a done repository: %q", p.Warnings)
			}
			findings, err := check.Run(fixture(name), check.Options{})
			if err != nil || len(findings) != 0 {
				t.Errorf("diagkit check: %v, %v", err, findings)
			}
		})
	}
}

// TestAChartItCannotPatchIsReportedNotFatal: a chart template the patcher cannot edit (here, passing the
// flag twice) is left as it is with a warning naming it, and the rest of the repository is retrofitted.
func TestAChartItCannotPatchIsReportedNotFatal(t *testing.T) {
	dir := copyFixture(t, "eks-anywhere-packages")
	tmpl := filepath.Join(dir, "charts", "eks-anywhere-packages", "templates", "deployment.yaml")
	src, err := os.ReadFile(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	twice := strings.Replace(string(src), "        - --leader-elect\n", "        - --leader-elect\n        - --metrics-bind-address=127.0.0.1:8080\n", 1)
	if twice == string(src) {
		t.Fatal("the fixture's chart changed; update the test")
	}
	if err := os.WriteFile(tmpl, []byte(twice), 0o644); err != nil {
		t.Fatal(err)
	}
	p := plan(t, dir)
	var paths []string
	for _, c := range p.Changes {
		paths = append(paths, c.Path)
	}
	if !slices.Contains(paths, "cmd/server.go") || slices.Contains(paths, "charts/eks-anywhere-packages/templates/deployment.yaml") {
		t.Errorf("changes %v: want cmd/server.go retrofitted and the chart left alone", paths)
	}
	if !slices.ContainsFunc(p.Warnings, func(w string) bool {
		return strings.Contains(w, "chart charts/eks-anywhere-packages not patched") && strings.Contains(w, "deployment.yaml:")
	}) {
		t.Errorf("no warning naming the chart and its template: %q", p.Warnings)
	}
}

// TestManagersTheManifestsCannotTellApart: two commands creating a manager (an operator and its webhook
// server) whose binaries no Deployment names are not an error in the repository: exit 3, naming both
// and saying how to name each one's Deployment; --main chooses one.
func TestManagersTheManifestsCannotTellApart(t *testing.T) {
	dir := copyFixture(t, "etcdadm-controller")
	webhook := filepath.Join(dir, "cmd", "webhook")
	if err := os.MkdirAll(webhook, 0o755); err != nil {
		t.Fatal(err)
	}
	src := "package main\n\nimport (\n\t\"flag\"\n\n\tctrl \"sigs.k8s.io/controller-runtime\"\n\t\"sigs.k8s.io/controller-runtime/pkg/metrics/server\"\n)\n\n" +
		"func main() {\n\tvar addr string\n\tflag.StringVar(&addr, \"metrics-bind-address\", \":8080\", \"\")\n\tflag.Parse()\n" +
		"\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: server.Options{BindAddress: addr}})\n\t_, _ = mgr, err\n}\n"
	if err := os.WriteFile(filepath.Join(webhook, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshotTree(t, dir)
	_, err := generator.RetrofitRepository(dir, nil, generator.Options{})
	if !errors.Is(err, edit.ErrRefused) {
		t.Fatalf("got %v, want a refusal (exit 3)", err)
	}
	for _, want := range []string{"cmd/webhook/main.go", "main.go", "config/manager/manager.yaml", "--main cmd/webhook/main.go=MANIFEST"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if after := snapshotTree(t, dir); !maps.Equal(before, after) {
		t.Error("files changed although the repository was refused")
	}
	if p := planWith(t, dir, "main.go"); p.Empty() {
		t.Error("--main main.go plans nothing")
	}
}

// TestSeveralManagersNamedByHand: without the Makefile's build line nothing says which Deployment runs the
// webhook server; --main FILE=MANIFEST for each gives the plan diagkit finds by itself with it.
func TestSeveralManagersNamedByHand(t *testing.T) {
	found := diffOf(t, plan(t, shapeFixture(t, "etcdadm-controller", "several-managers")))
	dir := shapeFixture(t, "etcdadm-controller", "several-managers")
	makefile := filepath.Join(dir, "Makefile")
	src, err := os.ReadFile(makefile)
	if err != nil {
		t.Fatal(err)
	}
	line := "\tCGO_ENABLED=0 go build -trimpath -o bin/webhook-server ./cmd/webhook\n"
	if !bytes.Contains(src, []byte(line)) {
		t.Fatalf("the shape's Makefile lacks %q", line)
	}
	if err := os.WriteFile(makefile, bytes.Replace(src, []byte(line), nil, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := generator.RetrofitRepository(dir, nil, generator.Options{}); !errors.Is(err, edit.ErrRefused) {
		t.Fatalf("without the build line: got %v, want a refusal naming both managers", err)
	}
	mains := []generator.Main{{File: "main.go"}, {File: "cmd/webhook/main.go", Manifest: "config/webhook-server/deployment.yaml"}}
	p, err := generator.RetrofitRepository(dir, mains, generator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The Makefile differs by the removed line only, which no hunk touches.
	if got := diffOf(t, p); got != found {
		t.Errorf("named by hand, the plan differs from the one found:\n%s\nwant:\n%s", got, found)
	}
	if !slices.ContainsFunc(p.Managers, func(m string) bool {
		return strings.HasPrefix(m, "cmd/webhook/main.go: Deployment webhook-server, container webhook (config/webhook-server/deployment.yaml)")
	}) {
		t.Errorf("the plan does not say where the webhook server runs: %q", p.Managers)
	}
}

// TestSeveralManagersSayWhich: the plan names each manager and where it runs, and the one whose metrics
// server is off as left alone; asked for by name, that one is refused (exit 3), not an error.
func TestSeveralManagersSayWhich(t *testing.T) {
	dir := shapeFixture(t, "etcdadm-controller", "several-managers")
	p := plan(t, dir)
	want := []string{
		"main.go: Deployment controller-manager, container manager (config/manager/manager.yaml)",
		`cmd/adapter/main.go: left alone: cmd/adapter/main.go:15: the manager turns controller-runtime's metrics server off (BindAddress "0"): it serves no metrics to secure`,
		"cmd/webhook/main.go: Deployment webhook-server, container webhook (config/webhook-server/deployment.yaml)",
	}
	if !slices.Equal(p.Managers, want) {
		t.Errorf("managers:\n%s\nwant:\n%s", strings.Join(p.Managers, "\n"), strings.Join(want, "\n"))
	}
	_, err := generator.RetrofitRepository(dir, []generator.Main{{File: "cmd/adapter/main.go"}}, generator.Options{})
	if !errors.Is(err, edit.ErrRefused) || !errors.Is(err, gosource.ErrMetricsOff) {
		t.Errorf("--main cmd/adapter/main.go: got %v, want a refusal saying the metrics server is off", err)
	}
	// check reads every manager: before the retrofit, the webhook server's plain HTTP on all interfaces
	// (its Deployment passes :8080) is reported; the operator's binds localhost.
	findings, err := check.Run(dir, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range findings {
		if f.ID == check.MetricsPlainHTTPAllInterfaces {
			files = append(files, f.File)
		}
	}
	if !slices.Equal(files, []string{"config/webhook-server/deployment.yaml"}) {
		t.Errorf("plain-HTTP findings in %q, want the webhook server's Deployment only", files)
	}
}

// TestAccountWithoutReviewsIsReported: a second Deployment running as an account no role binds to the
// reviews would refuse every scrape; the plan says which, and how to fix it.
func TestAccountWithoutReviewsIsReported(t *testing.T) {
	dir := shapeFixture(t, "etcdadm-controller", "several-managers")
	file := filepath.Join(dir, "config", "webhook-server", "deployment.yaml")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, bytes.Replace(src, []byte("serviceAccountName: manager"), []byte("serviceAccountName: webhook-server"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	p := plan(t, dir)
	want := "config/default runs Deployment etcdadm-controller-webhook-server as ServiceAccount etcdadm-controller-system/webhook-server, which no role of the tree binds"
	if !slices.ContainsFunc(p.Warnings, func(w string) bool { return strings.HasPrefix(w, want) }) {
		t.Errorf("no warning %q in %q", want, p.Warnings)
	}
	if slices.ContainsFunc(p.Warnings, func(w string) bool { return strings.Contains(w, "Deployment etcdadm-controller-controller-manager") }) {
		t.Errorf("a warning for the manager, whose account is bound: %q", p.Warnings)
	}
}

func planWith(t *testing.T, dir, main string) *generator.Plan {
	t.Helper()
	target, err := generator.Detect(dir, generator.DetectOptions{Main: main})
	if err != nil {
		t.Fatalf("detect --main %s: %v", main, err)
	}
	p, err := generator.Retrofit(target, generator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseMain(t *testing.T) {
	tests := []struct {
		in      string
		want    generator.Main
		wantErr string
	}{
		{in: "cmd/main.go", want: generator.Main{File: "cmd/main.go"}},
		{in: "cmd/webhook/main.go=config/webhook/deployment.yaml", want: generator.Main{File: "cmd/webhook/main.go", Manifest: "config/webhook/deployment.yaml"}},
		{in: "=config/manager/manager.yaml", wantErr: "want FILE or FILE=MANIFEST"},
		{in: "main.go=", wantErr: "want FILE or FILE=MANIFEST"},
		{in: "main.go=config/manager/kustomization", wantErr: "not a .yaml or .yml file"},
	}
	for _, tt := range tests {
		got, err := generator.ParseMain(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseMain(%q): error %v, want one saying %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMain(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

// TestNoMetricsOptionsAreReported: options without Metrics serve plain HTTP on :8080 by controller-runtime's
// default; check says so at the options before the retrofit, and nothing after it.
func TestNoMetricsOptionsAreReported(t *testing.T) {
	dir := shapeFixture(t, "etcdadm-controller", "no-metrics-options")
	findings, err := check.Run(dir, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(findings, func(f check.Finding) bool {
		return f.ID == check.MetricsPlainHTTPAllInterfaces && f.File == "main.go" && f.Line == 64 && strings.Contains(f.Message, ":8080")
	}) {
		t.Errorf("no plain-HTTP finding at main.go:64: %+v", findings)
	}
}

// TestRoleNamedOutsideTheMakefile: Velero generates role.yaml from a script, as velero-perms; with no
// Makefile invocation naming the role, the only ClusterRole of role.yaml is the generated one. With two,
// detect still prints everything and says why the role was not read.
func TestRoleNamedOutsideTheMakefile(t *testing.T) {
	dir := copyFixture(t, "etcdadm-controller")
	if err := os.Remove(filepath.Join(dir, "Makefile")); err != nil {
		t.Fatal(err)
	}
	role := filepath.Join(dir, "config", "rbac", "role.yaml")
	src, err := os.ReadFile(role)
	if err != nil {
		t.Fatal(err)
	}
	renamed := bytes.Replace(src, []byte("name: manager-role"), []byte("name: velero-perms"), 1)
	if err := os.WriteFile(role, renamed, 0o644); err != nil {
		t.Fatal(err)
	}
	target, err := generator.Detect(dir, generator.DetectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if target.RoleName != "velero-perms" || target.Role == nil {
		t.Errorf("role %q (%v), want velero-perms read", target.RoleName, target.Role)
	}

	second := append(renamed, []byte("---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: other\nrules: []\n")...)
	if err := os.WriteFile(role, second, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := generator.Detect(dir, generator.DetectOptions{}); err == nil {
		t.Fatal("two ClusterRoles, none manager-role: no error")
	}
	described, err := generator.Detect(dir, generator.DetectOptions{Describe: true})
	if described == nil || err == nil {
		t.Fatalf("Describe: %v, %v; want the target and the error", described, err)
	}
	var b strings.Builder
	described.Describe(&b)
	for _, want := range []string{"main:                    main.go:", "role:                    not analysed: config/rbac/role.yaml: expected the ClusterRole manager-role, found none"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("detect lacks %q:\n%s", want, b.String())
		}
	}
}

// TestVendoringModuleIsToldToVendor: a module with vendor/ builds from it, so the plan says to run go mod
// vendor after go mod tidy (Kueue's build failed on inconsistent vendoring without it).
func TestVendoringModuleIsToldToVendor(t *testing.T) {
	dir := copyFixture(t, "etcdadm-controller")
	if p := plan(t, dir); slices.ContainsFunc(p.Next, func(n string) bool { return strings.HasPrefix(n, "go mod vendor") }) {
		t.Errorf("a module without vendor/ is told to vendor: %q", p.Next)
	}
	if err := os.MkdirAll(filepath.Join(dir, "vendor"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vendor", "modules.txt"), []byte("# k8s.io/api v0.33.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p := plan(t, dir); !slices.ContainsFunc(p.Next, func(n string) bool { return strings.HasPrefix(n, "go mod vendor") }) {
		t.Errorf("a vendoring module is not told to vendor: %q", p.Next)
	}
}
