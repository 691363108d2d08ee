// SPDX-License-Identifier: Apache-2.0

package makefile

import (
	"path"
	"strings"
)

// variable is one make variable as the Makefile (and the files it includes) leave it.
type variable struct {
	value  string
	simple bool // := (expanded when defined); the others expand when used
	order  int  // when it was first defined, for "the first of these names" lookups
}

// variables are the Makefile's variables. Expansion follows make where it matters for paths: $(NAME)
// and ${NAME} are replaced with the variable's value, expanded in turn; $$ stays $$ (a shell dollar);
// $@ is the rule's target in a recipe; $(CURDIR) and $(shell pwd) are "." (the Makefile's directory,
// which every path here is relative to); $(abspath x), $(realpath x) and $(strip x) of a relative path
// are that path. Anything else (another function, an undefined variable, a substitution reference) is
// left as written, its arguments expanded, so a result still holding '$' did not fully expand.
type variables map[string]*variable

const (
	maxDepth = 16
	// maxWork bounds one expansion (references expanded, bytes written): a Makefile whose variables
	// double at every level (A1 = $(A0)$(A0), ...) is left partly unexpanded rather than expanded forever.
	maxWork = 1 << 16
)

// expand expands s; target is $@ (empty outside a recipe).
func (vs variables) expand(s, target string) string {
	e := &expansion{vs: vs, target: target, active: map[string]bool{}}
	return e.expand(s, 0)
}

// resolved reports whether s holds no reference left unexpanded.
func resolved(s string) bool { return !strings.Contains(s, "$") }

type expansion struct {
	vs     variables
	target string
	active map[string]bool // variables being expanded: a reference to one of them is left as written
	work   int
}

func (e *expansion) expand(s string, depth int) string {
	if !strings.Contains(s, "$") || depth > maxDepth || e.work > maxWork {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		next := s[i+1]
		switch next {
		case '$':
			b.WriteString("$$")
			i++
		case '(', '{':
			end := closing(s, i+1)
			if end < 0 { // unbalanced: keep the rest as written
				b.WriteString(s[i:])
				return b.String()
			}
			e.work++
			b.WriteString(e.reference(s[i:end+1], s[i+2:end], depth))
			i = end
		case '@':
			if e.target != "" {
				b.WriteString(e.target)
			} else {
				b.WriteString("$@")
			}
			i++
		default:
			b.WriteByte(c)
			b.WriteByte(next)
			i++
		}
	}
	e.work += b.Len() / 64
	return b.String()
}

// closing returns the index of the parenthesis or brace closing the one at s[open], or -1.
func closing(s string, open int) int {
	o, c := s[open], byte(')')
	if o == '{' {
		c = '}'
	}
	level := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case o:
			level++
		case c:
			level--
			if level == 0 {
				return i
			}
		}
	}
	return -1
}

// reference expands one $(...) whose text is whole and content inner.
func (e *expansion) reference(whole, inner string, depth int) string {
	if fn, args, ok := strings.Cut(inner, " "); ok && isFunctionName(fn) {
		args = e.expand(strings.TrimLeft(args, " \t"), depth+1)
		switch fn {
		case "shell":
			if strings.TrimSpace(args) == "pwd" {
				return "."
			}
		case "abspath", "realpath", "strip":
			if a := strings.TrimSpace(args); resolved(a) && !strings.ContainsAny(a, " \t") && !path.IsAbs(a) {
				if fn == "strip" {
					return a
				}
				return path.Clean(a)
			}
		}
		return whole[:2] + fn + " " + args + whole[len(whole)-1:]
	}
	name := e.expand(inner, depth+1)
	if !resolved(name) || strings.ContainsAny(name, ":= \t") { // a computed name, a substitution reference
		return whole[:2] + name + whole[len(whole)-1:]
	}
	if v, ok := e.vs[name]; ok {
		if e.active[name] { // make rejects a variable referencing itself
			return whole
		}
		e.active[name] = true
		defer delete(e.active, name)
		return e.expand(v.value, depth+1)
	}
	switch name {
	case "@":
		if e.target != "" {
			return e.target
		}
	case "CURDIR":
		return "."
	}
	return whole
}

func isFunctionName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && r != '-' {
			return false
		}
	}
	return true
}
