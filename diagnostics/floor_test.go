// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/version"
)

// TestRequirementsForceNoUpgrade: a repository on controller-runtime v0.16.0 that imports this module
// keeps every module version it had. Every requirement of this module's go.mod — what a consumer's
// pruned module graph loads of it — is at most the version controller-runtime v0.16.0's own module graph
// selects (when that graph has the module at all). It reads go.mod also when the tests run with
// -modfile=go.latest.mod: the floor is go.mod's.
func TestRequirementsForceNoUpgrade(t *testing.T) {
	ours := requirements(t)
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/floor\n\ngo 1.20\n\nrequire sigs.k8s.io/controller-runtime v0.16.0\n")
	write("main.go", "package main\n\nimport _ \"sigs.k8s.io/controller-runtime\"\n\nfunc main() {}\n")
	run(t, dir, "go", "mod", "tidy")
	floor := moduleGraph(t, dir)
	if v := ours["sigs.k8s.io/controller-runtime"]; v != "v0.16.0" {
		t.Errorf("go.mod requires controller-runtime %s, not the v0.16.0 the generator accepts", v)
	}
	for mod, v := range ours {
		if f, ok := floor[mod]; ok && newer(v, f) {
			t.Errorf("%s %s is newer than controller-runtime v0.16.0's %s: importing diagnostics would upgrade it", mod, v, f)
		}
	}
}

// newer reports whether module version a is above b (pseudo-versions compare as semver pre-releases).
func newer(a, b string) bool {
	va, errA := version.ParseSemantic(a)
	vb, errB := version.ParseSemantic(b)
	if errA != nil || errB != nil {
		return a != b // unparsable: only identical versions are known not to move
	}
	return vb.LessThan(va)
}

// requirements are go.mod's require lines: module path to version.
func requirements(t *testing.T) map[string]string {
	t.Helper()
	var mod struct {
		Require []struct{ Path, Version string }
	}
	if err := json.Unmarshal(run(t, ".", "go", "mod", "edit", "-json", "go.mod"), &mod); err != nil {
		t.Fatal(err)
	}
	reqs := map[string]string{}
	for _, r := range mod.Require {
		reqs[r.Path] = r.Version
	}
	return reqs
}

// moduleGraph is `go list -m all` in dir: module path to selected version.
func moduleGraph(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := run(t, dir, "go", "list", "-mod=mod", "-m", "all")
	mods := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 {
			mods[f[0]] = f[1]
		}
	}
	return mods
}

func run(t *testing.T, dir string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}
