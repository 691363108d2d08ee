// SPDX-License-Identifier: Apache-2.0

package check_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/diagkit/diagkit/generator"
	"github.com/diagkit/diagkit/generator/check"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

// repository copies a fixture of the generator's testdata/targets into a temporary directory, retrofits
// it when asked, and applies testdata/defects/<defect>.diff to it when defect is not empty.
func repository(t *testing.T, base string, retrofit bool, defect string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "testdata", "targets", base))); err != nil {
		t.Fatal(err)
	}
	if retrofit {
		target, err := generator.Detect(dir, generator.DetectOptions{})
		if err != nil {
			t.Fatalf("detect: %v", err)
		}
		plan, err := generator.Retrofit(target, generator.Options{})
		if err != nil {
			t.Fatalf("retrofit: %v", err)
		}
		if err := generator.Apply(plan); err != nil {
			t.Fatalf("apply: %v", err)
		}
	}
	if defect != "" {
		patch, err := filepath.Abs(filepath.Join("testdata", "defects", defect+".diff"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("git", "apply", "-p1", patch)
		// Never let git find a repository above the temporary directory and apply the patch there.
		cmd.Dir, cmd.Env = dir, append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git apply %s: %v\n%s", patch, err, out)
		}
	}
	return dir
}

// summary is "id file:line" for each finding, in order.
func summary(findings []check.Finding) []string {
	var s []string
	for _, f := range findings {
		s = append(s, fmt.Sprintf("%s %s:%d", f.ID, f.File, f.Line))
	}
	return s
}

func TestFindings(t *testing.T) {
	tests := []struct {
		name     string
		base     string // a fixture of generator/testdata/targets
		retrofit bool
		defect   string // testdata/defects/<defect>.diff applied after the retrofit
		want     []string
	}{
		// Each defect fixture breaks a retrofitted etcdadm-controller in one way and yields exactly one finding.
		{name: "a retrofitted repository has no findings", base: "etcdadm-controller", retrofit: true},
		{name: "markers directly above func main are ignored by controller-gen", base: "etcdadm-controller", retrofit: true, defect: "markers-in-godoc",
			want: []string{"markers-in-godoc main.go:52"}},
		{name: "a role without the review rules fails every request", base: "etcdadm-controller", retrofit: true, defect: "role-missing-review-rules",
			want: []string{"role-missing-review-rules config/rbac/role.yaml:6"}},
		{name: "a role that regeneration would change is stale", base: "etcdadm-controller", retrofit: true, defect: "role-stale",
			want: []string{"role-stale config/rbac/role.yaml:6"}},
		{name: "an RBAC pass that does not scan the markers' package", base: "etcdadm-controller", retrofit: true, defect: "rbac-paths-miss-markers",
			want: []string{"rbac-paths-miss-markers Makefile:27"}},
		{name: "manager.yaml without --diagnostics-address", base: "etcdadm-controller", retrofit: true, defect: "manifest-no-diagnostics-args",
			want: []string{"manifest-no-diagnostics-args config/manager/manager.yaml:34"}},
		{name: "manager.yaml without the diagnostics port", base: "etcdadm-controller", retrofit: true, defect: "manifest-no-port",
			want: []string{"manifest-no-port config/manager/manager.yaml:32"}},
		{name: "insecure diagnostics on the loopback", base: "etcdadm-controller", retrofit: true, defect: "manifest-insecure",
			want: []string{"manifest-insecure config/manager/manager.yaml:37"}},
		{name: "insecure diagnostics on all interfaces serve plain HTTP", base: "etcdadm-controller", retrofit: true, defect: "insecure-diagnostics-all-interfaces",
			want: []string{"metrics-plain-http-all-interfaces config/manager/manager.yaml:37"}},
		{name: "insecure diagnostics behind kube-rbac-proxy do not collide with it", base: "etcdadm-controller", retrofit: true, defect: "insecure-behind-proxy",
			want: []string{"manifest-insecure config/default/manager_auth_proxy_patch.yaml:25"}},
		{name: "a metrics flag defaulting to all interfaces without diagnostics", base: "etcdadm-controller", defect: "metrics-plain-http-all-interfaces",
			want: []string{"metrics-plain-http-all-interfaces main.go:56"}},
		{name: "a metrics flag whose default falls back to all interfaces, with extra handlers", base: "etcdadm-controller", defect: "metrics-plain-http-fallback",
			want: []string{"metrics-plain-http-all-interfaces main.go:57"}},
		{name: "options diagkit cannot analyse are said so, not reported clean", base: "etcdadm-controller", defect: "metrics-not-analysed",
			want: []string{"metrics-not-analysed main.go:82"}},
		{name: "a kube-rbac-proxy sidecar on the diagnostics port", base: "etcdadm-controller", retrofit: true, defect: "proxy-port-collision",
			want: []string{"proxy-port-collision config/default-with-metrics-port/manager_auth_proxy_patch.yaml:15"}},
		{name: "TLS options dropped by the derivation", base: "etcdadm-controller", retrofit: true, defect: "tls-options-discarded",
			want: []string{"tls-options-discarded main.go:77"}},
		{name: "a Helm chart left as it was passes the old flag and grants no reviews", base: "etcdadm-controller", retrofit: true, defect: "helm-out-of-step",
			want: []string{
				"helm-out-of-step charts/etcdadm-controller/templates/clusterrole.yaml:5",
				"helm-out-of-step charts/etcdadm-controller/templates/deployment.yaml:18",
			}},
		{name: "eks-anywhere at HEAD", base: "eks-anywhere", retrofit: true, defect: "eks-anywhere-head",
			want: []string{"role-missing-review-rules config/rbac/role.yaml:6", "markers-in-godoc manager/main.go:58", "tls-options-discarded manager/main.go:74"}},

		// The generator's fixtures as they are: no diagnostics, so only what is wrong without them.
		{name: "cluster-api-provider-tinkerbell before retrofit", base: "cluster-api-provider-tinkerbell"},
		{name: "eks-anywhere before retrofit", base: "eks-anywhere"},
		{name: "eks-anywhere-packages before retrofit: role.yaml is not generated from the controllers' markers", base: "eks-anywhere-packages",
			want: []string{"role-stale config/rbac/role.yaml:8"}},
		{name: "etcdadm-bootstrap-provider before retrofit", base: "etcdadm-bootstrap-provider"},
		{name: "etcdadm-controller before retrofit", base: "etcdadm-controller"},
		{name: "the kubebuilder v4 scaffold: secure, but with controller-runtime's filter", base: "kubebuilder-v4",
			want: []string{"metrics-stock-filter cmd/main.go:106"}},
		{name: "the kubebuilder v4 scaffold after retrofit", base: "kubebuilder-v4", retrofit: true},

		// And after retrofit: what it leaves to a person (its warnings) shows up here.
		{name: "cluster-api-provider-tinkerbell after retrofit", base: "cluster-api-provider-tinkerbell", retrofit: true},
		{name: "cluster-api-provider-cloudstack at HEAD: the overlay's proxy collides, no port, no review rules", base: "cluster-api-provider-cloudstack",
			want: []string{
				"proxy-port-collision config/default-with-metrics-port/manager_auth_proxy_patch.yaml:14",
				"manifest-no-port config/manager/manager.yaml:26",
				"role-missing-review-rules config/rbac/role.yaml:6",
			}},
		{name: "cluster-api-provider-cloudstack after retrofit", base: "cluster-api-provider-cloudstack", retrofit: true},
		{name: "cluster-api-provider-nutanix before #529: insecure diagnostics behind kube-rbac-proxy", base: "cluster-api-provider-nutanix",
			want: []string{
				"manifest-insecure config/default/manager_auth_proxy_patch.yaml:27",
				"manifest-no-port config/manager/manager.yaml:51",
				"manifest-no-diagnostics-args config/manager/manager.yaml:53",
				// No role-missing-review-rules: the proxy-role bound to the manager's account grants them.
			}},
		{name: "cluster-api-provider-nutanix after retrofit", base: "cluster-api-provider-nutanix", retrofit: true},
		{name: "cluster-api-provider-vsphere, done upstream", base: "cluster-api-provider-vsphere"},
		{name: "eks-anywhere after retrofit: the committed bundle is not regenerated", base: "eks-anywhere", retrofit: true,
			want: []string{"bundle-out-of-step config/manifest/eksa-components.yaml:18", "bundle-out-of-step config/manifest/eksa-components.yaml:168"}},
		{name: "eks-anywhere-packages after retrofit: kube-rbac-proxy patch and chart done, its role.yaml was never generated", base: "eks-anywhere-packages", retrofit: true,
			want: []string{"role-stale config/rbac/role.yaml:8"}},
		{name: "etcdadm-bootstrap-provider after retrofit", base: "etcdadm-bootstrap-provider", retrofit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := repository(t, tt.base, tt.retrofit, tt.defect)
			findings, err := check.Run(dir, check.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, summary(findings)); d != "" {
				var b bytes.Buffer
				check.WriteText(&b, findings)
				t.Errorf("findings (-want +got):\n%s\n%s", d, b.String())
			}
		})
	}
}

