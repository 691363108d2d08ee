// SPDX-License-Identifier: Apache-2.0

package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/internal/fixture"
)

// The fuzz targets hold Find, Patch, RemoveProxy and RewriteJSONPatchArgs to what the generator promises
// for any file: an error names the file and line and changes nothing; edits apply, leave every other line
// as it was, keep YAML that parsed parseable, do to the documents what the layout tests expect; and a
// second pass plans nothing.

// fuzzFlags are the old metrics flags the fuzz targets pass, chosen by a fuzzed byte.
var fuzzFlags = []string{oldFlag, "metrics-addr", "metrics-bind-addr"}

// seedManifests adds every YAML file of the fixtures, and the layouts of the tests, to f's corpus.
func seedManifests(f *testing.F, more ...string) {
	files, err := fixture.Files(func(p string) bool { return strings.HasSuffix(p, ".yaml") })
	if err != nil {
		f.Fatal(err)
	}
	for i, file := range files {
		f.Add(file.Data, uint8(i))
	}
	for _, s := range append([]string{
		deployment,
		kbHead + "      - name: manager\n        args:\n        - --metrics-bind-address\n        - :8080\n" + kbTail,
		inHead + "        - args:\n            - --leader-elect\n            - --metrics-bind-address=:8080",
		fourHead + "                - name: kube-rbac-proxy\n                  image: gcr.io/kubebuilder/kube-rbac-proxy:v0.8.0\n                - name: manager\n                  args:\n                      - --metrics-bind-address=127.0.0.1:8080\n",
		wideHead + "            -   name: manager\n                image: controller:latest\n" + wideTail,
	}, more...) {
		f.Add([]byte(s), uint8(0)) // oldFlag, with the manager patched
		f.Add([]byte(s), uint8(0x80))
	}
}

