// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"bytes"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// goPackage is what the module index knows of one directory's non-test Go files.
type goPackage struct {
	Dir     string // slash-separated, relative to the repository; "." for the root
	Name    string // the package clause
	Imports []string
	// Files are the slash paths of the package's files; Manager those that mention a manager
	// constructor, RBAC those that mention a +kubebuilder:rbac marker (cheap byte searches, confirmed by
	// the callers that parse them).
	Files, Manager, RBAC []string
}

// moduleIndex is one walk over the module's non-test Go files, shared by every finder of Detect.
type moduleIndex struct {
	modulePath string
	pkgs       map[string]*goPackage
}

// indexModule reads the package clause and imports of every non-test Go file of the module at root,
// skipping vendor, testdata, hidden and underscore directories and nested modules, as the go command does.
func indexModule(root, modulePath string, overlay map[string][]byte) (*moduleIndex, error) {
	idx := &moduleIndex{modulePath: modulePath, pkgs: map[string]*goPackage{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			name := d.Name()
			if rel != "." && (name == "vendor" || name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || exists(filepath.Join(p, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		// Files the default build leaves out (//go:build e2e, another GOOS) are not part of any command.
		if ok, err := build.Default.MatchFile(filepath.Dir(p), d.Name()); err != nil || !ok {
			return nil
		}
		rel = filepath.ToSlash(rel)
		src, ok := overlay[rel]
		if !ok {
			if src, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		f, err := parser.ParseFile(token.NewFileSet(), rel, src, parser.ImportsOnly)
		if err != nil {
			return nil // a broken file is reported by whoever loads its package
		}
		dir := path.Dir(rel)
		pkg := idx.pkgs[dir]
		if pkg == nil {
			pkg = &goPackage{Dir: dir, Name: f.Name.Name}
			idx.pkgs[dir] = pkg
		}
		pkg.Files = append(pkg.Files, rel)
		for _, spec := range f.Imports {
			if ip, err := strconv.Unquote(spec.Path.Value); err == nil && !slices.Contains(pkg.Imports, ip) {
				pkg.Imports = append(pkg.Imports, ip)
			}
		}
		// ctrl.NewManager, or New of controller-runtime's manager package under any import name.
		if bytes.Contains(src, []byte("NewManager(")) || bytes.Contains(src, []byte(`"sigs.k8s.io/controller-runtime/pkg/manager"`)) {
			pkg.Manager = append(pkg.Manager, rel)
		}
		if bytes.Contains(src, rbacMarker) {
			pkg.RBAC = append(pkg.RBAC, rel)
		}
		return nil
	})
	return idx, err
}

// dirs returns the package directories, sorted.
func (idx *moduleIndex) dirs() []string { return slices.Sorted(maps.Keys(idx.pkgs)) }

// mainDirs returns the directories of the module's main packages (commands), sorted.
func (idx *moduleIndex) mainDirs() []string {
	var dirs []string
	for _, dir := range idx.dirs() {
		if idx.pkgs[dir].Name == "main" {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// dirOf returns the directory of a module-local import path.
func (idx *moduleIndex) dirOf(importPath string) (string, bool) {
	if importPath == idx.modulePath {
		return ".", true
	}
	rest, ok := strings.CutPrefix(importPath, idx.modulePath+"/")
	return rest, ok
}

// distances returns, for every package some command of the module links, the number of imports
// between it and the nearest main package (0 for a main package). A test harness (a package only tests
// import) has none; one that only a test-runner command reaches through several packages is far.
func (idx *moduleIndex) distances() map[string]int {
	dist := map[string]int{}
	queue := idx.mainDirs()
	for _, dir := range queue {
		dist[dir] = 0
	}
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		for _, ip := range idx.pkgs[dir].Imports {
			if d, ok := idx.dirOf(ip); ok && idx.pkgs[d] != nil {
				if _, seen := dist[d]; !seen {
					dist[d] = dist[dir] + 1
					queue = append(queue, d)
				}
			}
		}
	}
	return dist
}
