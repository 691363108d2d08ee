// SPDX-License-Identifier: Apache-2.0

package gosource

import (
	"testing"
)

func TestPackageMarkersFollowsControllerGen(t *testing.T) {
	const marker = "// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create"
	tests := []struct {
		name          string
		src           string
		collected     int
		ignoredInDocs int
	}{
		{"marker group separated from func main by a blank line is collected", "package main\n\n" + marker + "\n\nfunc main() {}\n", 1, 0},
		{"marker directly above func main is its godoc and ignored", "package main\n\n" + marker + "\nfunc main() {}\n", 0, 1},
		{"marker in a var block's godoc is ignored", "package main\n\n" + marker + "\nvar (\n\tx = 1\n)\n", 0, 1},
		{"marker before the package clause is collected", marker + "\n\npackage main\n", 1, 0},
		{"marker closest to a single type declaration belongs to the type", "package main\n\n" + marker + "\n\ntype T struct{}\n", 0, 0},
		{"marker after the last declaration is dropped", "package main\n\nfunc main() {}\n\n" + marker + "\n", 0, 0},
		{"marker inside a function is not package-level", "package main\n\nfunc main() {\n\t" + marker + "\n}\n", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseSource("main.go", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			collected, ignored := PackageMarkers(&Package{Dir: ".", Files: []*File{f}})
			if len(collected) != tt.collected || len(ignored) != tt.ignoredInDocs {
				t.Errorf("collected %d, ignored %d; want %d, %d", len(collected), len(ignored), tt.collected, tt.ignoredInDocs)
			}
		})
	}
}
