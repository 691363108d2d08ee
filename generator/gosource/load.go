// SPDX-License-Identifier: Apache-2.0

package gosource

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// File is one parsed Go source file.
type File struct {
	Path string // slash-separated, relative to the repository root
	Src  []byte
	AST  *ast.File
	Fset *token.FileSet
}

// Line returns the 1-based line of pos.
func (f *File) Line(pos token.Pos) int { return f.Fset.Position(pos).Line }

// Offset returns the byte offset of pos.
func (f *File) Offset(pos token.Pos) int { return f.Fset.Position(pos).Offset }

// Text returns the source of n.
func (f *File) Text(n ast.Node) string { return string(f.Src[f.Offset(n.Pos()):f.Offset(n.End())]) }

// ImportPath returns the path a file-level name refers to, or "" when name is not an import.
func (f *File) ImportPath(name string) string {
	for _, spec := range f.AST.Imports {
		path, _ := strconv.Unquote(spec.Path.Value)
		local := defaultName(path)
		if spec.Name != nil {
			local = spec.Name.Name
		}
		if local == name {
			return path
		}
	}
	return ""
}

// ImportName returns the name under which the file imports path, and whether it does.
func (f *File) ImportName(path string) (string, bool) {
	for _, spec := range f.AST.Imports {
		p, _ := strconv.Unquote(spec.Path.Value)
		if p != path {
			continue
		}
		if spec.Name != nil {
			return spec.Name.Name, true
		}
		return defaultName(p), true
	}
	return "", false
}

// DefaultImportName is the name a file refers to an import by when it does not rename it, as goimports
// guesses it from the path.
func DefaultImportName(path string) string { return defaultName(path) }

// defaultName guesses a package's name from its path the way goimports does for well-formed paths:
// the last element, without a major-version suffix or a "go-" prefix.
func defaultName(path string) string {
	elems := strings.Split(path, "/")
	name := elems[len(elems)-1]
	if len(elems) > 1 && strings.HasPrefix(name, "v") {
		if _, err := strconv.Atoi(name[1:]); err == nil {
			name = elems[len(elems)-2]
		}
	}
	name = strings.TrimPrefix(name, "go-")
	return strings.ReplaceAll(name, "-", "_")
}

// ParseFile parses one file; rel is its path relative to root.
func ParseFile(root, rel string) (*File, error) {
	return parseFile(root, rel, nil)
}

// parseFile parses one file, from overlay (by slash path relative to root) when it holds it.
func parseFile(root, rel string, overlay map[string][]byte) (*File, error) {
	src, ok := overlay[rel]
	if !ok {
		var err error
		if src, err = os.ReadFile(filepath.Join(root, filepath.FromSlash(rel))); err != nil {
			return nil, err
		}
	}
	return ParseSource(rel, src)
}

// ParseSource parses src as the file rel.
func ParseSource(rel string, src []byte) (*File, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, rel, src, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", rel, err)
	}
	return &File{Path: rel, Src: src, AST: f, Fset: fset}, nil
}

// Package is the non-test Go files of one directory.
type Package struct {
	Dir   string // slash-separated, relative to the repository root; "." for the root
	Files []*File
}

// LoadPackage parses the non-test Go files of dir.
func LoadPackage(root, dir string) (*Package, error) {
	return LoadPackageOverlay(root, dir, nil)
}

// LoadPackageOverlay parses the non-test Go files of dir, reading those overlay holds (by slash path
// relative to root) from it instead of the disk: the package as a plan made earlier would leave it.
func LoadPackageOverlay(root, dir string, overlay map[string][]byte) (*Package, error) {
	entries, err := os.ReadDir(filepath.Join(root, filepath.FromSlash(dir)))
	if err != nil {
		return nil, err
	}
	pkg := &Package{Dir: dir}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		f, err := parseFile(root, joinSlash(dir, name), overlay)
		if err != nil {
			return nil, err
		}
		pkg.Files = append(pkg.Files, f)
	}
	return pkg, nil
}

func joinSlash(dir, name string) string {
	if dir == "." || dir == "" {
		return name
	}
	return dir + "/" + name
}
