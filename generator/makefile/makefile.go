// SPDX-License-Identifier: Apache-2.0

package makefile

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/gobuild"
)

// RBAC is a controller-gen invocation that writes an RBAC role (it has an rbac: argument).
type RBAC struct {
	Path   string // the file holding it: the Makefile, or a file the Makefile includes
	Line   int    // where the controller-gen command starts
	Target string // the rule whose recipe runs it, as named in the Makefile ("config/.flag.mk"); see Tools.EntryTarget
	// Paths are the package patterns, relative to the Makefile's directory: variables expanded, then
	// brace lists expanded and the "./" prefix removed. A value that did not fully expand is kept as
	// written (after expanding what could be) and marks the invocation Unresolved.
	Paths    []string
	RoleName string
	// OutputDir is where role.yaml goes, relative to the Makefile's directory (controller-gen's default:
	// config/rbac).
	OutputDir string
	// Unresolved reports that part of the invocation did not expand: a paths= or output value, an
	// argument that may hold more (a variable defined nowhere this package read, $(shell ...)) or a cd
	// before the command. What did not expand is left as written; Scans may miss packages.
	Unresolved bool

	src []byte // the contents of Path
	// lastPaths is the byte range in src of the word AddPath inserts after: the last paths= argument, or
	// the variable reference (such as $(CONTROLLER_GEN_PATHS)) that expands to it.
	lastPaths [2]int
	hasPaths  bool   // lastPaths is set
	pathsCut  bool   // what follows lastPaths is not part of the command (arg.cut)
	quote     string // the quote around that paths= value, if any
	dir       string // the directory controller-gen runs in, relative to the Makefile's ("" after a cd not followed)
}

// Tools is what a Makefile, and the files it includes, say about controller-gen and its rules.
type Tools struct {
	ControllerGenVersion string
	// RBAC is the last invocation in Invocations with a paths= argument (nil when there is none), as
	// before Invocations existed. A Makefile may run several (a test one, one per component): callers
	// should choose among Invocations, by OutputDir and by the target reaching them (Reaches, EntryTarget).
	RBAC *RBAC
	// Invocations are every controller-gen invocation writing RBAC, in make's reading order (an included
	// file's at its include directive).
	Invocations []*RBAC
	Includes    []Include
	// GoBuilds are the go build commands of the recipes, in reading order.
	GoBuilds []gobuild.Build

	file    string
	vars    variables
	rules   map[string]*Rule
	targets []string
	recipes []recipeLine
	sources []string // files read, in order
	srcs    map[string][]byte
}

var (
	versionVar = regexp.MustCompile(`(?m)^\s*(?:export\s+)?CONTROLLER_(?:GEN|TOOLS)_VER(?:SION)?\s*[:?]?=\s*(v[0-9][0-9A-Za-z.\-]*)`)
	// kubebuilder v2/v3 Makefiles install it inline.
	installedVersion = regexp.MustCompile(`sigs\.k8s\.io/controller-tools/cmd/controller-gen@(\$\([A-Za-z0-9_]+\)|\$\{[A-Za-z0-9_]+\}|[^\s"',)$]+)`)
	semverish        = regexp.MustCompile(`^v[0-9][0-9A-Za-z.\-+]*$`)
	versionVarNames  = []string{"CONTROLLER_GEN_VER", "CONTROLLER_GEN_VERSION", "CONTROLLER_TOOLS_VER", "CONTROLLER_TOOLS_VERSION"}
)

// Parse reads the Makefile src. Variables and rules of the files it includes are not seen; see ParseWith.
func Parse(file string, src []byte) *Tools {
	return ParseWith(file, src, nil)
}

// ParseWith reads the Makefile src (file is its slash path relative to the repository) and the files it
// includes, which read returns given their slash path relative to the repository (include directives are
// relative to the Makefile's directory, as make resolves them). A nil read reads no included file; an
// error from read leaves that include unread (Include.Loaded false).
func ParseWith(file string, src []byte, read func(path string) ([]byte, error)) *Tools {
	p := &parser{dir: path.Dir(file), read: read, vars: variables{}, loaded: map[string]bool{}, sources: map[string][]byte{}}
	var order []string
	p.read = func(name string) ([]byte, error) {
		if read == nil {
			return nil, errors.New("no reader")
		}
		data, err := read(name)
		if err == nil {
			order = append(order, name)
		}
		return data, err
	}
	order = append(order, file)
	p.parseFile(file, src, 0)

	t := &Tools{Includes: p.includes, file: file, vars: p.vars, recipes: p.recipes, sources: order, srcs: p.sources}
	t.buildRules(p.rules)
	for _, rl := range p.recipes {
		target := t.vars.expand(rl.target, "")
		for _, c := range commands(rl, t.vars, target) {
			if r := invocation(rl, c, target); r != nil {
				t.Invocations = append(t.Invocations, r)
				if len(r.Paths) > 0 {
					t.RBAC = r
				}
			}
			if b := goBuild(path.Dir(file), rl, c); b != nil {
				t.GoBuilds = append(t.GoBuilds, *b)
			}
			if calls := t.makeCalls(c); len(calls) > 0 {
				if r := t.rules[target]; r != nil {
					r.Makes = appendNew(r.Makes, calls...)
				}
			}
		}
	}
	t.ControllerGenVersion = t.controllerGenVersion()
	return t
}

