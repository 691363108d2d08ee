// SPDX-License-Identifier: Apache-2.0

package check

import (
	"strings"
	"testing"

	"github.com/diagkit/diagkit/generator"
	"github.com/diagkit/diagkit/generator/gosource"
)

func TestIgnoredMarkersFixSaysWhereToMoveThem(t *testing.T) {
	const rule = "+kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create"
	tests := []struct {
		name   string
		marker gosource.Marker
		fix    string
	}{
		{"markers ending the doc comment get a blank line",
			gosource.Marker{Line: 9, Decl: "func main", DeclLine: 10}, "insert a blank line between line 9 and func main (line 10)"},
		{"markers above more doc text move above it",
			gosource.Marker{Line: 8, Decl: "func main", DeclLine: 10}, "move line 8 above the doc comment of func main"},
		{"markers inside a declaration move out of it",
			gosource.Marker{Line: 12, Decl: "func main", DeclLine: 10, Inside: true}, "move line 12 out of func main"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &repo{t: &generator.Target{RoleName: "manager-role"}}
			tt.marker.File, tt.marker.Text = "main.go", rule
			if err := r.reportIgnored([]gosource.Marker{tt.marker}); err != nil {
				t.Fatal(err)
			}
			if f := r.findings[0]; !strings.HasPrefix(f.Fix, tt.fix) || !strings.Contains(f.Message, "create tokenreviews.authentication.k8s.io") {
				t.Errorf("got %q / %q, want a fix starting %q", f.Message, f.Fix, tt.fix)
			}
		})
	}
}
