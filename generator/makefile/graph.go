// SPDX-License-Identifier: Apache-2.0

package makefile

import (
	"path"
	"slices"
	"strings"

	"github.com/diagkit/diagkit/generator/gobuild"
)

// Rule is a make target and what making it makes.
type Rule struct {
	Name    string // variables expanded
	File    string // the file of its first rule line
	Line    int
	Prereqs []string // over all its rule lines, variables expanded, order-only ones included
	Makes   []string // targets its recipe makes by running make on this Makefile ($(MAKE) t, $(MAKE) -C . t, make t)
	Doc     string   // the help text of its first documented rule line (`target: ## text`)
	Phony   bool     // listed in .PHONY
}

// specialTargets are make's built-in targets, not rules a person runs.
var specialTargets = map[string]bool{
	".PHONY": true, ".SUFFIXES": true, ".DEFAULT": true, ".PRECIOUS": true, ".INTERMEDIATE": true,
	".NOTINTERMEDIATE": true, ".SECONDARY": true, ".SECONDEXPANSION": true, ".DELETE_ON_ERROR": true,
	".IGNORE": true, ".LOW_RESOLUTION_TIME": true, ".SILENT": true, ".EXPORT_ALL_VARIABLES": true,
	".NOTPARALLEL": true, ".ONESHELL": true, ".POSIX": true, ".WAIT": true, ".DEFAULT_GOAL": true,
}

func (t *Tools) buildRules(raw []rawRule) {
	t.rules = map[string]*Rule{}
	var phony []string
	for _, rr := range raw {
		var prereqs []string
		for _, p := range fields(t.vars.expand(rr.prereqs, "")) {
			if p != "|" && p != ".WAIT" {
				prereqs = append(prereqs, p)
			}
		}
		for _, name := range rr.targets {
			for _, n := range fields(t.vars.expand(name, "")) {
				if n == ".PHONY" {
					phony = append(phony, prereqs...)
				}
				if specialTargets[n] {
					continue
				}
				r := t.rules[n]
				if r == nil {
					r = &Rule{Name: n, File: rr.file, Line: rr.line}
					t.rules[n] = r
					t.targets = append(t.targets, n)
				}
				r.Prereqs = appendNew(r.Prereqs, prereqs...)
				if r.Doc == "" {
					r.Doc = rr.doc
				}
			}
		}
	}
	for _, n := range phony {
		if r := t.rules[n]; r != nil {
			r.Phony = true
		} else {
			t.rules[n] = &Rule{Name: n, Phony: true} // phony without a rule of its own: still a name
		}
	}
}

// fields splits s at white space outside $(...) and ${...}.
func fields(s string) []string {
	var out []string
	level, start := 0, -1
	for i := 0; i <= len(s); i++ {
		c := byte(' ')
		if i < len(s) {
			c = s[i]
		}
		switch c {
		case '(', '{':
			level++
		case ')', '}':
			level--
		case ' ', '\t', '\n', '\r':
			if level <= 0 {
				if start >= 0 {
					out = append(out, s[start:i])
				}
				start = -1
				continue
			}
		}
		if start < 0 {
			start = i
		}
	}
	return out
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		if !slices.Contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}

