// SPDX-License-Identifier: Apache-2.0

package makefile

import (
	"path"
	"strings"

	"github.com/diagkit/diagkit/generator/gobuild"
)

type tokenKind int

const (
	word       tokenKind = iota
	sep                  // ; && || & and a newline ending a comment
	pipe                 // |
	redirect             // > >> < 2> &> >& ...
	openParen            // (
	closeParen           // )
)

// token is a shell token of a recipe line; start and end are offsets in the text tokenized.
type token struct {
	kind       tokenKind
	text       string
	start, end int
}

// tokenize splits shell text into words and operators. Quotes, backslash escapes, $(...), ${...},
// $$(...) and backquotes stay inside their word; a word starting with '#' comments out the rest of its
// physical line; a backslash-newline is white space.
func tokenize(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i += 2
		case c == '\n':
			out = append(out, token{kind: sep, text: "\n", start: i, end: i + 1})
			i++
		case c == '#':
			nl := strings.IndexByte(s[i:], '\n')
			if nl < 0 {
				return out
			}
			i += nl
		case c == ';':
			out = append(out, token{kind: sep, text: ";", start: i, end: i + 1})
			i++
		case c == '(' || c == ')':
			k := openParen
			if c == ')' {
				k = closeParen
			}
			out = append(out, token{kind: k, text: string(c), start: i, end: i + 1})
			i++
		case c == '|' || c == '&':
			if c == '&' && i+1 < len(s) && s[i+1] == '>' {
				end := redirectEnd(s, i)
				out = append(out, token{kind: redirect, text: s[i:end], start: i, end: end})
				i = end
				continue
			}
			end := i + 1
			if end < len(s) && s[end] == c {
				end++
			}
			k := sep
			if s[i:end] == "|" {
				k = pipe
			}
			out = append(out, token{kind: k, text: s[i:end], start: i, end: end})
			i = end
		case c == '>' || c == '<':
			end := redirectEnd(s, i)
			out = append(out, token{kind: redirect, text: s[i:end], start: i, end: end})
			i = end
		default:
			end := wordEnd(s, i)
			// 2>file, 1>>file: a file descriptor number before a redirection belongs to it.
			if end < len(s) && (s[end] == '>' || s[end] == '<') && isDigits(s[i:end]) {
				end = redirectEnd(s, end)
				out = append(out, token{kind: redirect, text: s[i:end], start: i, end: end})
			} else {
				out = append(out, token{kind: word, text: s[i:end], start: i, end: end})
			}
			i = end
		}
	}
	return out
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// redirectEnd returns the end of the redirection operator starting at s[i] (& > < then > | &).
func redirectEnd(s string, i int) int {
	if s[i] == '&' {
		i++
	}
	i++ // > or <
	for i < len(s) && (s[i] == '>' || s[i] == '<' || s[i] == '|' || s[i] == '&') {
		i++
	}
	return i
}

// wordEnd returns the end of the word starting at s[i].
func wordEnd(s string, i int) int {
	for i < len(s) {
		switch c := s[i]; c {
		case ' ', '\t', '\r', '\n', ';', '|', '&', '<', '>', '(', ')':
			return i
		case '\\':
			if i+1 < len(s) && s[i+1] == '\n' {
				return i
			}
			i += 2
		case '\'':
			if end := strings.IndexByte(s[i+1:], '\''); end >= 0 {
				i += end + 2
			} else {
				return len(s)
			}
		case '"':
			i = quoteEnd(s, i)
		case '`':
			if end := strings.IndexByte(s[i+1:], '`'); end >= 0 {
				i += end + 2
			} else {
				return len(s)
			}
		case '$':
			j := i + 1
			if j < len(s) && s[j] == '$' {
				j++
			}
			if j < len(s) && (s[j] == '(' || s[j] == '{') {
				if end := closing(s, j); end >= 0 {
					i = end + 1
					continue
				}
				return len(s)
			}
			i = j
		default:
			i++
		}
	}
	return min(i, len(s))
}

// quoteEnd returns the index after the double quote closing the one at s[i].
func quoteEnd(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		case '$':
			if j+1 < len(s) && (s[j+1] == '(' || s[j+1] == '{') {
				if end := closing(s, j+1); end >= 0 {
					j = end
				}
			}
		}
	}
	return len(s)
}

// wellFormed reports whether the shell word w closes its quotes, $(...) references and escapes, so that
// text appended after it is a separate word.
func wellFormed(w string) bool {
	for i := 0; i < len(w); i++ {
		switch w[i] {
		case '\\':
			if i+1 >= len(w) {
				return false
			}
			i++
		case '\'':
			end := strings.IndexByte(w[i+1:], '\'')
			if end < 0 {
				return false
			}
			i += end + 1
		case '"':
			end := quoteEnd(w, i)
			if end > len(w) || w[end-1] != '"' || end-1 == i {
				return false
			}
			i = end - 1
		case '`':
			end := strings.IndexByte(w[i+1:], '`')
			if end < 0 {
				return false
			}
			i += end + 1
		case '$':
			if i+1 < len(w) && (w[i+1] == '(' || w[i+1] == '{') {
				end := closing(w, i+1)
				if end < 0 {
					return false
				}
				i = end
			}
		}
	}
	return true
}