// parses reports whether every document of src is YAML, duplicate keys included.
func parses(src []byte) error {
	dec := yamlv3.NewDecoder(bytes.NewReader(src))
	for {
		var doc any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// checkPositioned: err is a *edit.PositionError naming file and, but for a file that is not YAML or
// holds no Deployment at all, a line.
func checkPositioned(t *testing.T, err error, file string) {
	t.Helper()
	var pe *edit.PositionError
	if !errors.As(err, &pe) {
		t.Fatalf("error %q (%T) names no position", err, err)
	}
	if pe.File != file {
		t.Fatalf("error %q names %q, not %q", err, pe.File, file)
	}
	if pe.Line <= 0 && pe.Expected != "YAML" && pe.Expected != "a Deployment" {
		t.Fatalf("error %q names no line", err)
	}
}

func FuzzPatch(f *testing.F) {
	seedManifests(f)
	f.Fuzz(func(t *testing.T, src []byte, flag uint8) {
		old := fuzzFlags[int(flag)%len(fuzzFlags)]
		orig := bytes.Clone(src)
		c, err := Find("manager.yaml", src)
		if err != nil {
			checkPositioned(t, err, "manager.yaml")
			return
		}
		edits, why, err := c.Patch(old)
		if !bytes.Equal(src, orig) {
			t.Fatal("Patch changed its input")
		}
		if err != nil {
			checkPositioned(t, err, "manager.yaml")
			return
		}
		if len(edits) != len(why) {
			t.Errorf("%d edits, %d reasons: %q", len(edits), len(why), why)
		}
		if len(edits) == 0 || parses(src) != nil {
			return // nothing to do, or nothing to compare against
		}
		out := applyChecked(t, src, edits)
		want := stringKeys(decodeAll(t, src))
		patchModel(want, c.Clusterctl, old)
		// Patch keeps a number's quotes; the model knows only that the value was a string ("A" too).
		if d := cmp.Diff(portNumbers(want), portNumbers(stringKeys(decodeAll(t, out)))); d != "" {
			t.Fatalf("documents (-want +got):\n%s\nfrom:\n%s\nto:\n%s", d, src, out)
		}
		again, err := Find("manager.yaml", out)
		if err != nil {
			t.Fatal(err)
		}
		if es, _, err := again.Patch(old); err != nil || len(es) != 0 {
			t.Fatalf("second Patch: %v, %v in:\n%s", es, err, out)
		}
	})
}

// patchModel does to the manager of the first Deployment what Patch should: the old flag's arguments gone
// (a bare flag with its value), the diagnostics arguments it lacks after the others, port 8443.
func patchModel(docs []any, clusterctl bool, old string) {
	specs := podSpecs(docs)
	if len(specs) == 0 {
		return
	}
	list, _ := specs[0]["containers"].([]any)
	mgr, _ := list[0].(object)
	for _, item := range list {
		if c, ok := item.(object); ok && c["name"] == "manager" {
			mgr = c
		}
	}
	args0, hasArgs := mgr["args"].([]any)
	var args []any
	has := map[string]bool{}
	for i := 0; i < len(args0); i++ {
		a, _ := args0[i].(string)
		switch {
		case a == "--"+old && i+1 < len(args0):
			i++ // the flag's value goes with it
		case isFlag(a, "--"+old):
		default:
			args = append(args, args0[i])
			for _, flag := range []string{AddressFlag, InsecureFlag} {
				has[flag] = has[flag] || isFlag(a, flag)
			}
		}
	}
	address, insecure := ":8443", "false"
	if clusterctl {
		address, insecure = "${CAPI_DIAGNOSTICS_ADDRESS:=:8443}", "${CAPI_INSECURE_DIAGNOSTICS:=false}"
	}
	if !has[AddressFlag] {
		args = append(args, AddressFlag+"="+address)
	}
	if !has[InsecureFlag] {
		args = append(args, InsecureFlag+"="+insecure)
	}
	if hasArgs || len(args) > 0 {
		mgr["args"] = args
	}
	addPort(mgr, PortName)
}

// portNumbers reads every containerPort of "8443" as the number.
func portNumbers(docs []any) []any {
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case object:
			if v["containerPort"] == "8443" {
				v["containerPort"] = 8443
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(docs)
	return docs
}

// stringKeys makes every mapping of docs a map[string]any, as the models expect: YAML allows keys of any
// type, and a mapping with one that is not a string decodes as map[any]any.
func stringKeys(docs []any) []any {
	var conv func(v any) any
	conv = func(v any) any {
		switch v := v.(type) {
		case map[any]any:
			// Keys that print alike (9 and "9") collide; the string key wins, then the first by type, so
			// that the result does not depend on map order.
			keys := slices.SortedFunc(maps.Keys(v), func(a, b any) int {
				_, as := a.(string)
				_, bs := b.(string)
				if as != bs {
					if as {
						return -1
					}
					return 1
				}
				if c := strings.Compare(fmt.Sprintf("%T", a), fmt.Sprintf("%T", b)); c != 0 {
					return c
				}
				return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
			})
			m := object{}
			for _, k := range keys {
				if _, taken := m[fmt.Sprint(k)]; !taken {
					m[fmt.Sprint(k)] = conv(v[k])
				}
			}
			return m
		case object:
			for k, e := range v {
				v[k] = conv(e)
			}
		case []any:
			for i, e := range v {
				v[i] = conv(e)
			}
		}
		return v
	}
	for i, d := range docs {
		docs[i] = conv(d)
	}
	return docs
}

func FuzzRemoveProxy(f *testing.F) {
	seedManifests(f)
	f.Fuzz(func(t *testing.T, src []byte, flag uint8) {
		old, patchManager := fuzzFlags[int(flag)%len(fuzzFlags)], flag&0x80 != 0
		orig := bytes.Clone(src)
		edits, why, err := RemoveProxy("patch.yaml", src, "manager", old, patchManager)
		if !bytes.Equal(src, orig) {
			t.Fatal("RemoveProxy changed its input")
		}
		if err != nil {
			checkPositioned(t, err, "patch.yaml")
			return
		}
		if len(edits) != len(why) {
			t.Errorf("%d edits, %d reasons: %q", len(edits), len(why), why)
		}
		if len(edits) == 0 || parses(src) != nil {
			return
		}
		out := applyChecked(t, src, edits)
		containers, err := FindAll("patch.yaml", out)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range containers {
			if c.IsProxy() {
				t.Fatalf("sidecar %s left in:\n%s", c.Name, out)
			}
		}
		portName := proxyPortName(t, src)
		want, got := stringKeys(decodeAll(t, src)), stringKeys(decodeAll(t, out))
		removeProxyModel(want, portName, patchManager)
		stripArgs(want)
		stripArgs(got)
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("documents (-want +got):\n%s\nfrom:\n%s\nto:\n%s", d, src, out)
		}
		if again, _, err := RemoveProxy("patch.yaml", out, "manager", old, patchManager); err != nil || len(again) != 0 {
			t.Fatalf("second pass: %v, %v in:\n%s", again, err, out)
		}
		// A manager whose args were rewritten has nothing left to rewrite.
		for _, c := range containers {
			if c.Name != "manager" || !patchManager {
				continue
			}
			if es, _, err := c.secureArgs(old); err != nil || len(es) != 0 {
				t.Fatalf("second secureArgs: %v, %v in:\n%s", es, err, out)
			}
		}
	})
}

func FuzzRewriteJSONPatchArgs(f *testing.F) {
	seedManifests(f,
		"- op: add\n  path: /spec/template/spec/containers/0/args/0\n  value: --metrics-bind-address=:8443\n",
		"- op: replace\n  path: /spec/template/spec/containers/0/args/1\n  value: \"--metrics-addr=127.0.0.1:8080\"\n- op: add\n  path: /spec/template/spec/containers/0/args/-\n  value: --leader-elect\n",
		"- {op: add, path: /spec/template/spec/containers/0/args/0, value: '--metrics-bind-addr=:8443'}\n",
		"- op: add\n  path: /spec/template/spec/containers/0/args/0\n  value: >-\n    --metrics-bind-address=:8443\n",
	)
	f.Fuzz(func(t *testing.T, src []byte, flag uint8) {
		old := fuzzFlags[int(flag)%len(fuzzFlags)]
		orig := bytes.Clone(src)
		edits, why, err := RewriteJSONPatchArgs("patch.yaml", src, old)
		if !bytes.Equal(src, orig) {
			t.Fatal("RewriteJSONPatchArgs changed its input")
		}
		if err != nil {
			checkPositioned(t, err, "patch.yaml")
			return
		}
		if len(edits) != len(why) {
			t.Errorf("%d edits, %d reasons: %q", len(edits), len(why), why)
		}
		if len(edits) == 0 {
			return
		}
		out, err := edit.Apply(src, edits)
		if err != nil {
			t.Fatal(err)
		}
		checkUntouched(t, src, out, edits)
		var before, after any
		if err := yamlv3.Unmarshal(src, &before); err != nil {
			t.Fatalf("edits for a file that does not parse: %v", err)
		}
		if err := yamlv3.Unmarshal(out, &after); err != nil {
			t.Fatalf("rewritten patch does not parse: %v\n%s", err, out)
		}
		before, after = stringKeys([]any{before})[0], stringKeys([]any{after})[0]
		jsonPatchModel(before, old)
		if d := cmp.Diff(before, after); d != "" {
			t.Fatalf("operations (-want +got):\n%s\nfrom:\n%s\nto:\n%s", d, src, out)
		}
		if again, _, err := RewriteJSONPatchArgs("patch.yaml", out, old); err != nil || len(again) != 0 {
			t.Fatalf("second pass: %v, %v in:\n%s", again, err, out)
		}
	})
}

// removeProxyModel takes the sidecars out; the manager of their Deployment gets the sidecar's port name
// when patchManager (else Patch gives it port 8443 in manager.yaml), and where the Deployment has none, a
// manager with just that port takes the first sidecar's place.
func removeProxyModel(docs []any, portName string, patchManager bool) {
	for _, spec := range podSpecs(docs) {
		list, _ := spec["containers"].([]any)
		kept := []any{}
		var mgr object
		first := -1 // where the first sidecar was
		for _, item := range list {
			c, ok := item.(object)
			switch {
			case ok && isProxy(c):
				if first < 0 {
					first = len(kept)
				}
				continue
			case ok && c["name"] == "manager":
				mgr = c
			}
			kept = append(kept, item)
		}
		if first < 0 {
			continue
		}
		switch {
		case mgr == nil:
			mgr = object{"name": "manager"}
			addPort(mgr, portName)
			kept = append(kept[:first], append([]any{mgr}, kept[first:]...)...)
		case patchManager:
			addPort(mgr, portName)
		}
		spec["containers"] = kept
	}
}

// jsonPatchModel makes the value of every add or replace of an argument of old the diagnostics address.
func jsonPatchModel(doc any, old string) {
	ops, _ := doc.([]any)
	for _, op := range ops {
		m, _ := op.(object)
		kind, _ := m["op"].(string)
		path, _ := m["path"].(string)
		if v, ok := m["value"].(string); ok && (kind == "add" || kind == "replace") && strings.Contains(path, "/args") && isFlag(v, "--"+old) {
			m["value"] = AddressFlag + "=:8443"
		}
	}
}
