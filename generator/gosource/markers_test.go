// SPDX-License-Identifier: Apache-2.0

package gosource

import (
	"fmt"
	"slices"
	"testing"
)

func TestPackageMarkersFollowsControllerGen(t *testing.T) {
	const marker = "// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create"
	tests := []struct {
		name               string
		src                string
		collected, ignored int
	}{
		{"marker group separated from func main by a blank line is collected", "package main\n\n" + marker + "\n\nfunc main() {}\n", 1, 0},
		{"marker directly above func main is its godoc and ignored", "package main\n\n" + marker + "\nfunc main() {}\n", 0, 1},
		{"marker in a var block's godoc is ignored", "package main\n\n" + marker + "\nvar (\n\tx = 1\n)\n", 0, 1},
		{"marker before the package clause is collected", marker + "\n\npackage main\n", 1, 0},
		{"marker closest to a single type declaration is moved back to package level", "package main\n\n" + marker + "\n\ntype T struct{}\n", 1, 0},
		{"marker in a single type declaration's godoc is ignored", "package main\n\n" + marker + "\ntype T struct{}\n", 0, 1},
		{"marker after the last declaration is collected", "package main\n\nfunc main() {}\n\n" + marker + "\n", 1, 0},
		{"marker inside a function is ignored", "package main\n\nfunc main() {\n\t" + marker + "\n}\n", 0, 1},
		{"marker closest to a type in a type block is moved back to package level", "package main\n\ntype (\n\t" + marker + "\n\n\tT struct{}\n)\n", 1, 0},
		{"marker in the godoc of a type in a type block is ignored", "package main\n\ntype (\n\t" + marker + "\n\tT struct{}\n)\n", 0, 1},
		{"marker on the previous declaration's last line is ignored", "package main\n\nvar x = 1 " + marker + "\n\nfunc main() {}\n", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseSource("main.go", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			collected, ignored := PackageMarkers(&Package{Dir: ".", Files: []*File{f}})
			if len(collected) != tt.collected || len(ignored) != tt.ignored {
				t.Errorf("collected %d, ignored %d; want %d, %d", len(collected), len(ignored), tt.collected, tt.ignored)
			}
		})
	}
}

func TestIgnoredMarkersNameTheirDeclaration(t *testing.T) {
	src := "package main\n\n// +kubebuilder:rbac:groups=\"\",resources=secrets,verbs=get\nfunc (r *R) Reconcile() {}\n\n" +
		"// main runs the manager.\n// +kubebuilder:rbac:groups=\"\",resources=events,verbs=create\nfunc main() {}\n"
	f, err := ParseSource("main.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, ignored := PackageMarkers(&Package{Dir: ".", Files: []*File{f}})
	var got []string
	for _, m := range ignored {
		got = append(got, fmt.Sprintf("%d %s %d", m.Line, m.Decl, m.DeclLine))
	}
	want := []string{"3 func (*R) Reconcile 4", "7 func main 8"}
	if !slices.Equal(got, want) {
		t.Errorf("ignored markers %q, want %q", got, want)
	}
}