func TestOutputGolden(t *testing.T) {
	dir := repository(t, "eks-anywhere", true, "eks-anywhere-head")
	findings, err := check.Run(dir, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []struct {
		file  string
		write func(*bytes.Buffer) error
	}{
		{"eks-anywhere-head.txt", func(b *bytes.Buffer) error { return check.WriteText(b, findings) }},
		{"eks-anywhere-head.json", func(b *bytes.Buffer) error { return check.WriteJSON(b, findings) }},
	} {
		t.Run(format.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := format.write(&b); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", format.file)
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./generator/check -update)", err)
			}
			if d := cmp.Diff(string(want), b.String()); d != "" {
				t.Errorf("output differs from %s (-want +got):\n%s", golden, d)
			}
		})
	}
}

func TestJSONOfNoFindingsIsAnEmptyList(t *testing.T) {
	var b bytes.Buffer
	if err := check.WriteJSON(&b, nil); err != nil {
		t.Fatal(err)
	}
	var report map[string][]check.Finding
	if err := json.Unmarshal(b.Bytes(), &report); err != nil || report["findings"] == nil || len(report["findings"]) != 0 {
		t.Errorf("got %q (%v), want {\"findings\": []}", b.String(), err)
	}
}

func TestRunFailsOnWhatIsNotARepository(t *testing.T) {
	if _, err := check.Run(t.TempDir(), check.Options{}); err == nil {
		t.Error("a directory without go.mod: no error")
	}
}

// A default computed by a call is named as the call's fallback, in the message and in the fix.
func TestFallbackDefaultIsNamed(t *testing.T) {
	dir := repository(t, "etcdadm-controller", false, "metrics-plain-http-fallback")
	findings, err := check.Run(dir, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) != 1 {
		t.Fatalf("want one finding, got %v", summary(findings))
	}
	const call = `envOrDefault("METRICS_ADDR", ":8080")`
	if f := findings[0]; !strings.Contains(f.Message, "the fallback of "+call) || !strings.Contains(f.Fix, "make the fallback of "+call+` "127.0.0.1:8080"`) {
		t.Errorf("message %q, fix %q: want both to name %s", f.Message, f.Fix, call)
	}
}
