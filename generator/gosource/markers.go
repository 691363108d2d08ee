// SPDX-License-Identifier: Apache-2.0

package gosource

import (
	"go/ast"
	"go/token"
	"go/types"
	"strings"
)

// Marker is one `// +…` comment line.
type Marker struct {
	File string
	Line int
	Text string // from the "+" on

	// Decl and DeclLine name the declaration an ignored marker belongs to ("func main", "type Reconciler",
	// "var"); Inside says it is within the declaration rather than its doc comment. Empty when collected.
	Decl     string
	DeclLine int
	Inside   bool
}

// PackageMarkers returns the markers controller-gen reads at package level in pkg (where it looks for
// +kubebuilder:rbac), and those it does not because they belong to a declaration: its doc comment, or
// inside it (a function body, a var block, a struct).
//
// It follows controller-tools' collector (pkg/markers/collect.go, the same from v0.10 to v0.23):
// comment groups before the package clause, between declarations and after the last one are package
// level, except a declaration's doc comment. A type declaration's closest non-doc group is first read as
// type markers, then moved back to package level for markers with a package-level definition, such as
// +kubebuilder:rbac; its doc comment never is. Inside a type ( … ) block, the same holds for each type.
// controller-gen v0.11.4, v0.17.2 and v0.23.0 agree on each case of the tests.
func PackageMarkers(pkg *Package) (collected, ignored []Marker) {
	for _, f := range pkg.Files {
		c, i := fileMarkers(f)
		collected, ignored = append(collected, c...), append(ignored, i...)
	}
	return collected, ignored
}

func fileMarkers(f *File) (collected, ignored []Marker) {
	groups := f.AST.Comments
	take := func(g *ast.CommentGroup, into *[]Marker) {
		for _, c := range g.List {
			if text, ok := markerText(c.Text); ok {
				*into = append(*into, Marker{File: f.Path, Line: f.Line(c.Pos()), Text: text})
			}
		}
	}
	ignore := func(g *ast.CommentGroup, decl ast.Decl, inside bool) {
		from := len(ignored)
		take(g, &ignored)
		for i := from; i < len(ignored); i++ {
			ignored[i].Decl, ignored[i].DeclLine, ignored[i].Inside = declName(decl), f.Line(decl.Pos()), inside
		}
	}
	next := 0
	var prev ast.Decl
	// between hands fn the groups before pos, but for a comment trailing the previous declaration's last
	// line: controller-gen takes it for that declaration's.
	between := func(pos token.Pos, fn func(*ast.CommentGroup)) {
		for ; next < len(groups) && groups[next].Pos() < pos; next++ {
			switch g := groups[next]; {
			case prev != nil && f.Line(g.Pos()) == f.Line(prev.End()):
				ignore(g, prev, true)
			case prev == nil && g.Pos() > f.AST.Package && f.Line(g.Pos()) == f.Line(f.AST.Name.End()):
			default:
				fn(g)
			}
		}
	}
	for _, decl := range f.AST.Decls {
		var doc *ast.CommentGroup
		switch d := decl.(type) {
		case *ast.FuncDecl:
			doc = d.Doc
		case *ast.GenDecl:
			doc = d.Doc
		}
		between(decl.Pos(), func(g *ast.CommentGroup) {
			if g == doc {
				ignore(g, decl, false)
			} else {
				take(g, &collected)
			}
		})
		packageLevel := closestInTypeBlock(decl, groups)
		for ; next < len(groups) && groups[next].Pos() < decl.End(); next++ {
			if g := groups[next]; packageLevel[g] {
				take(g, &collected)
			} else {
				ignore(g, decl, true)
			}
		}
		prev = decl
	}
	// After the last declaration, controller-gen collects what is left of the file.
	between(f.AST.FileEnd, func(g *ast.CommentGroup) { take(g, &collected) })
	return collected, ignored
}

// closestInTypeBlock returns, for a type ( … ) block, the closest non-doc comment group before each type
// in it: controller-gen reads those as type markers, then moves +kubebuilder:rbac back to package level.
func closestInTypeBlock(decl ast.Decl, groups []*ast.CommentGroup) map[*ast.CommentGroup]bool {
	gd, ok := decl.(*ast.GenDecl)
	if !ok || gd.Tok != token.TYPE || !gd.Lparen.IsValid() {
		return nil
	}
	closest := map[*ast.CommentGroup]bool{}
	from := gd.Lparen
	for _, spec := range gd.Specs {
		ts := spec.(*ast.TypeSpec)
		var last *ast.CommentGroup
		for _, g := range groups {
			if g.Pos() > from && g.End() < ts.Pos() && g != ts.Doc {
				last = g
			}
		}
		if last != nil {
			closest[last] = true
		}
		from = ts.End()
	}
	return closest
}

// declName names a declaration the way a reader finds it: "func main", "func (*R) Reconcile", "type T",
// or the keyword of a declaration block.
func declName(decl ast.Decl) string {
	switch d := decl.(type) {
	case *ast.FuncDecl:
		if d.Recv != nil && len(d.Recv.List) == 1 {
			return "func (" + types.ExprString(d.Recv.List[0].Type) + ") " + d.Name.Name
		}
		return "func " + d.Name.Name
	case *ast.GenDecl:
		if d.Tok == token.TYPE && d.Lparen == token.NoPos && len(d.Specs) == 1 {
			return "type " + d.Specs[0].(*ast.TypeSpec).Name.Name
		}
		return d.Tok.String()
	}
	return "declaration"
}

func markerText(comment string) (string, bool) {
	if !strings.HasPrefix(comment, "//") {
		return "", false
	}
	text := strings.TrimSpace(comment[2:])
	return text, strings.HasPrefix(text, "+")
}
