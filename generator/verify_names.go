// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"errors"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/gosource"
)

// nameErrors are (parts of) the type checker's messages verifyNames holds a plan to: each is a build
// failure that needs no import's contents to see.
var nameErrors = []string{"undefined: ", "declared and not used: ", "imported and not used", "redeclared in this block"}

// verifyNames type-checks each Go package the plan changes, as it was and as the plan leaves it, with
// every import standing for an empty package (the module's dependencies are not loaded, and the
// diagnostics module is not yet in go.sum): a name that resolves before and not after, a variable or
// import the edits leave unused, a name declared twice — a plan that would not build — is refused.
// What needs the imports' contents (a wrong field, a wrong type) is left to the build.
func verifyNames(t *Target, p *Plan) error {
	after := map[string][]byte{}
	var dirs []string
	for _, c := range p.Changes {
		if strings.HasSuffix(c.Path, ".go") {
			after[c.Path] = c.After
			if dir := path.Dir(c.Path); !slices.Contains(dirs, dir) {
				dirs = append(dirs, dir)
			}
		}
	}
	for _, dir := range dirs {
		files, err := t.packageFiles(dir)
		if err != nil {
			return err
		}
		before, err := nameProblems(files, nil)
		if err != nil {
			return nil // a package that does not parse as it is: not diagkit's to judge
		}
		now, err := nameProblems(files, after)
		if err != nil {
			return err
		}
		for _, key := range slices.Sorted(maps.Keys(now)) {
			if _, ok := before[key]; !ok {
				pos := now[key]
				return &edit.PositionError{File: pos.Filename, Line: pos.Line, Expected: "Go code that builds", Found: key}
			}
		}
	}
	return nil
}

// packageFiles returns the contents of the non-test Go files of dir the default build includes, as
// the overlay (earlier plans) or the disk has them.
func (t *Target) packageFiles(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(filepath.Join(t.Root, filepath.FromSlash(dir)))
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		if ok, err := build.Default.MatchFile(filepath.Join(t.Root, filepath.FromSlash(dir)), name); err != nil || !ok {
			continue
		}
		rel := path.Join(dir, name)
		if files[rel], err = t.readFile(rel); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// nameProblems type-checks the files (with replaced's contents where it has them) and returns the
// name errors by message, with where each first is.
func nameProblems(files, replaced map[string][]byte) (map[string]token.Position, error) {
	fset := token.NewFileSet()
	var parsed []*ast.File
	for _, rel := range slices.Sorted(maps.Keys(files)) {
		src := files[rel]
		if r, ok := replaced[rel]; ok {
			src = r
		}
		f, err := parser.ParseFile(fset, rel, src, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, f)
	}
	if len(parsed) == 0 {
		return nil, nil
	}
	problems := map[string]token.Position{}
	conf := types.Config{
		Importer:    emptyImporter{},
		FakeImportC: true,
		Error: func(err error) {
			var te types.Error
			if !errors.As(err, &te) {
				return
			}
			for _, kind := range nameErrors {
				// "undefined: pkg.Name" is an import's name, which an empty package cannot hold.
				if strings.Contains(te.Msg, kind) && !(kind == "undefined: " && strings.Contains(te.Msg, ".")) {
					if _, seen := problems[te.Msg]; !seen {
						problems[te.Msg] = te.Fset.Position(te.Pos)
					}
				}
			}
		},
	}
	conf.Check(parsed[0].Name.Name, fset, parsed, nil) // the errors are what Error collected
	return problems, nil
}

// emptyImporter stands every import for an empty, complete package named as goimports would name it.
type emptyImporter struct{}

func (emptyImporter) Import(importPath string) (*types.Package, error) {
	pkg := types.NewPackage(importPath, gosource.DefaultImportName(importPath))
	pkg.MarkComplete()
	return pkg, nil
}
