// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diagkit/diagkit/generator/edit"
)

// TestVerifyNames: a plan whose Go edits would not build for a reason visible without the imports'
// contents is refused with the file and line; a plan that builds, or a package broken the same way
// before, passes. KEDA's `metricsAddr = "0"` left behind after the variable went is the first case.
func TestVerifyNames(t *testing.T) {
	const before = `package main

import (
	"flag"
	"os"

	"example.com/helpers"
)

func main() {
	var metricsAddr string
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "")
	flag.Parse()
	if os.Getenv("NO_METRICS") != "" {
		metricsAddr = "0"
	}
	helpers.Run(metricsAddr, notDeclaredAnywhere)
}
`
	tests := []struct {
		name, after string
		want        string // "" when the plan passes
		line        int
	}{
		{name: "a declaration removed while still used", after: strings.Replace(strings.Replace(before,
			"\tvar metricsAddr string\n\tflag.StringVar(&metricsAddr, \"metrics-bind-address\", \":8080\", \"\")\n", "", 1),
			"helpers.Run(metricsAddr, notDeclaredAnywhere)", "helpers.Run(notDeclaredAnywhere)", 1),
			want: "undefined: metricsAddr", line: 13},
		{name: "a variable left unused", after: strings.Replace(before, "\tflag.Parse()\n", "\tflag.Parse()\n\tleftover := 1\n", 1),
			want: "declared and not used: leftover", line: 14},
		{name: "an import left unused", after: strings.Replace(before, "helpers.Run(metricsAddr, notDeclaredAnywhere)", "_ = metricsAddr", 1),
			want: `"example.com/helpers" imported and not used`, line: 7},
		{name: "a name declared twice", after: strings.Replace(before, "\tflag.Parse()\n", "\tflag.Parse()\n\tvar metricsAddr string\n", 1),
			want: "metricsAddr redeclared in this block", line: 14},
		{name: "an edit that builds", after: strings.Replace(before, `metricsAddr = "0"`, `metricsAddr = ":8443"`, 1)},
		{name: "an import's names are not judged", after: strings.Replace(before, "helpers.Run(", "helpers.NotThere(", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(before), 0o644); err != nil {
				t.Fatal(err)
			}
			target := &Target{Root: dir, files: map[string]snapshot{}}
			err := verifyNames(target, &Plan{Changes: []FileChange{{Path: "main.go", Before: []byte(before), After: []byte(tt.after)}}})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var pe *edit.PositionError
			if !errors.As(err, &pe) || pe.File != "main.go" || pe.Line != tt.line || pe.Found != tt.want {
				t.Fatalf("got %v, want main.go:%d … found %s", err, tt.line, tt.want)
			}
		})
	}
}
