// SPDX-License-Identifier: Apache-2.0

package edit

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
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
