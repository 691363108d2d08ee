// SPDX-License-Identifier: Apache-2.0

package makefile

import (
	"path"
	"regexp"
	"strings"

	"github.com/diagkit/diagkit/generator/edit"
)

// RBAC is the controller-gen invocation that writes the RBAC role.
type RBAC struct {
	Path     string // the Makefile
	Line     int
	Target   string   // the make target whose recipe runs it
	Paths    []string // package patterns, brace lists expanded, "./" prefix removed
	RoleName string
	// OutputDir is where role.yaml goes (controller-gen's default: config/rbac).
	OutputDir string

	src       []byte
	lastPaths [2]int // byte range of the last paths= argument
}

// Tools is what a Makefile says about controller-gen.
type Tools struct {
	ControllerGenVersion string
	RBAC                 *RBAC // nil when no invocation generates RBAC
}

var (
	ruleLine   = regexp.MustCompile(`^([A-Za-z0-9_.\-]+)\s*:([^=]|$)`)
	versionVar = regexp.MustCompile(`(?m)^\s*(?:export\s+)?CONTROLLER_(?:GEN|TOOLS)_VER(?:SION)?\s*[:?]?=\s*(v[0-9][0-9A-Za-z.\-]*)`)
	assignment = regexp.MustCompile(`(?m)^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*[:?]?=[ \t]*(.*?)\s*$`)
	reference  = regexp.MustCompile(`\$[({]([A-Za-z_][A-Za-z0-9_]*)[)}]`)
	// kubebuilder v2/v3 Makefiles install it inline.
	installedVersion = regexp.MustCompile(`sigs\.k8s\.io/controller-tools/cmd/controller-gen@(v[0-9][0-9A-Za-z.\-]*)`)
	argument         = regexp.MustCompile(`(?:"[^"]*"|'[^']*'|[^\s"'])+`)
)

// Parse reads the Makefile src.
func Parse(file string, src []byte) *Tools {
	t := &Tools{}
	if m := versionVar.FindSubmatch(src); m != nil {
		t.ControllerGenVersion = string(m[1])
	} else if m := installedVersion.FindSubmatch(src); m != nil {
		t.ControllerGenVersion = string(m[1])
	}
	eachRecipeLine(src, func(logical string, offset int, target string) {
		if strings.Contains(logical, "CONTROLLER_GEN") || strings.Contains(logical, "controller-gen") {
			if r := parseInvocation(file, src, logical, offset); r != nil {
				r.Target = target
				t.RBAC = r // the last one wins: it writes the file last
			}
		}
	})
	return t
}

// Writer is a recipe line that names a file, such as `kustomize build config/default > bundle.yaml`.
type Writer struct {
	Target string // the make target whose recipe it is
	Line   int
}

// WriterOf returns the first recipe line of the Makefile src that names file (a slash path relative to
// the repository, with or without a leading "./") as a whole argument or redirection target.
func WriterOf(src []byte, file string) (Writer, bool) {
	var w Writer
	found := false
	eachRecipeLine(src, func(logical string, offset int, target string) {
		if found {
			return
		}
		for _, arg := range argument.FindAllString(logical, -1) {
			arg = strings.Trim(strings.TrimLeft(arg, ">"), `"'`)
			if path.Clean(arg) == path.Clean(file) {
				w, found = Writer{Target: target, Line: strings.Count(string(src[:offset]), "\n") + 1}, true
				return
			}
		}
	})
	return w, found
}

// eachRecipeLine calls fn with every logical recipe line of src (backslash continuations joined), its
// offset and the target of the rule it belongs to.
func eachRecipeLine(src []byte, fn func(logical string, offset int, target string)) {
	text := string(src)
	target := ""
	for start := 0; start < len(text); {
		end := start
		for {
			nl := strings.IndexByte(text[end:], '\n')
			if nl < 0 {
				end = len(text)
				break
			}
			end += nl
			if end > 0 && text[end-1] == '\\' {
				end++
				continue
			}
			break
		}
		logical := text[start:end]
		if m := ruleLine.FindStringSubmatch(logical); m != nil {
			target = m[1]
		}
		if strings.HasPrefix(logical, "\t") {
			fn(logical, start, target)
		}
		start = end + 1
	}
}

func parseInvocation(file string, src []byte, logical string, offset int) *RBAC {
	r := &RBAC{Path: file, Line: strings.Count(string(src[:offset]), "\n") + 1, OutputDir: "config/rbac", src: src}
	isRBAC := false
	for _, loc := range argument.FindAllStringIndex(logical, -1) {
		arg := logical[loc[0]:loc[1]]
		switch {
		case strings.HasPrefix(arg, "rbac:"):
			isRBAC = true
			if i := strings.Index(arg, "roleName="); i >= 0 {
				r.RoleName = strings.Trim(arg[i+len("roleName="):], `"'`)
			}
		case strings.HasPrefix(arg, "paths="):
			r.Paths = append(r.Paths, expand(strings.Trim(arg[len("paths="):], `"'`))...)
			r.lastPaths = [2]int{offset + loc[0], offset + loc[1]}
		case strings.HasPrefix(arg, "output:rbac:dir="), strings.HasPrefix(arg, "output:rbac:artifacts:config="):
			r.OutputDir = cleanDir(expandVariables(src, strings.Trim(arg[strings.LastIndex(arg, "=")+1:], `"'`)))
		}
	}
	if !isRBAC || len(r.Paths) == 0 {
		return nil
	}
	return r
}

func expand(p string) []string {
	if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
		var out []string
		for _, part := range strings.Split(p[1:len(p)-1], ",") {
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
	return path.Clean(p)
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

// AddPath returns the edit adding dir to the invocation's paths, quoted like the last paths= argument.
func (r *RBAC) AddPath(dir string) edit.Edit {
	last := string(r.src[r.lastPaths[0]:r.lastPaths[1]])
	value := "./" + strings.TrimPrefix(path.Clean(dir), ".")
	if dir == "." {
		value = "./"
	}
	if strings.HasPrefix(last, `paths="`) {
		value = `"` + value + `"`
	}
	return edit.Insert(r.lastPaths[1], " paths="+value)
}

// expandVariables replaces $(VAR) references with the Makefile's simple assignments of VAR; a value it
// cannot expand (a function, an unknown variable) stays as written.
func expandVariables(src []byte, value string) string {
	vars := map[string]string{}
	for _, m := range assignment.FindAllSubmatch(src, -1) {
		if _, seen := vars[string(m[1])]; !seen {
			vars[string(m[1])] = string(m[2])
		}
	}
	for range 10 {
		expanded := reference.ReplaceAllStringFunc(value, func(ref string) string {
			if v, ok := vars[reference.FindStringSubmatch(ref)[1]]; ok {
				return v
			}
			return ref
		})
		if expanded == value {
			break
		}
		value = expanded
	}
	return value
}
