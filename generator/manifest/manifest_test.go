// SPDX-License-Identifier: Apache-2.0

package manifest

import (
	"slices"
	"strings"
	"testing"

	"github.com/diagkit/diagkit/generator/edit"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: controller-manager
spec:
  template:
    spec:
      containers:
      - name: manager
        image: controller:latest
        args:
        - "--leader-elect"
        - "--metrics-addr=127.0.0.1:8080"
        env:
        - name: TINKERBELL_IP
          value: ${TINKERBELL_IP:=''}
`

func TestPatchFollowsTheFileConventions(t *testing.T) {
	c, err := Find("manager.yaml", []byte(deployment))
	if err != nil {
		t.Fatal(err)
	}
	edits, _, err := c.Patch("metrics-addr")
	if err != nil {
		t.Fatal(err)
	}
	out, err := edit.Apply([]byte(deployment), edits)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`        - "--diagnostics-address=${CAPI_DIAGNOSTICS_ADDRESS:=:8443}"` + "\n", // quoted like its siblings, clusterctl defaults
		`        - "--insecure-diagnostics=${CAPI_INSECURE_DIAGNOSTICS:=false}"` + "\n",
		"        ports:\n        - containerPort: 8443\n          name: metrics\n          protocol: TCP\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "--metrics-addr") {
		t.Errorf("old metrics flag kept:\n%s", out)
	}
	again, err := Find("manager.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	if edits, _, _ := again.Patch("metrics-addr"); len(edits) != 0 {
		t.Errorf("second patch edits again: %v", edits)
	}
}

func TestFindNamesWhatIsMissing(t *testing.T) {
	two := strings.Replace(deployment, "      - name: manager\n", "      - name: proxy\n        image: p\n      - name: other\n", 1)
	_, err := Find("config/manager/manager.yaml", []byte(two))
	if err == nil || !strings.Contains(err.Error(), `config/manager/manager.yaml:9: expected a container named "manager" or a single container`) {
		t.Errorf("got %v", err)
	}
}

func TestFindAllReadsArgsAndPortsWithTheirLines(t *testing.T) {
	src := deployment + "        ports:\n        - containerPort: 8443\n          name: metrics\n      - name: kube-rbac-proxy\n        args:\n        - --secure-listen-address\n        - 0.0.0.0:8443\n        - --logtostderr\n"
	containers, err := FindAll("patch.yaml", []byte(src))
	if err != nil || len(containers) != 2 {
		t.Fatalf("got %d containers, %v", len(containers), err)
	}
	manager, proxy := containers[0], containers[1]
	tests := []struct {
		name       string
		c          *Container
		flag       string
		takesValue bool
		value      string
		line       int
		ok         bool
	}{
		{"--flag=value", manager, "--metrics-addr", true, "127.0.0.1:8080", 13, true},
		{"a value in the next argument", proxy, "--secure-listen-address", true, "0.0.0.0:8443", 22, true},
		{"a bare boolean flag", proxy, "--logtostderr", false, "", 24, true},
		{"an absent flag", manager, "--diagnostics-address", true, "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			value, line, ok := tt.c.Arg(tt.flag, tt.takesValue)
			if value != tt.value || line != tt.line || ok != tt.ok {
				t.Errorf("Arg(%s) = %q, %d, %v; want %q, %d, %v", tt.flag, value, line, ok, tt.value, tt.line, tt.ok)
			}
		})
	}
	if ports := manager.Ports(); len(ports) != 1 || ports[0] != (ContainerPort{Number: "8443", Name: "metrics", Line: 18}) {
		t.Errorf("Ports() = %+v", ports)
	}
	if manager.Line() != 9 || manager.KeyLine("args") != 11 || proxy.KeyLine("ports") != proxy.Line() || !proxy.HasArgs() {
		t.Errorf("lines: container %d, args %d; proxy ports %d", manager.Line(), manager.KeyLine("args"), proxy.KeyLine("ports"))
	}
}

// TestOldFlagTakesItsValue: a bare old flag takes the next argument as its value, as pflag does; the value
// goes with the flag rather than stay behind as a stray positional argument (found by FuzzPatch).
func TestOldFlagTakesItsValue(t *testing.T) {
	const bare = "- name: manager\n        args:\n        - --leader-elect\n        - --metrics-bind-address\n        - 127.0.0.1:8080\n        - --v=2\n"
	tests := []struct {
		name string
		run  func(src []byte) ([]edit.Edit, error)
		want []string
	}{
		{"Patch", func(src []byte) ([]edit.Edit, error) {
			c, err := Find("manager.yaml", src)
			if err != nil {
				return nil, err
			}
			edits, _, err := c.Patch(oldFlag)
			return edits, err
		}, []string{"--leader-elect", "--v=2", "--diagnostics-address=:8443", "--insecure-diagnostics=false"}},
		{"RemoveProxy", func(src []byte) ([]edit.Edit, error) {
			edits, _, err := RemoveProxy("manager.yaml", src, "manager", oldFlag, true)
			return edits, err
		}, []string{"--leader-elect", "--diagnostics-address=:8443", "--v=2", "--insecure-diagnostics=false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := []byte(kbHead + "      - name: kube-rbac-proxy\n        image: p\n      " + bare)
			edits, err := tt.run(src)
			if err != nil {
				t.Fatal(err)
			}
			out := applyChecked(t, src, edits)
			if got := managerIn(t, out).Args(); !slices.Equal(got, tt.want) {
				t.Errorf("args %q, want %q in:\n%s", got, tt.want, out)
			}
		})
	}
}

// TestOtherLineBreaksAreRefused: YAML counts a lone \r (and U+0085, U+2028, U+2029) as a line break, the
// edits do not; a Deployment or JSON patch with one is refused at its line, any other file is no concern
// (found by FuzzPatch: Find indexed past the last line).
func TestOtherLineBreaksAreRefused(t *testing.T) {
	tests := []struct {
		name, src, want string
		run             func(src []byte) error
	}{
		{"Find", "# x\r" + deployment, "f.yaml:1: expected lines ending in \\n or \\r\\n, found a \\r line break", func(src []byte) error {
			_, err := Find("f.yaml", src)
			return err
		}},
		{"RemoveProxy", deployment + "# \u2028\n", "f.yaml:17: expected lines ending in \\n or \\r\\n, found a U+2028 line break", func(src []byte) error {
			_, _, err := RemoveProxy("f.yaml", src, "manager", oldFlag, true)
			return err
		}},
		{"RewriteJSONPatchArgs", "- op: add\r  path: /spec/template/spec/containers/0/args/0\n  value: --metrics-addr=:8080\n", "f.yaml:1: expected lines ending", func(src []byte) error {
			_, _, err := RewriteJSONPatchArgs("f.yaml", src, "metrics-addr")
			return err
		}},
		{"FindAll in a file without a Deployment", "kind: Service\r# \u2029\n", "", func(src []byte) error {
			_, err := FindAll("f.yaml", src)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run([]byte(tt.src))
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}
