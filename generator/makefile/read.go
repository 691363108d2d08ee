// SPDX-License-Identifier: Apache-2.0

package makefile

import (
	"path"
	"strings"
)

// Include is an include directive (include, -include, sinclude) and whether its file was read.
type Include struct {
	// Path is the file, relative to the repository (make resolves it against the Makefile's directory),
	// variables expanded; as written when it did not expand.
	Path     string
	From     string // the file holding the directive
	Line     int
	Optional bool // -include or sinclude
	Loaded   bool // read through ParseWith's read func; false for a path that did not expand, a glob or a read error
}

// physical is one logical line of a makefile: physical lines joined by backslash-newline.
type physical struct {
	text  string // as written, without the final newline
	start int    // offset of text in the file
	num   int    // line number of its first physical line
}

func splitLines(src string) []physical {
	var out []physical
	num := 1
	for start := 0; start < len(src); {
		end := start
		for {
			nl := strings.IndexByte(src[end:], '\n')
			if nl < 0 {
				end = len(src)
				break
			}
			end += nl
			if continued(src[start:end]) {
				end++
				continue
			}
			break
		}
		text := src[start:end]
		out = append(out, physical{text: text, start: start, num: num})
		num += strings.Count(text, "\n") + 1
		start = end + 1
	}
	return out
}

// continued reports whether line ends in an odd number of backslashes (before an optional \r).
func continued(line string) bool {
	line = strings.TrimSuffix(line, "\r")
	n := 0
	for n < len(line) && line[len(line)-1-n] == '\\' {
		n++
	}
	return n%2 == 1
}

// joinContinuations turns a logical makefile line (not a recipe) into one line, as make does.
func joinContinuations(s string) string {
	if !strings.Contains(s, "\n") {
		return strings.TrimSuffix(s, "\r")
	}
	var b strings.Builder
	for i, part := range strings.Split(s, "\n") {
		part = strings.TrimSuffix(part, "\r")
		if i > 0 {
			part = strings.TrimLeft(part, " \t")
			b.WriteByte(' ')
		}
		b.WriteString(strings.TrimRight(strings.TrimSuffix(part, "\\"), " \t"))
	}
	return b.String()
}

// stripComment cuts a makefile line (not a recipe) at its first unescaped '#'; it returns the code and
// the comment (after the '#'), if any.
func stripComment(s string) (code, comment string, hasComment bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '#':
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// tri is a conditional's state: make can evaluate it, it cannot (yes and no both possible).
type tri int

const (
	no tri = iota
	maybe
	yes
)

func not(t tri) tri { return yes - t }

func and(a, b tri) tri { return min(a, b) }

func or(a, b tri) tri { return max(a, b) }

type condFrame struct{ cur, taken tri }

// recipeLine is one logical recipe line of a rule.
type recipeLine struct {
	file   string
	src    []byte
	text   string // the command as written, the recipe prefix (tab) removed
	offset int    // of text in src
	num    int    // line number of its start
	target string // the rule's (first) target, variables expanded
}

// rawRule is a rule line, expanded once every file is read (as make expands recipes).
type rawRule struct {
	targets []string
	prereqs string
	doc     string
	file    string
	line    int
}

type parser struct {
	dir      string // its directory: what make resolves relative paths against
	read     func(string) ([]byte, error)
	vars     variables
	order    int
	conds    []condFrame
	inRule   bool
	target   string // the current rule's first target (raw)
	define   *defineBlock
	recipes  []recipeLine
	rules    []rawRule
	includes []Include
	loaded   map[string]bool
	sources  map[string][]byte
}

type defineBlock struct {
	name  string
	op    string
	lines []string
	depth int
}

func (p *parser) active() tri {
	a := yes
	for _, f := range p.conds {
		a = and(a, f.cur)
	}
	return a
}

func (p *parser) parseFile(file string, src []byte, depth int) {
	p.sources[file] = src
	p.loaded[file] = true
	p.inRule = false
	conds := len(p.conds)
	for _, l := range splitLines(string(src)) {
		p.line(file, src, l, depth)
	}
	// make rejects a file whose conditionals are unbalanced; do not let one leak into the includer.
	if len(p.conds) > conds {
		p.conds = p.conds[:conds]
	}
	p.define = nil
	p.inRule = false
}

func (p *parser) line(file string, src []byte, l physical, depth int) {
	if d := p.define; d != nil {
		word := firstWord(strings.TrimSpace(l.text))
		switch word {
		case "endef":
			if d.depth == 0 {
				p.define = nil
				if p.active() != no {
					p.assign(d.name, d.op, strings.Join(d.lines, "\n"))
				}
				return
			}
			d.depth--
		case "define":
			d.depth++
		}
		d.lines = append(d.lines, l.text)
		return
	}
	if strings.HasPrefix(l.text, "\t") && p.inRule {
		if p.active() != no {
			p.recipes = append(p.recipes, recipeLine{file: file, src: src, text: l.text[1:], offset: l.start + 1, num: l.num, target: p.target})
		}
		return
	}
	joined := joinContinuations(l.text)
	code, comment, _ := stripComment(joined)
	code = strings.TrimSpace(code)
	if code == "" {
		return // blank and comment lines do not end a rule
	}
	word := firstWord(code)
	switch word {
	case "ifeq", "ifneq", "ifdef", "ifndef", "else", "endif":
		p.conditional(word, strings.TrimSpace(code[len(word):]))
		return
	}
	// A define is skipped to its endef even in a branch not taken (endef assigns only in one taken).
	if _, r := stripModifiers(code); firstWord(r) == "define" {
		if p.active() != no {
			p.inRule = false
		}
		p.startDefine(strings.TrimSpace(r[len("define"):]))
		return
	}
	if p.active() == no {
		return
	}
	p.inRule = false // anything but a rule line ends the rule before it
	rest := strings.TrimSpace(code[len(word):])
	switch word {
	case "include", "-include", "sinclude":
		if rest != "" {
			p.include(file, l.num, rest, word != "include", depth)
			return
		}
	case "undefine":
		delete(p.vars, p.vars.expand(rest, ""))
		return
	case "vpath", "unexport":
		return
	}
	if name, op, value, ok := parseAssignment(code); ok {
		p.assign(p.vars.expand(name, ""), op, value)
		return
	}
	if _, r := stripModifiers(code); firstWord(code) == "export" && !strings.ContainsAny(r, ":=") {
		return // export NAME
	}
	p.rule(file, src, l, code, comment)
}

func firstWord(s string) string {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i]
	}
	return s
}

