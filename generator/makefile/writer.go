// SPDX-License-Identifier: Apache-2.0

package makefile

import (
	"path"
	"strings"
)

// Writer is a recipe command that writes a file, such as `kustomize build config/default > bundle.yaml`.
type Writer struct {
	Target string // the rule whose recipe it is; see Tools.EntryTarget for the target a person runs
	Path   string // the file holding the recipe: the Makefile or a file it includes
	Line   int    // where the writing command starts
	// Source is the kustomization built when the command, or a pipeline ending in it, is
	// `kustomize build DIR` (or `kubectl kustomize DIR`): DIR relative to the repository, variables
	// expanded ("" for any other writer).
	Source string
}

// WriterOf returns the first recipe command of the Makefile src (at the repository's root) that writes
// file (a slash path relative to the repository, with or without a leading "./"); see Tools.WriterOf.
func WriterOf(src []byte, file string) (Writer, bool) {
	return Parse("Makefile", src).WriterOf(file)
}

// WriterOf returns the first recipe command, in make's reading order, that writes file (a slash path
// relative to the repository): by a redirection (> file, >> file, &> file), an -o/--output argument,
// tee, or as the destination of cp or mv. A command that reads or merely mentions file is not a writer.
// Variables and $@ are expanded, and a cd earlier on the recipe line is followed.
func (t *Tools) WriterOf(file string) (Writer, bool) {
	want := path.Clean(file)
	dir := path.Dir(t.file)
	for _, rl := range t.recipes {
		target := t.vars.expand(rl.target, "")
		cmds := commands(rl, t.vars, target)
		for i, c := range cmds {
			for _, w := range writes(c) {
				p, ok := c.in(w)
				if !ok || path.Join(dir, p) != want {
					continue
				}
				return Writer{Target: target, Path: rl.file, Line: lineOf(rl.src, c.start), Source: t.source(cmds, i)}, true
			}
		}
	}
	return Writer{}, false
}

// writes returns the paths command c writes, relative to its directory.
func writes(c command) []string {
	var out []string
	for _, r := range c.redirs {
		if strings.Contains(r.op, ">") && !strings.HasSuffix(r.op, "&") && r.target.value != "" {
			out = append(out, r.target.value)
		}
	}
	prog := c.program()
	if len(prog) == 0 {
		return out
	}
	args := prog[1:]
	for i, a := range args {
		switch v := a.value; {
		case (v == "-o" || v == "--output") && i+1 < len(args):
			out = append(out, args[i+1].value)
		case strings.HasPrefix(v, "-o="), strings.HasPrefix(v, "--output="):
			out = append(out, v[strings.IndexByte(v, '=')+1:])
		}
	}
	switch path.Base(prog[0].value) {
	case "tee":
		for _, a := range args {
			if !strings.HasPrefix(a.value, "-") {
				out = append(out, a.value)
			}
		}
	case "cp", "mv":
		var operands []string
		into := ""
		for i := 0; i < len(args); i++ {
			v := args[i].value
			switch {
			case v == "-t" && i+1 < len(args):
				i++
				into = args[i].value
			case strings.HasPrefix(v, "--target-directory="):
				into = v[len("--target-directory="):]
			case strings.HasPrefix(v, "-") && v != "-":
			default:
				operands = append(operands, v)
			}
		}
		if into == "" && len(operands) >= 2 {
			into = operands[len(operands)-1]
			operands = operands[:len(operands)-1]
			out = append(out, into) // cp x file
		}
		if into != "" {
			for _, src := range operands { // cp x dir
				out = append(out, path.Join(into, path.Base(src)))
			}
		}
	}
	return out
}

// source returns the kustomization built by cmds[i] or by the pipeline feeding it, relative to the
// repository.
func (t *Tools) source(cmds []command, i int) string {
	start := i
	for start > 0 && cmds[start].piped {
		start--
	}
	for _, c := range cmds[start : i+1] {
		dir, ok := kustomizeBuild(c)
		if !ok {
			continue
		}
		p, ok := c.in(dir)
		if !ok {
			return dir
		}
		return cleanDir(path.Join(path.Dir(t.file), p))
	}
	return ""
}

// kustomizeValueFlags are the flags of kustomize build taking a value as the next argument.
var kustomizeValueFlags = map[string]bool{
	"-o": true, "--output": true, "--load-restrictor": true, "--load_restrictor": true, "--reorder": true,
	"--helm-command": true, "--mount": true, "-e": true, "--env": true, "--network-name": true,
}

// kustomizeBuild returns the directory of `kustomize build DIR` or `kubectl kustomize DIR` (. when none).
func kustomizeBuild(c command) (string, bool) {
	prog := c.program()
	for i := 0; i+1 < len(prog); i++ {
		name := path.Base(prog[i].value)
		isKustomize := (name == "kustomize" || strings.Contains(prog[i].value, "KUSTOMIZE")) && prog[i+1].value == "build"
		isKubectl := (name == "kubectl" || name == "oc" || strings.Contains(prog[i].value, "KUBECTL")) && prog[i+1].value == "kustomize"
		if !isKustomize && !isKubectl {
			continue
		}
		args := prog[i+2:]
		for j := 0; j < len(args); j++ {
			v := args[j].value
			if strings.HasPrefix(v, "-") {
				if kustomizeValueFlags[v] {
					j++
				}
				continue
			}
			return v, true
		}
		return ".", true
	}
	return "", false
}