// Expand expands make variable references in s with the Makefile's variables (those of included files
// too, with ParseWith); ok is false when some reference could not be expanded and is left as written.
func (t *Tools) Expand(s string) (expanded string, ok bool) {
	e := t.vars.expand(s, "")
	return e, resolved(e)
}

func (t *Tools) controllerGenVersion() string {
	best, order := "", -1
	for _, name := range versionVarNames {
		if v, ok := t.vars[name]; ok && (order < 0 || v.order < order) {
			if value := strings.Trim(t.vars.expand(v.value, ""), `"'`); semverish.MatchString(value) {
				best, order = value, v.order
			}
		}
	}
	if best != "" {
		return best
	}
	for _, name := range t.sources {
		for _, m := range installedVersion.FindAllSubmatch(t.srcs[name], -1) {
			if value := t.vars.expand(string(m[1]), ""); semverish.MatchString(value) {
				return value
			}
		}
	}
	if m := versionVar.FindSubmatch(t.srcs[t.file]); m != nil {
		return string(m[1])
	}
	return ""
}

// goBuild returns the go build command that c is, or nil; make runs it in dir (the Makefile's, whatever
// file the recipe comes from) and c's own cd. A build whose directory a cd hid is left out.
func goBuild(dir string, rl recipeLine, c command) *gobuild.Build {
	if c.cwd == "" {
		return nil
	}
	var words []string
	for _, a := range c.program() {
		words = append(words, a.value)
	}
	b := gobuild.FromArgs(words)
	if b != nil {
		b.File, b.Line, b.Dir = rl.file, lineOf(rl.src, c.start), cleanDir(path.Join(dir, c.cwd))
	}
	return b
}

// invocation returns the controller-gen invocation writing RBAC that c is, or nil.
func invocation(rl recipeLine, c command, target string) *RBAC {
	prog := c.program()
	start := -1
	for i, a := range prog {
		if strings.Contains(a.value, "controller-gen") || strings.Contains(string(rl.src[a.from[0]:a.from[1]]), "CONTROLLER_GEN") {
			start = i
			break
		}
	}
	if start < 0 {
		return nil
	}
	r := &RBAC{Path: rl.file, Line: lineOf(rl.src, c.start), Target: target, OutputDir: "config/rbac", src: rl.src, dir: c.cwd}
	if c.cwd == "" {
		r.Unresolved = true
	}
	isRBAC, global, specific := false, "", ""
	for _, a := range prog[start+1:] {
		v := a.value
		switch {
		case strings.HasPrefix(v, "rbac:"):
			isRBAC = true
			for _, opt := range strings.Split(v[len("rbac:"):], ",") {
				if name, ok := strings.CutPrefix(opt, "roleName="); ok {
					r.RoleName = name
				}
			}
		case strings.HasPrefix(v, "paths="):
			r.addPaths(v[len("paths="):])
			r.lastPaths, r.hasPaths, r.quote, r.pathsCut = a.from, true, quoteOf(a.raw), a.cut
		case strings.HasPrefix(v, "output:rbac:dir="), strings.HasPrefix(v, "output:rbac:artifacts:config="):
			specific = v[strings.LastIndex(v, "=")+1:]
		case strings.HasPrefix(v, "output:dir="), strings.HasPrefix(v, "output:artifacts:config="):
			global = v[strings.LastIndex(v, "=")+1:]
		case !resolved(v):
			// $(ARGS) that did not expand may hold paths= or rbac: arguments.
			r.Unresolved = true
		}
	}
	if !isRBAC {
		return nil
	}
	out := global
	if specific != "" {
		out = specific
	}
	if out == "" && r.dir != "" && r.dir != "." {
		out = "config/rbac" // the default, in the directory controller-gen runs in
	}
	if out != "" {
		if resolved(out) && r.dir != "" {
			r.OutputDir = cleanDir(path.Join(r.dir, out))
		} else {
			r.OutputDir, r.Unresolved = out, true
		}
	}
	return r
}

func quoteOf(raw string) string {
	for _, q := range []string{`"`, `'`} {
		if strings.HasPrefix(raw, "paths="+q) || strings.HasPrefix(raw, q+"paths=") {
			return q
		}
	}
	return ""
}

func (r *RBAC) addPaths(value string) {
	if !resolved(value) || r.dir == "" {
		r.Paths, r.Unresolved = append(r.Paths, value), true
		return
	}
	for _, p := range expand(value) {
		r.Paths = append(r.Paths, joinDir(r.dir, p))
	}
}

