// SPDX-License-Identifier: Apache-2.0

package makefile

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/internal/fixture"
)

// FuzzParse checks that no Makefile makes the parser panic, and what AddPathEdit promises of any
// invocation: a refusal names the invocation's file and line; an accepted path is scanned by the same
// invocation once the edit is applied, which then refuses it as already scanned; and nothing else the
// Makefile says changes: the invocation's other paths, role and output, every other invocation, and the
// controller-gen version.
func FuzzParse(f *testing.F) {
	files, err := fixture.Files(func(p string) bool { return path.Base(p) == "Makefile" || strings.HasSuffix(p, ".mk") })
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		f.Add(string(file.Data))
	}
	for _, seed := range []string{cloudstackLike, vsphereLike, eksaLike,
		"V := paths=./a\nx:\n\t$(CONTROLLER_GEN) rbac:roleName=r $(V) # c\n",
		"x: ; controller-gen rbac:roleName=r paths=\"{./a,./b}\" && cd b && controller-gen rbac:roleName=s paths=./...\n",
		"ifeq (a,b)\nx:\n\tcontroller-gen rbac: paths=./a\nelse ifdef Y\nendif\ndefine Z\n\tfoo\nendef\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		tools := ParseWith("Makefile", []byte(src), reader(map[string]string{"inc.mk": src}))
		for _, target := range tools.Targets() {
			tools.EntryTarget(target)
			tools.Reaches("all", target)
		}
		tools.WriterOf("out/x.yaml")
		var own []*RBAC // the invocations of the Makefile itself, which the edits below change
		for _, r := range tools.Invocations {
			if r.Path == "Makefile" {
				own = append(own, r)
			}
		}
		for i, r := range own {
			e, err := r.AddPathEdit("zz/new")
			if err != nil {
				if !errors.Is(err, ErrCannotAddPath) || !strings.Contains(err.Error(), fmt.Sprintf("Makefile:%d", r.Line)) {
					t.Fatalf("AddPathEdit error %q names no Makefile:%d", err, r.Line)
				}
				continue
			}
			out, err := edit.Apply([]byte(src), []edit.Edit{e})
			if err != nil {
				t.Fatalf("edit %+v: %v", e, err)
			}
			again := Parse("Makefile", out)
			var same []*RBAC
			for _, a := range again.Invocations {
				if a.Path == "Makefile" {
					same = append(same, a)
				}
			}
			if len(same) != len(own) {
				t.Fatalf("after AddPathEdit, %d invocations instead of %d:\n%q\n->\n%q", len(same), len(own), src, out)
			}
			if !same[i].Scans("zz/new") {
				t.Fatalf("after AddPathEdit the invocation does not scan zz/new:\n%q\n->\n%q", src, out)
			}
			if _, err := same[i].AddPathEdit("zz/new"); !errors.Is(err, ErrCannotAddPath) {
				t.Fatalf("a second AddPathEdit is not refused (%v):\n%q", err, out)
			}
			for _, p := range r.Paths {
				if !same[i].Scans(p) && r.Scans(p) {
					t.Fatalf("after AddPathEdit the invocation no longer scans %s:\n%q\n->\n%q", p, src, out)
				}
			}
			// Parse reads no included file: compare with what Parse makes of the original.
			before := Parse("Makefile", []byte(src))
			if before.ControllerGenVersion != again.ControllerGenVersion {
				t.Fatalf("controller-gen version %q became %q", before.ControllerGenVersion, again.ControllerGenVersion)
			}
			if len(before.Invocations) != len(again.Invocations) {
				t.Fatalf("%d invocations became %d:\n%q\n->\n%q", len(before.Invocations), len(again.Invocations), src, out)
			}
			for j, b := range before.Invocations {
				a := again.Invocations[j]
				if j == indexOf(before.Invocations, r) {
					b, a = withoutPaths(b), withoutPaths(a)
				}
				if d := cmp.Diff(summary(b), summary(a)); d != "" {
					t.Fatalf("invocation %d changed (-before +after):\n%s\n%q\n->\n%q", j, d, src, out)
				}
			}
		}
	})
}

// summary is what a caller reads of an invocation.
func summary(r *RBAC) []any {
	return []any{r.Path, r.Line, r.Target, r.Paths, r.RoleName, r.OutputDir, r.Unresolved}
}

func withoutPaths(r *RBAC) *RBAC {
	c := *r
	c.Paths = nil
	return &c
}

// indexOf finds, among invocations of a Parse of the same Makefile, the one at r's place.
func indexOf(list []*RBAC, r *RBAC) int {
	for i, x := range list {
		if x.Path == r.Path && x.Line == r.Line && x.lastPaths == r.lastPaths {
			return i
		}
	}
	return -1
}
