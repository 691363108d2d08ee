// SPDX-License-Identifier: Apache-2.0

package gobuild

import (
	"path"
	"strings"
)

// Build is one `go build` command.
type Build struct {
	File string // where it is written, slash path relative to the repository
	Line int
	// Dir is the directory it runs in, relative to the repository ("." for the root).
	Dir string
	// Output is the -o argument ("" without one); Packages are its package arguments as written
	// (./cmd/x, cmd/x/main.go, a module-qualified path).
	Output   string
	Packages []string
}

// Binary is the name of the file the build writes: -o's last element, or else that of its only
// package's directory, as the go command names it ("" when it cannot tell).
func (b Build) Binary() string {
	if b.Output != "" && !strings.HasSuffix(b.Output, "/") {
		return path.Base(b.Output)
	}
	if len(b.Packages) != 1 {
		return ""
	}
	p := strings.TrimSuffix(b.Packages[0], "/...")
	if strings.HasSuffix(p, ".go") {
		p = path.Dir(p)
	}
	if p = path.Clean(p); p == "." || p == "/" {
		return ""
	}
	return path.Base(p)
}

// Builds reports whether the build builds the package in dir (slash path relative to the repository,
// "." for the root) of the module modulePath.
func (b Build) Builds(dir, modulePath string) bool {
	for _, p := range b.Packages {
		p = strings.TrimSuffix(p, "/...")
		if strings.HasSuffix(p, ".go") {
			p = path.Dir(p)
		}
		if rest, ok := strings.CutPrefix(p, modulePath); ok && (rest == "" || rest[0] == '/') {
			p = "." + rest
		} else {
			p = path.Join(b.Dir, p)
		}
		if path.Clean(p) == path.Clean(dir) {
			return true
		}
	}
	return false
}

// valueFlags are the go build flags that take the next word as their value.
var valueFlags = map[string]bool{
	"-o": true, "-ldflags": true, "-gcflags": true, "-asmflags": true, "-tags": true, "-mod": true, "-modfile": true,
	"-overlay": true, "-pgo": true, "-p": true, "-pkgdir": true, "-buildmode": true, "-compiler": true,
	"-installsuffix": true, "-toolexec": true, "-gccgoflags": true, "-coverpkg": true, "-covermode": true,
	"-C": true,
}

// FromArgs reads one simple command's words (variables expanded, quotes removed): a build when they are
// `[ENV=value …] go build …` (or a path ending in /go, or xx-go, the cross-compiling wrapper multi-arch
// Dockerfiles use), nil otherwise.
func FromArgs(words []string) *Build {
	// Leading environment assignments, and variables left unexpanded (a Makefile's undefined
	// $(GO_BUILD_ENV), a Dockerfile's ${BUILD_ENV}), which stand for such assignments there.
	for len(words) > 0 && (EnvAssignment(words[0]) || isVariable(words[0])) {
		words = words[1:]
	}
	if len(words) < 2 || (path.Base(words[0]) != "go" && path.Base(words[0]) != "xx-go") || words[1] != "build" {
		return nil
	}
	b := &Build{Dir: "."}
	for i := 2; i < len(words); i++ {
		w := words[i]
		if !strings.HasPrefix(w, "-") {
			b.Packages = append(b.Packages, w)
			continue
		}
		name, value, hasValue := strings.Cut(strings.Replace(w, "--", "-", 1), "=")
		if !hasValue && valueFlags[name] && i+1 < len(words) {
			i++
			value, hasValue = words[i], true
		}
		if name == "-o" && hasValue {
			b.Output = value
		}
	}
	return b
}

// FromDockerfile reads the go build commands of a Dockerfile's RUN instructions (shell form, lines
// joined at a trailing backslash, commands split at &&, || and ;).
func FromDockerfile(file string, src []byte) []Build {
	var builds []Build
	lines := strings.Split(string(src), "\n")
	for i := 0; i < len(lines); i++ {
		start := i + 1
		text := strings.TrimSpace(lines[i])
		for strings.HasSuffix(text, `\`) && i+1 < len(lines) {
			i++
			text = strings.TrimSuffix(text, `\`) + " " + strings.TrimSpace(lines[i])
		}
		instr, rest, _ := strings.Cut(text, " ")
		if !strings.EqualFold(instr, "RUN") {
			continue
		}
		for _, flag := range []string{"--mount=", "--network=", "--security="} {
			for strings.HasPrefix(strings.TrimSpace(rest), flag) {
				_, rest, _ = strings.Cut(strings.TrimSpace(rest), " ")
			}
		}
		for _, cmd := range splitCommands(rest) {
			if b := FromArgs(strings.Fields(unquote(cmd))); b != nil {
				b.File, b.Line = file, start
				builds = append(builds, *b)
			}
		}
	}
	return builds
}

func splitCommands(s string) []string {
	return strings.FieldsFunc(strings.NewReplacer("&&", ";", "||", ";").Replace(s), func(r rune) bool { return r == ';' })
}

// unquote drops shell quotes; a go build's words hold no spaces worth keeping for the binary's name.
func unquote(s string) string { return strings.NewReplacer(`"`, "", `'`, "").Replace(s) }

func isVariable(s string) bool {
	return strings.HasPrefix(s, "$(") && strings.HasSuffix(s, ")") || strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}")
}

// EnvAssignment says whether a shell word assigns an environment variable (NAME=value), as the words
// before a command's name do.
func EnvAssignment(s string) bool {
	name, _, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return false
	}
	for i, r := range name {
		if r != '_' && (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
