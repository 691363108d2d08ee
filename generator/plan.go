// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// FileChange is the planned new content of one file.
type FileChange struct {
	Path          string // slash-separated, relative to the repository
	Before, After []byte
	Reasons       []string
	// Edited are the byte ranges of Before that edits replaced (insertions are empty ranges). Lines
	// outside them stay as they were, up to gofmt's realignment of neighbouring Go lines.
	Edited [][2]int
}

// Plan is every change a retrofit makes, sorted by path, and what the maintainer should know.
type Plan struct {
	Root    string
	Backend string
	Changes []FileChange
	// Warnings are problems the plan leaves for a person (a stale role.yaml, for example).
	Warnings []string
	// Next are the commands to run after applying, such as go mod tidy.
	Next []string
	// Managers says, when the repository has several, which one runs where and which were left alone.
	Managers []string
}

// Empty reports whether there is nothing to change.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

// Paths returns the files the plan changes.
func (p *Plan) Paths() []string {
	paths := make([]string, len(p.Changes))
	for i, c := range p.Changes {
		paths[i] = c.Path
	}
	return paths
}

// Summary writes one line per file with its reasons, then warnings and next steps.
func (p *Plan) Summary(w io.Writer) {
	for _, m := range p.Managers {
		fmt.Fprintf(w, "manager %s\n", m)
	}
	if p.Empty() {
		fmt.Fprintln(w, "nothing to change: the repository already serves its metrics through diagnostics")
	}
	for _, c := range p.Changes {
		fmt.Fprintf(w, "%s\n", c.Path)
		for _, r := range c.Reasons {
			fmt.Fprintf(w, "  - %s\n", r)
		}
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	for _, n := range p.Next {
		fmt.Fprintf(w, "next: %s\n", n)
	}
}

// Diff writes a unified diff of the plan that `git apply` accepts.
func (p *Plan) Diff(w io.Writer) error {
	for _, c := range p.Changes {
		fmt.Fprintf(w, "diff --git a/%s b/%s\n", c.Path, c.Path)
		ud := difflib.UnifiedDiff{
			A: splitLines(c.Before), B: splitLines(c.After),
			FromFile: "a/" + c.Path, ToFile: "b/" + c.Path, Context: 3,
		}
		if err := difflib.WriteUnifiedDiff(w, ud); err != nil {
			return fmt.Errorf("diff %s: %w", c.Path, err)
		}
	}
	return nil
}

// splitLines splits after each newline; a last line without one is marked the way diff(1) does.
func splitLines(b []byte) []string {
	lines := difflib.SplitLines(string(b))
	// difflib.SplitLines appends an empty "\n" line for the final newline; drop it.
	if len(lines) > 0 && lines[len(lines)-1] == "\n" && (len(b) == 0 || b[len(b)-1] == '\n') {
		lines = lines[:len(lines)-1]
	}
	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\n")) {
		lines[len(lines)-1] = strings.TrimSuffix(lines[len(lines)-1], "\n") + "\n\\ No newline at end of file\n"
	}
	return lines
}