// stripModifiers removes leading export/override/private from an assignment.
func stripModifiers(s string) (bool, string) {
	stripped := false
	for {
		w := firstWord(s)
		if (w == "export" || w == "override" || w == "private") && len(s) > len(w) {
			s, stripped = strings.TrimSpace(s[len(w):]), true
			continue
		}
		return stripped, s
	}
}

// parseAssignment splits `[export|override|private ...] NAME OP VALUE`. The name is returned as written.
func parseAssignment(s string) (name, op, value string, ok bool) {
	_, s = stripModifiers(s)
	level := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '(', '{':
			level++
		case ')', '}':
			level--
		case ':':
			if level > 0 {
				continue
			}
			j := i
			for j < len(s) && s[j] == ':' {
				j++
			}
			if j < len(s) && s[j] == '=' && j-i <= 3 {
				return assignmentParts(s[:i], s[i:j+1], s[j+1:])
			}
			return s[:i], "", "", false // a rule
		case '=':
			if level > 0 {
				continue
			}
			start := i
			if i > 0 && strings.IndexByte("?+!", s[i-1]) >= 0 {
				start = i - 1
			}
			return assignmentParts(s[:start], s[start:i+1], s[i+1:])
		}
	}
	return s, "", "", false
}

func assignmentParts(name, op, value string) (string, string, string, bool) {
	name = strings.TrimSpace(name)
	if name == "" || strings.ContainsAny(name, " \t") {
		return name, op, value, false
	}
	return name, op, strings.TrimSpace(value), true
}

// assign applies NAME OP VALUE. In a branch of a conditional make might or might not take, only a
// variable not yet defined is set: the value is a guess, better than none.
func (p *parser) assign(name, op, value string) {
	old, defined := p.vars[name]
	if p.active() == maybe && defined {
		return
	}
	set := func(value string, simple bool) {
		if defined {
			old.value, old.simple = value, simple
			return
		}
		p.order++
		p.vars[name] = &variable{value: value, simple: simple, order: p.order}
	}
	switch op {
	case "?=":
		if !defined {
			set(value, false)
		}
	case ":=", "::=", ":::=":
		set(p.vars.expand(value, ""), true)
	case "+=":
		switch {
		case !defined:
			set(value, false)
		case old.simple:
			set(joinValues(old.value, p.vars.expand(value, "")), true)
		default:
			set(joinValues(old.value, value), false)
		}
	case "!=":
		set("$(shell "+value+")", false)
	default:
		set(value, false)
	}
}