// makeCalls returns the targets c makes when it runs make on this Makefile.
func (t *Tools) makeCalls(c command) []string {
	prog := c.program()
	if len(prog) == 0 || c.cwd != "." {
		return nil
	}
	switch v := prog[0].value; {
	case v == "$(MAKE)", v == "${MAKE}", v == "make", v == "gmake", strings.HasSuffix(v, "/make"):
	default:
		return nil
	}
	var targets []string
	args := prog[1:]
	for i := 0; i < len(args); i++ {
		a := args[i].value
		if a == "--" {
			continue
		}
		if strings.HasPrefix(a, "-") {
			name, value, hasValue := strings.Cut(a, "=")
			takesValue := false
			switch {
			case strings.HasPrefix(a, "--"):
				switch name {
				case "--directory", "--file", "--makefile", "--include-dir", "--old-file", "--assume-old", "--new-file", "--assume-new", "--what-if":
					takesValue = !hasValue
				case "--jobs", "--load-average":
					if !hasValue && i+1 < len(args) && isNumber(args[i+1].value) {
						i++
					}
				}
			default:
				// Short options may be grouped (-sC dir); the option taking a value is the last one.
				flags := a[1:]
				for j := 0; j < len(flags); j++ {
					if strings.IndexByte("CfIoW", flags[j]) >= 0 {
						name = "-" + flags[j:j+1]
						if j+1 < len(flags) {
							value, hasValue = flags[j+1:], true
						} else {
							takesValue, hasValue = true, false
						}
						break
					}
					if strings.IndexByte("jl", flags[j]) >= 0 {
						if j+1 == len(flags) && i+1 < len(args) && isNumber(args[i+1].value) {
							i++
						}
						break
					}
				}
			}
			if takesValue {
				if i+1 >= len(args) {
					return nil
				}
				i++
				value, hasValue = args[i].value, true
			}
			if hasValue {
				switch name {
				case "-C", "--directory":
					if !resolved(value) || path.Clean(value) != "." {
						return nil // another Makefile
					}
				case "-f", "--file", "--makefile":
					if !resolved(value) || path.Clean(value) != path.Clean(path.Base(t.file)) {
						return nil
					}
				}
			}
			continue
		}
		if gobuild.EnvAssignment(a) {
			continue
		}
		targets = append(targets, a)
	}
	return targets
}

func isNumber(s string) bool { return isDigits(strings.Replace(s, ".", "", 1)) }

// Targets returns the names of the Makefile's rules in the order they first appear, make's special
// targets (.PHONY, ...) left out.
func (t *Tools) Targets() []string { return slices.Clone(t.targets) }

// Rule returns the rule named name, or nil.
func (t *Tools) Rule(name string) *Rule { return t.rules[name] }

// Phony reports whether name is listed in .PHONY.
func (t *Tools) Phony(name string) bool { r := t.rules[name]; return r != nil && r.Phony }

// Reaches reports whether making target from makes target to: through prerequisites and the make runs
// of recipes, transitively. A target reaches itself.
func (t *Tools) Reaches(from, to string) bool {
	seen := map[string]bool{from: true}
	queue := []string{from}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if n == to {
			return true
		}
		r := t.rules[n]
		if r == nil {
			continue
		}
		for _, next := range slices.Concat(r.Prereqs, r.Makes) {
			if !seen[next] {
				seen[next] = true
				queue = append(queue, next)
			}
		}
	}
	return false
}

// runnable reports whether a person would run the target: it is phony, documented (## help) or named
// like a command rather than a file.
func (t *Tools) runnable(name string) bool {
	if r := t.rules[name]; r != nil && (r.Phony || r.Doc != "") {
		return true
	}
	return !strings.ContainsAny(name, "/.$%")
}

// EntryTarget returns the target a person runs to make rule: the rule itself when it is phony,
// documented or named like a command; otherwise the nearest such target that reaches it (fewest steps,
// then shortest name, then first in the Makefile), such as generate-manifests for a file rule
// config/.flag.mk it depends on; and the rule itself when no such target reaches it.
func (t *Tools) EntryTarget(rule string) string {
	if t.runnable(rule) {
		return rule
	}
	parents := map[string][]string{}
	for _, n := range t.targets {
		r := t.rules[n]
		for _, child := range slices.Concat(r.Prereqs, r.Makes) {
			parents[child] = appendNew(parents[child], n)
		}
	}
	index := map[string]int{}
	for i, n := range t.targets {
		index[n] = i
	}
	dist := map[string]int{rule: 0}
	queue := []string{rule}
	best := ""
	better := func(n string) bool {
		switch {
		case best == "":
			return true
		case dist[n] != dist[best]:
			return dist[n] < dist[best]
		case len(n) != len(best):
			return len(n) < len(best)
		}
		return index[n] < index[best]
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if n != rule && t.runnable(n) && better(n) {
			best = n
		}
		for _, p := range parents[n] {
			if _, seen := dist[p]; !seen {
				dist[p] = dist[n] + 1
				queue = append(queue, p)
			}
		}
	}
	if best == "" {
		return rule
	}
	return best
}
