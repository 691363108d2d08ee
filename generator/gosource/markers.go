// SPDX-License-Identifier: Apache-2.0

package gosource

import (
	"go/ast"
	"go/token"
	"strings"
)

// Marker is one `// +…` comment line.
type Marker struct {
	File string
	Line int
	Text string // from the "+" on
}

// PackageMarkers returns the markers controller-gen reads at package level in pkg (where it looks for
// +kubebuilder:rbac), and those it ignores because they sit in a function's or declaration block's godoc.
//
// It follows controller-tools' collector (pkg/markers/collect.go, unchanged from v0.10 to v0.23): before
// each top-level declaration every comment group except the declaration's godoc is package-level, except
// that the group closest to a single type declaration belongs to the type; comments inside declarations
// and after the last one are not package-level.
func PackageMarkers(pkg *Package) (collected, ignored []Marker) {
	for _, f := range pkg.Files {
		c, i := fileMarkers(f)
		collected, ignored = append(collected, c...), append(ignored, i...)
	}
	return collected, ignored
}

func fileMarkers(f *File) (collected, ignored []Marker) {
	groups := f.AST.Comments
	next := 0
	take := func(g *ast.CommentGroup, into *[]Marker) {
		for _, c := range g.List {
			if text, ok := markerText(c.Text); ok {
				*into = append(*into, Marker{File: f.Path, Line: f.Line(c.Pos()), Text: text})
			}
		}
	}
	// Comments before the package clause, the package doc included.
	for next < len(groups) && groups[next].Pos() < f.AST.Package {
		take(groups[next], &collected)
		next++
	}
	prevEnd := f.AST.Name.End()
	for _, decl := range f.AST.Decls {
		var doc *ast.CommentGroup
		singleType := false
		switch d := decl.(type) {
		case *ast.FuncDecl:
			doc = d.Doc
		case *ast.GenDecl:
			doc = d.Doc
			singleType = d.Tok == token.TYPE && d.Lparen == token.NoPos
		}
		var before []*ast.CommentGroup
		for next < len(groups) && groups[next].Pos() < decl.Pos() {
			g := groups[next]
			next++
			// A comment on the previous declaration's last line belongs to it.
			if f.Line(g.Pos()) == f.Line(prevEnd) && g.Pos() > prevEnd {
				continue
			}
			if g.Pos() > prevEnd {
				before = append(before, g)
			}
		}
		for i, g := range before {
			switch {
			case g == doc:
				if _, isFunc := decl.(*ast.FuncDecl); isFunc || !singleType {
					take(g, &ignored)
				}
			case singleType && (i == len(before)-1 || (i == len(before)-2 && before[i+1] == doc)):
				// The closest non-godoc group of a single type declaration describes the type.
			default:
				take(g, &collected)
			}
		}
		prevEnd = decl.End()
		for next < len(groups) && groups[next].Pos() < prevEnd {
			next++
		}
	}
	return collected, ignored
}

func markerText(comment string) (string, bool) {
	if !strings.HasPrefix(comment, "//") {
		return "", false
	}
	text := strings.TrimSpace(comment[2:])
	return text, strings.HasPrefix(text, "+")
}
