// SPDX-License-Identifier: Apache-2.0

package edit

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"
)

// Edit replaces the bytes [Start, End) of the original file with Text.
type Edit struct {
	Start, End int
	Text       string
}

// Insert returns an Edit inserting text at offset.
func Insert(offset int, text string) Edit { return Edit{Start: offset, End: offset, Text: text} }

// Apply applies non-overlapping edits to src. Edits are sorted first; two insertions at one offset keep
// their order.
func Apply(src []byte, edits []Edit) ([]byte, error) {
	sorted := append([]Edit(nil), edits...)
	// At one offset an insertion goes before a replacement starting there.
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Start != sorted[j].Start {
			return sorted[i].Start < sorted[j].Start
		}
		return sorted[i].End < sorted[j].End
	})
	out := make([]byte, 0, len(src)+64)
	last := 0
	for _, e := range sorted {
		if e.Start < last || e.End < e.Start || e.End > len(src) {
			return nil, fmt.Errorf("edit [%d,%d) overlaps another or lies outside the file (%d bytes)", e.Start, e.End, len(src))
		}
		out = append(out, src[last:e.Start]...)
		out = append(out, e.Text...)
		last = e.End
	}
	return append(out, src[last:]...), nil
}

// ErrRefused marks a repository the generator will not retrofit as it stands, such as one on a
// controller-runtime without metrics server options. The CLI exits 3 for it.
var ErrRefused = errors.New("refused")

// Refusedf returns an error wrapping ErrRefused.
func Refusedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// RefusedAt returns a refusal (ErrRefused) at a place in a file, printed as `refused: file:line: reason`.
func RefusedAt(file string, line int, format string, args ...any) error {
	return &Refusal{File: file, Line: line, Reason: fmt.Sprintf(format, args...)}
}

// Refusal is a refusal at a place in a file: readers such as diagkit check report it there.
type Refusal struct {
	File   string
	Line   int
	Reason string
}

func (e *Refusal) Error() string {
	return fmt.Sprintf("%s: %s:%d: %s", ErrRefused, e.File, e.Line, e.Reason)
}

// Is makes a Refusal match ErrRefused.
func (e *Refusal) Is(target error) bool { return target == ErrRefused }

// PositionError is unexpected input at a place in a file, printed as `file:line: expected …, found …`.
type PositionError struct {
	File     string
	Line     int
	Expected string
	Found    string
}

func (e *PositionError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: expected %s, found %s", e.File, e.Line, e.Expected, e.Found)
	}
	return fmt.Sprintf("%s: expected %s, found %s", e.File, e.Expected, e.Found)
}

// LineOffsets returns the offset at which each line of src starts.
func LineOffsets(src []byte) []int {
	offs := []int{0}
	for i, b := range src {
		if b == '\n' {
			offs = append(offs, i+1)
		}
	}
	return offs
}

// LineAt returns the line starting at off, with its newline.
func LineAt(src []byte, off int) []byte {
	end := bytes.IndexByte(src[off:], '\n')
	if end < 0 {
		return src[off:]
	}
	return src[off : off+end+1]
}

// CheckLines refuses what would put a YAML parser's line numbers out of step with LineOffsets: yaml.v3
// also breaks lines at a lone \r, U+0085, U+2028 and U+2029, and reads UTF-16, so edits placed by its
// positions would land on the wrong bytes. \r\n counts once in both.
func CheckLines(path string, src []byte) error {
	if bytes.HasPrefix(src, []byte{0xfe, 0xff}) || bytes.HasPrefix(src, []byte{0xff, 0xfe}) {
		return &PositionError{File: path, Line: 1, Expected: "UTF-8", Found: "a UTF-16 byte order mark"}
	}
	line := 1
	for i := 0; i < len(src); i++ {
		found := ""
		switch {
		case src[i] == '\n':
			line++
		case src[i] == '\r' && (i+1 == len(src) || src[i+1] != '\n'):
			found = `a \r line break`
		case bytes.HasPrefix(src[i:], []byte("\u0085")), bytes.HasPrefix(src[i:], []byte("\u2028")), bytes.HasPrefix(src[i:], []byte("\u2029")):
			r, _ := utf8.DecodeRune(src[i:])
			found = fmt.Sprintf("a %U line break", r)
		}
		if found != "" {
			return &PositionError{File: path, Line: line, Expected: `lines ending in \n or \r\n`, Found: found}
		}
	}
	return nil
}