func lineOf(src []byte, offset int) int {
	return strings.Count(string(src[:offset]), "\n") + 1
}

// expand expands a controller-gen list: {a,b} or a;b.
func expand(p string) []string {
	if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
		var out []string
		for _, part := range strings.Split(p[1:len(p)-1], ",") {
			out = append(out, expand(part)...)
		}
		return out
	}
	if strings.Contains(p, ";") {
		var out []string
		for _, part := range strings.Split(p, ";") {
			out = append(out, expand(part)...)
		}
		return out
	}
	return []string{cleanDir(p)}
}

func cleanDir(p string) string {
	if p == "./" || p == "" {
		return "."
	}
	if strings.HasSuffix(p, "/...") {
		return path.Clean(strings.TrimSuffix(p, "/...")) + "/..."
	}
	if p == "..." {
		return "./..."
	}
	return path.Clean(p)
}

// joinDir returns the package pattern p, relative to dir, relative to the Makefile's directory.
func joinDir(dir, p string) string {
	if dir == "." {
		return p
	}
	if base, ok := strings.CutSuffix(p, "/..."); ok {
		return cleanDir(path.Join(dir, base) + "/...")
	}
	return cleanDir(path.Join(dir, p))
}

// Scans reports whether the invocation collects markers from the package in dir.
func (r *RBAC) Scans(dir string) bool {
	dir = path.Clean(dir)
	for _, p := range r.Paths {
		if p == dir {
			return true
		}
		if base, ok := strings.CutSuffix(p, "/..."); ok && (base == "." || dir == base || strings.HasPrefix(dir, base+"/")) {
			return true
		}
	}
	return false
}

// ErrCannotAddPath is returned by AddPathEdit for an invocation it cannot extend safely.
var ErrCannotAddPath = errors.New("cannot add a paths= argument")

// AddPath returns the edit adding dir to the invocation's paths; see AddPathEdit. When AddPathEdit
// refuses, AddPath returns an empty edit (no change at offset 0) rather than a wrong one: callers should
// prefer AddPathEdit.
func (r *RBAC) AddPath(dir string) edit.Edit {
	e, err := r.AddPathEdit(dir)
	if err != nil {
		return edit.Edit{}
	}
	return e
}

// AddPathEdit returns the edit to r.Path inserting ` paths=./dir` (quoted like the last paths= value)
// after the invocation's last paths= argument, or after the variable reference its last paths= argument
// comes from ($(CONTROLLER_GEN_PATHS)): the variable itself, which other invocations may share, is not
// changed. It fails (wrapping ErrCannotAddPath) when the invocation already scans dir, has no paths=
// argument, runs in a directory it could not follow, or when dir is outside that directory or would
// need quoting.
func (r *RBAC) AddPathEdit(dir string) (edit.Edit, error) {
	clean := path.Clean(dir)
	switch {
	case !r.hasPaths || r.src == nil:
		return edit.Edit{}, fmt.Errorf("%w: the invocation at %s:%d has no paths= argument to follow", ErrCannotAddPath, r.Path, r.Line)
	case r.Scans(clean):
		return edit.Edit{}, fmt.Errorf("%w: the invocation at %s:%d already scans %s", ErrCannotAddPath, r.Path, r.Line, clean)
	case path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../"):
		return edit.Edit{}, fmt.Errorf("%w: %s is outside the repository", ErrCannotAddPath, dir)
	case strings.ContainsAny(clean, " \t\n\"'`$\\#;&|<>(){}[]*?,="):
		return edit.Edit{}, fmt.Errorf("%w: %q would need quoting", ErrCannotAddPath, dir)
	case !wellFormed(string(r.src[r.lastPaths[0]:r.lastPaths[1]])):
		return edit.Edit{}, fmt.Errorf("%w: the invocation at %s:%d ends its paths in an unterminated quote or reference", ErrCannotAddPath, r.Path, r.Line)
	case r.pathsCut:
		return edit.Edit{}, fmt.Errorf("%w: the invocation at %s:%d takes its paths from a variable whose value ends the command after them", ErrCannotAddPath, r.Path, r.Line)
	case r.dir == "":
		return edit.Edit{}, fmt.Errorf("%w: the invocation at %s:%d runs after a cd this package could not follow", ErrCannotAddPath, r.Path, r.Line)
	}
	rel := clean
	if r.dir != "." {
		var ok bool
		if rel, ok = strings.CutPrefix(clean, r.dir+"/"); !ok {
			if clean != r.dir {
				return edit.Edit{}, fmt.Errorf("%w: the invocation at %s:%d runs in %s, which does not hold %s", ErrCannotAddPath, r.Path, r.Line, r.dir, clean)
			}
			rel = "."
		}
	}
	value := "./"
	if rel != "." {
		value += rel
	}
	value = r.quote + value + r.quote
	return edit.Insert(r.lastPaths[1], " paths="+value), nil
}
