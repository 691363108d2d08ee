// SPDX-License-Identifier: Apache-2.0

package makefile

import (
	"testing"

	"github.com/diagkit/diagkit/generator/edit"
)

// FuzzParse checks that no Makefile makes the parser panic, and that a path AddPathEdit accepts is
// scanned by the same invocation once the edit is applied.
func FuzzParse(f *testing.F) {
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
		for i, r := range tools.Invocations {
			if r.Path != "Makefile" {
				continue
			}
			e, err := r.AddPathEdit("zz/new")
			if err != nil {
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
			var before int
			for _, b := range tools.Invocations[:i] {
				if b.Path == "Makefile" {
					before++
				}
			}
			if before >= len(same) || !same[before].Scans("zz/new") {
				t.Fatalf("after AddPathEdit the invocation does not scan zz/new:\n%q\n->\n%q", src, out)
			}
		}
	})
}
