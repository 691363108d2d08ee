// SPDX-License-Identifier: Apache-2.0

package helmchart

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/diagkit/diagkit/generator/edit"
)

// repo is a repository with several charts: the manager's (NOTES.txt, partials, text and JSON files,
// a subchart), another Deployment's, one calling lookup, one calling required, the manager as a
// StatefulSet, a DaemonSet passing a metrics flag, and a nested Go module's.
const repo = "testdata/repo"

func load(t *testing.T, root, dir string) *Chart {
	t.Helper()
	c, err := Load(root, dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFindSkipsNestedModulesAndSubcharts(t *testing.T) {
	got, err := Find(repo)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"charts/daemonset", "charts/lookup", "charts/manager", "charts/required", "charts/statefulset", "charts/unrelated"}
	if !slices.Equal(got, want) {
		t.Errorf("Find = %q, want %q (not nested/charts/other, in its own module, nor the subchart)", got, want)
	}
	// Loaded by hand, the nested module's chart deploys a manager: it is Find that leaves it out.
	if ok, err := load(t, repo, "nested/charts/other").DeploysManager(nil); !ok || err != nil {
		t.Errorf("nested chart: DeploysManager = %v, %v", ok, err)
	}
}

func TestFindAtAChartRoot(t *testing.T) {
	got, err := Find(filepath.Join(repo, "charts/unrelated"))
	if err != nil || !slices.Equal(got, []string{"."}) {
		t.Errorf("Find = %q, %v", got, err)
	}
}

func TestManifestsAreTheRenderedObjectsOnly(t *testing.T) {
	tests := []struct {
		chart       string
		want, not   []string // template names
		contains    map[string][]string
		notContains map[string][]string
	}{
		{
			chart: "charts/manager",
			want: []string{
				"manager/templates/clusterrole.yaml", "manager/templates/configmap.json", "manager/templates/deployment.yaml",
				"manager/templates/mixed.yaml", "manager/templates/service.yaml", "manager/charts/sub/templates/configmap.yaml",
			},
			not: []string{
				"manager/templates/NOTES.txt", "manager/charts/sub/templates/NOTES.txt", // text for a person, with colons
				"manager/templates/_helpers.tpl",        // a partial
				"manager/templates/servicemonitor.yaml", // disabled: empty
				"manager/templates/comments.yaml",       // comments only
				"manager/templates/usage.txt",           // not YAML
				"manager/templates/settings.json",       // YAML, not an object
			},
			contains:    map[string][]string{"manager/templates/mixed.yaml": {"kind: ServiceAccount", "kind: ConfigMap", "name: release-manager-mixed"}},
			notContains: map[string][]string{"manager/templates/mixed.yaml": {"just a sentence", "not an object"}},
		},
		{
			chart: "charts/unrelated",
			want:  []string{"unrelated/templates/deployment.yaml", "unrelated/templates/service.yaml"},
			not:   []string{"unrelated/templates/NOTES.txt"},
		},
		{
			// Without a cluster, lookup finds nothing, as with `helm template`.
			chart:    "charts/lookup",
			want:     []string{"lookup/templates/deployment.yaml", "lookup/templates/secret.yaml"},
			contains: map[string][]string{"lookup/templates/secret.yaml": {"password: Z2VuZXJhdGVk"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.chart, func(t *testing.T) {
			c := load(t, repo, tt.chart)
			got, err := c.Manifests()
			if err != nil {
				t.Fatal(err)
			}
			if names := names(got); !slices.Equal(names, sorted(tt.want)) {
				t.Errorf("templates = %q, want %q", names, sorted(tt.want))
			}
			for _, n := range tt.not {
				if _, ok := got[n]; ok {
					t.Errorf("%s is not a manifest:\n%s", n, got[n])
				}
			}
			for n, subs := range tt.contains {
				for _, s := range subs {
					if !strings.Contains(string(got[n]), s) {
						t.Errorf("%s lacks %q:\n%s", n, s, got[n])
					}
				}
			}
			for n, subs := range tt.notContains {
				for _, s := range subs {
					if strings.Contains(string(got[n]), s) {
						t.Errorf("%s keeps %q:\n%s", n, s, got[n])
					}
				}
			}
			// Render is `helm template`: no NOTES.txt, no partials.
			rendered, err := c.Render()
			if err != nil {
				t.Fatal(err)
			}
			for n := range rendered {
				if strings.HasSuffix(n, "/NOTES.txt") || strings.Contains(n, "/_") {
					t.Errorf("Render returns %s", n)
				}
			}
		})
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestSplitDocuments(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"one", "a: 1\n", []string{"a: 1\n"}},
		{"no final newline", "a: 1", []string{"a: 1\n"}},
		{"leading marker", "---\na: 1\n---\nb: 2\n", []string{"a: 1\n", "b: 2\n"}},
		{"marker with comment", "a: 1\n--- # next\nb: 2\n", []string{"a: 1\n", "--- # next\nb: 2\n"}},
		{"marker with trailing blanks", "a: 1\n---  \nb: 2\n", []string{"a: 1\n", "b: 2\n"}},
		{"not a marker", "a: |\n  ---x\n----\n", []string{"a: |\n  ---x\n----\n"}},
		{"empty", "", nil},
		{"markers only", "---\n---\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, d := range splitDocuments(tt.text) {
				got = append(got, string(d))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("splitDocuments(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestIsObject(t *testing.T) {
	tests := []struct {
		doc  string
		want bool
	}{
		{"apiVersion: v1\nkind: ConfigMap\n", true},
		{`{"apiVersion": "v1", "kind": "ConfigMap"}`, true},
		{"# only a comment\n", false},
		{"   \n\n", false},
		{"", false},
		{"kind: ConfigMap\n", false}, // no apiVersion
		{"apiVersion: v1\nkind: {a: b}\n", false},
		{"- a\n- b\n", false},
		{"just text\n", false},
		{"Thank you: release is installed.\n  Metrics: https://x:8080\n", false},
		{`{"logLevel": "info"}`, false},
	}
	for _, tt := range tests {
		if got := isObject([]byte(tt.doc)); got != tt.want {
			t.Errorf("isObject(%q) = %v, want %v", tt.doc, got, tt.want)
		}
	}
}

func TestDeploysManager(t *testing.T) {
	tests := []struct {
		chart       string
		flags       []string
		want        bool
		notRendered bool
	}{
		{chart: "charts/manager", want: true}, // MetricsFlags
		{chart: "charts/manager", flags: []string{"metrics-bind-address"}, want: true},
		{chart: "charts/manager", flags: []string{"--metrics-bind-address"}, want: true},
		{chart: "charts/manager", flags: []string{"metrics-addr"}, want: false},
		{chart: "charts/statefulset", flags: []string{"metrics-addr"}, want: true},
		{chart: "charts/daemonset", want: true},
		{chart: "charts/unrelated", want: false},
		{chart: "charts/lookup", want: false},
		{chart: "charts/required", notRendered: true},
	}
	for _, tt := range tests {
		t.Run(tt.chart+" "+strings.Join(tt.flags, ","), func(t *testing.T) {
			got, err := load(t, repo, tt.chart).DeploysManager(tt.flags)
			if tt.notRendered {
				var nr *NotRenderedError
				if !errors.Is(err, ErrNotRendered) || !errors.As(err, &nr) || nr.Dir != tt.chart || !strings.Contains(err.Error(), "clusterName is required") {
					t.Errorf("err = %v, want ErrNotRendered with Helm's reason", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("DeploysManager(%q) = %v, %v; want %v", tt.flags, got, err, tt.want)
			}
		})
	}
}

func TestDeploysManagerOnceRetrofitted(t *testing.T) {
	dir := patchedCopy(t, "charts/manager", "metrics-bind-address")
	c := load(t, dir, "charts/manager")
	if ok, err := c.DeploysManager([]string{"metrics-addr"}); !ok || err != nil {
		t.Errorf("DeploysManager after the patch = %v, %v; want true by --diagnostics-address", ok, err)
	}
	if changes, _, err := c.Patch("metrics-bind-address"); len(changes) != 0 || err != nil {
		t.Errorf("second Patch = %d changes, %v", len(changes), err)
	}
}

func TestPatch(t *testing.T) {
	tests := []struct {
		name, chart, flag string
		// want holds, by repository path, lines each patched file must contain; none: no changes.
		want        map[string][]string
		gone        map[string][]string
		warning     string
		notRendered bool
	}{
		{
			name: "manager with NOTES.txt and non-YAML templates", chart: "charts/manager", flag: "metrics-bind-address",
			want: map[string][]string{
				"charts/manager/templates/deployment.yaml": {
					"        - --diagnostics-address=:8443\n        - --insecure-diagnostics=false\n        - --health-probe-bind-address=:8081\n",
					"        ports:\n        - containerPort: 8443\n          name: https-metrics\n          protocol: TCP\n        - containerPort: 9443\n",
				},
				"charts/manager/templates/service.yaml":     {"    port: 8443\n", "    targetPort: 8443\n"},
				"charts/manager/templates/clusterrole.yaml": {"  - tokenreviews\n", "  - subjectaccessreviews\n"},
			},
			gone:    map[string][]string{"charts/manager/templates/deployment.yaml": {"--metrics-bind-address"}},
			warning: "charts/manager/templates/servicemonitor.yaml scrapes port https-metrics without scheme: https",
		},
		{name: "another flag", chart: "charts/manager", flag: "metrics-addr"},
		{name: "no flag", chart: "charts/manager", flag: ""},
		{name: "another Deployment", chart: "charts/unrelated", flag: "metrics-bind-address"},
		{name: "lookup", chart: "charts/lookup", flag: "metrics-bind-address"},
		{name: "DaemonSet", chart: "charts/daemonset", flag: "metrics-bind-address", warning: "container agent of DaemonSet release-agent passes --metrics-bind-address; diagkit patches a manager deployed by a Deployment or StatefulSet only"},
		{name: "required", chart: "charts/required", flag: "metrics-bind-address", notRendered: true},
		{
			name: "StatefulSet, bare flag and value, named port", chart: "charts/statefulset", flag: "metrics-addr",
			want: map[string][]string{
				"charts/statefulset/templates/statefulset.yaml": {
					"        args:\n        - --diagnostics-address=:8443\n        - --insecure-diagnostics=false\n        ports:\n        - containerPort: 8443\n          name: metrics\n",
				},
				"charts/statefulset/templates/clusterrole.yaml": {"  - tokenreviews\n"},
			},
			gone: map[string][]string{"charts/statefulset/templates/statefulset.yaml": {"--metrics-addr", ":8080", "8080"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes, warnings, err := load(t, repo, tt.chart).Patch(tt.flag)
			if tt.warning == "" && len(warnings) > 0 || tt.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], tt.warning)) {
				t.Errorf("warnings = %q, want %q", warnings, tt.warning)
			}
			if tt.notRendered {
				if !errors.Is(err, ErrNotRendered) || len(changes) != 0 {
					t.Errorf("Patch = %d changes, %v; want ErrNotRendered", len(changes), err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, c := range changes {
				paths = append(paths, c.Path)
				for _, s := range tt.want[c.Path] {
					if !strings.Contains(string(c.After), s) {
						t.Errorf("%s lacks %q:\n%s", c.Path, s, c.After)
					}
				}
				for _, s := range tt.gone[c.Path] {
					if strings.Contains(string(c.After), s) {
						t.Errorf("%s keeps %q:\n%s", c.Path, s, c.After)
					}
				}
			}
			var want []string
			for p := range tt.want {
				want = append(want, p)
			}
			if slices.Sort(want); !slices.Equal(paths, want) {
				t.Errorf("changed %q, want %q", paths, want)
			}
		})
	}
}

func TestPatchWarnsOfAFlagInTheCommand(t *testing.T) {
	dir := copyChart(t, "charts/unrelated")
	file := filepath.Join(dir, "charts/unrelated/templates/deployment.yaml")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	src = []byte(strings.Replace(string(src), "        args:\n", "        command:\n        - /manager\n        - --metrics-addr=:8080\n        args:\n", 1))
	if err := os.WriteFile(file, src, 0o644); err != nil {
		t.Fatal(err)
	}
	c := load(t, dir, "charts/unrelated")
	if ok, err := c.DeploysManager(nil); !ok || err != nil {
		t.Errorf("DeploysManager = %v, %v; want true by the command", ok, err)
	}
	changes, warnings, err := c.Patch("metrics-addr")
	if err != nil || len(changes) != 0 || len(warnings) != 1 || !strings.Contains(warnings[0], "passes --metrics-addr in its command") {
		t.Errorf("Patch = %d changes, %q, %v", len(changes), warnings, err)
	}
}

// copyChart copies the repository's chart dir to a temporary repository and returns its root.
func copyChart(t *testing.T, dir string) string {
	t.Helper()
	root := t.TempDir()
	err := os.CopyFS(filepath.Join(root, dir), os.DirFS(filepath.Join(repo, dir)))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// patchedCopy copies the chart and writes what Patch(flag) plans.
func patchedCopy(t *testing.T, dir, flag string) string {
	t.Helper()
	root := copyChart(t, dir)
	changes, _, err := load(t, root, dir).Patch(flag)
	if err != nil || len(changes) == 0 {
		t.Fatalf("Patch = %d changes, %v", len(changes), err)
	}
	for _, c := range changes {
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(c.Path)), c.After, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// The reported failure: eks-anywhere-packages' chart has a NOTES.txt whose text is not YAML, and Patch
// failed on it with "rendered YAML: yaml: line 3: mapping values are not allowed in this context".
func TestPatchEKSAnywherePackagesWithNotes(t *testing.T) {
	const dir = "charts/eks-anywhere-packages"
	root := t.TempDir()
	if err := os.CopyFS(filepath.Join(root, dir), os.DirFS(filepath.Join("../testdata/targets/eks-anywhere-packages", dir))); err != nil {
		t.Fatal(err)
	}
	notes := "Thank you for installing {{ .Chart.Name }}.\n\nYour release is named {{ .Release.Name }}.\n  To learn more: run helm status {{ .Release.Name }}: it lists the resources.\n"
	if err := os.WriteFile(filepath.Join(root, dir, "templates/NOTES.txt"), []byte(notes), 0o644); err != nil {
		t.Fatal(err)
	}
	c := load(t, root, dir)
	if ok, err := c.DeploysManager(nil); !ok || err != nil {
		t.Errorf("DeploysManager = %v, %v", ok, err)
	}
	changes, _, err := c.Patch("metrics-bind-address")
	if err != nil || len(changes) == 0 {
		t.Fatalf("Patch = %d changes, %v", len(changes), err)
	}
	for _, ch := range changes {
		if strings.HasSuffix(ch.Path, "NOTES.txt") {
			t.Errorf("Patch changes %s", ch.Path)
		}
	}
}

// TestSecureArgsWithArgsFirst: a container written with args: as its first key ("- args:") gets its port
// under its own ports: key, at the container's key column, not at column 0.
func TestSecureArgsWithArgsFirst(t *testing.T) {
	src := "      containers:\n      - args:\n        - server\n        - --metrics-bind-address=127.0.0.1:8080\n        image: x\n        name: controller\n"
	es, err := secureArgs("deployment.yaml", []byte(src), "--metrics-bind-address", "metrics")
	if err != nil {
		t.Fatal(err)
	}
	got, err := edit.Apply([]byte(src), es)
	if err != nil {
		t.Fatal(err)
	}
	want := "      containers:\n      - args:\n        - server\n        - --diagnostics-address=:8443\n        - --insecure-diagnostics=false\n" +
		"        ports:\n        - containerPort: 8443\n          name: metrics\n          protocol: TCP\n        image: x\n        name: controller\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestRemoveContainer deletes a container item whether its name: is its first key or not, and nothing else.
func TestRemoveContainer(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"name first", "containers:\n- name: kube-rbac-proxy\n  image: proxy\n  ports:\n  - containerPort: 8443\n- name: manager\n  image: m\n",
			"containers:\n- name: manager\n  image: m\n"},
		{"args first, the sidecar last", "  containers:\n  - args:\n    - server\n    name: manager\n  - args:\n    - --upstream=http://127.0.0.1:8080/\n    name: kube-rbac-proxy\n  volumes: []\n",
			"  containers:\n  - args:\n    - server\n    name: manager\n  volumes: []\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := removeContainer("deployment.yaml", []byte(tt.src), "kube-rbac-proxy")
			if err != nil {
				t.Fatal(err)
			}
			got, err := edit.Apply([]byte(tt.src), es)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
	if _, err := removeContainer("deployment.yaml", []byte("containers:\n- name: manager\n"), "kube-rbac-proxy"); err == nil || !strings.Contains(err.Error(), "deployment.yaml:1:") {
		t.Errorf("a missing container: %v, want an error naming the file", err)
	}
}