func joinValues(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

func (p *parser) startDefine(rest string) {
	name, op := strings.TrimSpace(rest), "="
	for _, o := range []string{":::=", "::=", ":=", "?=", "+=", "!=", "="} {
		if n, ok := strings.CutSuffix(name, o); ok {
			name, op = strings.TrimSpace(n), o
			break
		}
	}
	p.define = &defineBlock{name: p.vars.expand(name, ""), op: op}
}

func (p *parser) conditional(word, rest string) {
	switch word {
	case "endif":
		if len(p.conds) > 0 {
			p.conds = p.conds[:len(p.conds)-1]
		}
	case "else":
		if len(p.conds) == 0 {
			return
		}
		f := &p.conds[len(p.conds)-1]
		if w := firstWord(rest); rest != "" {
			v := p.evalCondition(w, strings.TrimSpace(rest[len(w):]))
			f.cur, f.taken = and(not(f.taken), v), or(f.taken, v)
		} else {
			f.cur, f.taken = not(f.taken), yes
		}
	default:
		v := p.evalCondition(word, rest)
		p.conds = append(p.conds, condFrame{cur: v, taken: v})
	}
}

func (p *parser) evalCondition(word, rest string) tri {
	switch word {
	case "ifdef", "ifndef":
		name := p.vars.expand(rest, "")
		if !resolved(name) {
			return maybe
		}
		v := yes
		if value, ok := p.vars[name]; !ok || value.value == "" {
			v = no
		}
		if word == "ifndef" {
			v = not(v)
		}
		return v
	case "ifeq", "ifneq":
		a, b, ok := conditionArgs(rest)
		if !ok {
			return maybe
		}
		a, b = strings.TrimSpace(p.vars.expand(a, "")), strings.TrimSpace(p.vars.expand(b, ""))
		if !resolved(a) || !resolved(b) {
			return maybe
		}
		v := no
		if a == b {
			v = yes
		}
		if word == "ifneq" {
			v = not(v)
		}
		return v
	}
	return maybe
}

// conditionArgs splits `(a,b)`, `"a" "b"` or `'a' 'b'`.
func conditionArgs(s string) (string, string, bool) {
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		inner := s[1 : len(s)-1]
		level := 0
		for i := 0; i < len(inner); i++ {
			switch inner[i] {
			case '(', '{':
				level++
			case ')', '}':
				level--
			case ',':
				if level == 0 {
					return inner[:i], inner[i+1:], true
				}
			}
		}
		return "", "", false
	}
	var args []string
	for len(s) > 0 && len(args) < 2 {
		q := s[0]
		if q != '"' && q != '\'' {
			return "", "", false
		}
		end := strings.IndexByte(s[1:], q)
		if end < 0 {
			return "", "", false
		}
		args = append(args, s[1:1+end])
		s = strings.TrimSpace(s[end+2:])
	}
	if len(args) != 2 {
		return "", "", false
	}
	return args[0], args[1], true
}

func (p *parser) include(from string, num int, rest string, optional bool, depth int) {
	for _, name := range strings.Fields(p.vars.expand(rest, "")) {
		inc := Include{Path: name, From: from, Line: num, Optional: optional}
		if resolved(name) && !path.IsAbs(name) && !strings.ContainsAny(name, "*?[") {
			full := path.Join(p.dir, name)
			inc.Path = full
			if p.read != nil && depth < 10 && !p.loaded[full] {
				if data, err := p.read(full); err == nil {
					inc.Loaded = true
					p.includes = append(p.includes, inc)
					p.parseFile(full, data, depth+1)
					continue
				}
			} else if p.loaded[full] {
				inc.Loaded = true
			}
		}
		p.includes = append(p.includes, inc)
	}
}

// rule records a rule line; code is the line without its comment.
func (p *parser) rule(file string, src []byte, l physical, code, comment string) {
	colon := topLevel(code, ':')
	if colon <= 0 {
		return // something else (a bare $(shell ...), $(eval ...)): it ends the rule before it
	}
	targets := strings.Fields(strings.TrimSuffix(strings.TrimSpace(code[:colon]), "&"))
	if len(targets) == 0 {
		return
	}
	rest := code[colon+1:]
	rest = strings.TrimPrefix(rest, ":") // double-colon rule
	if _, _, _, ok := parseAssignment(rest); ok {
		return // a target-specific variable
	}
	var inline string
	inlineAt := -1
	if semi := topLevel(rest, ';'); semi >= 0 {
		rest = rest[:semi]
		// Find the recipe in the line as written, for its byte offset.
		if c := topLevel(l.text, ':'); c >= 0 {
			if s := strings.IndexByte(l.text[c:], ';'); s >= 0 {
				inlineAt = c + s + 1
				inline = l.text[inlineAt:]
			}
		}
	}
	if second := topLevel(rest, ':'); second >= 0 { // a static pattern rule: targets: pattern: prereqs
		rest = rest[second+1:]
	}
	doc := ""
	if d, ok := strings.CutPrefix(comment, "#"); ok && inlineAt < 0 {
		doc = strings.TrimSpace(d)
	}
	p.rules = append(p.rules, rawRule{targets: targets, prereqs: rest, doc: doc, file: file, line: l.num})
	p.inRule, p.target = true, targets[0]
	if inlineAt >= 0 {
		p.recipes = append(p.recipes, recipeLine{file: file, src: src, text: inline, offset: l.start + inlineAt, num: l.num, target: p.target})
	}
}

// topLevel returns the index of the first c in s outside $(...) and ${...}, or -1.
func topLevel(s string, c byte) int {
	level := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '{':
			level++
		case ')', '}':
			level--
		case c:
			if level == 0 {
				return i
			}
		}
	}
	return -1
}