// unquote performs the shell's quote removal on a word.
func unquote(s string) string {
	if !strings.ContainsAny(s, `"'\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				end = len(s) - i - 1
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
					i++
				}
				b.WriteByte(s[i])
			}
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// arg is one argument of a command after make's expansion.
type arg struct {
	raw   string // expanded, quotes kept
	value string // expanded, quotes removed
	// from is the byte range in the file of the word as written that the argument comes from: the
	// argument itself, or a variable reference expanding to it and maybe others.
	from     [2]int
	variable bool // the word as written held a variable reference
	// cut says that text written right after that word would not be an argument of this command: the
	// word's expansion goes on past this argument with a shell operator, a comment or an open quote.
	cut bool
}

// endsCommand says, for each token of expanded, whether a word written right after the variable
// reference expanding to it would be outside the token's command: after a shell operator that follows the
// token, or swallowed by a comment or an open quote.
func endsCommand(expanded string) []bool {
	toks, more := tokenize(expanded), tokenize(expanded+" x")
	swallowed := len(more) != len(toks)+1 || more[len(toks)].kind != word || more[len(toks)].text != "x"
	ends := make([]bool, len(toks))
	for i := len(toks) - 1; i >= 0; i-- {
		ends[i] = swallowed
		swallowed = swallowed || toks[i].kind != word && toks[i].kind != redirect
	}
	return ends
}

type redirection struct {
	op     string
	target arg
}

// command is one simple command of a recipe line.
type command struct {
	args   []arg
	redirs []redirection
	piped  bool   // its input is the previous command's output
	cwd    string // its directory relative to the Makefile's ("" when a cd could not be followed)
	start  int    // offset in the file of its first token
}

// commands expands a recipe line with vs and splits it into simple commands, following cd.
func commands(rl recipeLine, vs variables, target string) []command {
	text := strings.TrimLeft(rl.text, " \t@-+")
	base := rl.offset + len(rl.text) - len(text)
	var toks []token
	var from [][2]int
	var fromVar []bool
	var cut []bool // the token's word expands to text that ends its command after it (endsCommand)
	for _, t := range tokenize(text) {
		span := [2]int{base + t.start, base + t.end}
		if t.kind != word {
			toks, from, fromVar, cut = append(toks, t), append(from, span), append(fromVar, false), append(cut, false)
			continue
		}
		expanded := vs.expand(t.text, target)
		if expanded == t.text {
			toks, from, fromVar, cut = append(toks, t), append(from, span), append(fromVar, false), append(cut, false)
			continue
		}
		ends := endsCommand(expanded)
		for j, e := range tokenize(expanded) {
			toks, from, fromVar, cut = append(toks, e), append(from, span), append(fromVar, true), append(cut, ends[j])
		}
	}

	var out []command
	cwd := "."
	var stack []string
	cur := command{cwd: cwd, start: -1}
	flush := func(piped bool) {
		if len(cur.args) > 0 || len(cur.redirs) > 0 {
			if cur.args != nil && cur.args[0].value == "cd" {
				cwd = changeDir(cwd, cur.args[1:])
			}
			out = append(out, cur)
		}
		cur = command{cwd: cwd, piped: piped, start: -1}
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if cur.start < 0 {
			cur.start = from[i][0]
		}
		switch t.kind {
		case word:
			cur.args = append(cur.args, arg{raw: t.text, value: unquote(t.text), from: from[i], variable: fromVar[i], cut: cut[i]})
		case redirect:
			r := redirection{op: t.text}
			if i+1 < len(toks) && toks[i+1].kind == word {
				i++
				r.target = arg{raw: toks[i].text, value: unquote(toks[i].text), from: from[i], variable: fromVar[i]}
			}
			cur.redirs = append(cur.redirs, r)
		case pipe:
			flush(true)
		case openParen:
			flush(false)
			stack = append(stack, cwd)
		case closeParen:
			flush(false)
			if len(stack) > 0 {
				cwd, stack = stack[len(stack)-1], stack[:len(stack)-1]
				cur.cwd = cwd
			}
		default:
			flush(false)
		}
	}
	flush(false)
	return out
}

func changeDir(cwd string, args []arg) string {
	if cwd == "" || len(args) == 0 || !resolved(args[0].value) || path.IsAbs(args[0].value) || args[0].value == "-" {
		return ""
	}
	return path.Join(cwd, args[0].value)
}

// program returns the argument list starting at the command's program, skipping VAR=value assignments.
func (c command) program() []arg {
	for i, a := range c.args {
		if !gobuild.EnvAssignment(a.value) {
			return c.args[i:]
		}
	}
	return nil
}

// in returns p, relative to the command's directory, relative to the Makefile's; ok is false when the
// directory or p is unknown.
func (c command) in(p string) (string, bool) {
	if c.cwd == "" || !resolved(p) || path.IsAbs(p) {
		return p, false
	}
	return path.Join(c.cwd, p), true
}
