// SPDX-License-Identifier: Apache-2.0

package gosource

import (
	"bytes"
	"errors"
	"go/format"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/internal/fixture"
)

// FuzzPatch holds Analyze and Patch to what a retrofit needs of any main.go: an error names the file and
// a line (or is a refusal saying where) and changes nothing; the patched file parses, keeps every line
// outside the edited ranges (gofmt may realign and sort what it formats), and analysed again is
// retrofitted with nothing left to patch.
func FuzzPatch(f *testing.F) {
	files, err := fixture.Files(func(p string) bool { return strings.HasSuffix(p, ".go") })
	if err != nil {
		f.Fatal(err)
	}
	for i, file := range files {
		if bytes.Contains(file.Data, []byte("NewManager(")) || bytes.Contains(file.Data, []byte(".New(")) {
			f.Add(file.Data, uint8(i))
		}
	}
	f.Add([]byte(header+"\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: server.Options{BindAddress: metricsAddr}})\n\tif err != nil {\n\t\tos.Exit(1)\n\t}\n\t_ = mgr\n}\n"), uint8(0))
	f.Fuzz(func(t *testing.T, src []byte, choice uint8) {
		backend := Diagkit
		if choice&1 != 0 {
			backend = CAPI
		}
		orig := bytes.Clone(src)
		file, err := ParseSource("main.go", src)
		if err != nil {
			return // not Go: the generator reports the parser's error
		}
		calls := FindManagerCall(file)
		if len(calls) == 0 {
			return
		}
		pkg := &Package{Dir: ".", Files: []*File{file}}
		m, err := Analyze(pkg, file, calls[0])
		if err != nil {
			checkPositioned(t, err)
			return
		}
		changes, err := Patch(m, backend, markerEdit(m))
		if !bytes.Equal(src, orig) {
			t.Fatal("Patch changed its input")
		}
		if err != nil {
			checkPositioned(t, err)
			return
		}
		if len(changes) == 0 {
			return
		}
		if len(changes) != 1 || changes[0].Path != "main.go" {
			t.Fatalf("changes to %d files of a one-file package", len(changes))
		}
		out := changes[0].After
		again, err := ParseSource("main.go", out)
		if err != nil {
			t.Fatalf("patched file does not parse: %v\n%s", err, out)
		}
		checkKept(t, src, out, changes[0].Edited)
		calls = FindManagerCall(again)
		if len(calls) == 0 {
			t.Fatalf("no manager left in:\n%s", out)
		}
		m2, err := Analyze(&Package{Dir: ".", Files: []*File{again}}, again, calls[0])
		if err != nil || !m2.Retrofitted {
			t.Fatalf("patched file analysed again: retrofitted %v, %v\n%s", m2.Retrofitted, err, out)
		}
		twice, err := Patch(m2, backend, markerEdit(m2))
		if err != nil || len(twice) != 0 {
			t.Fatalf("second Patch: %d changes, %v\n%s", len(twice), err, out)
		}
	})
}

// markerEdit decides about the review markers as the generator does, by their text.
func markerEdit(m *Manager) MarkerEdit {
	collected, ignored := PackageMarkers(m.Pkg)
	has := func(ms []Marker, decl string) bool {
		for _, want := range RBACMarkers {
			if !slices.ContainsFunc(ms, func(mk Marker) bool {
				return "// "+mk.Text == want && (decl == "" || mk.Decl == decl && !mk.Inside)
			}) {
				return false
			}
		}
		return true
	}
	switch {
	case has(collected, ""):
		return MarkersCollected
	case m.Func != nil && m.Func.Doc != nil && has(ignored, "func "+m.Func.Name.Name):
		return FreeDocMarkers
	}
	return AddMarkers
}

// positioned is what a refusal starts with.
var positioned = regexp.MustCompile(`^main\.go:[1-9][0-9]*: `)

// checkPositioned: err is a *edit.PositionError naming main.go and a line, or a refusal (edit.ErrRefused)
// whose message does.
func checkPositioned(t *testing.T, err error) {
	t.Helper()
	var pe *edit.PositionError
	switch {
	case errors.As(err, &pe):
		if pe.File != "main.go" || pe.Line <= 0 {
			t.Fatalf("error %q names no line of main.go", err)
		}
	case errors.Is(err, edit.ErrRefused):
		if !positioned.MatchString(strings.TrimPrefix(err.Error(), edit.ErrRefused.Error()+": ")) {
			t.Fatalf("refusal %q names no line of main.go", err)
		}
	default:
		t.Fatalf("error %q (%T) names no position", err, err)
	}
}

// checkKept: every line of src that no edited range touches is in out, as often; when Patch reformatted
// the file (it was gofmt-clean), up to spacing.
func checkKept(t *testing.T, src, out []byte, edited [][2]int) {
	t.Helper()
	formatted, err := format.Source(src)
	reformatted := err == nil && bytes.Equal(formatted, src)
	norm := func(line string) string {
		if reformatted {
			return strings.Join(strings.Fields(line), " ")
		}
		return line
	}
	have := map[string]int{}
	for _, line := range strings.Split(string(out), "\n") {
		have[norm(line)]++
	}
	offs := edit.LineOffsets(src)
	for i, start := range offs {
		end := len(src)
		if i+1 < len(offs) {
			end = offs[i+1]
		}
		touched := false
		for _, e := range edited {
			// An insertion at a line's start leaves the line whole.
			touched = touched || e[0] < end && e[1] > start || e[0] == e[1] && e[0] > start && e[0] < end
		}
		line := norm(strings.TrimSuffix(string(src[start:end]), "\n"))
		if touched || line == "" {
			continue
		}
		if have[line] == 0 {
			t.Fatalf("line %d %q is gone:\n%s", i+1, line, out)
		}
		have[line]--
	}
}
