// SPDX-License-Identifier: Apache-2.0

package gosource

import (
	"go/ast"
	"go/token"
	"strconv"

	"github.com/diagkit/diagkit/generator/edit"
)

// The diagnostics flags that take over a metrics flag: diagnostics.FlagDiagnosticsAddress and
// diagnostics.FlagInsecureDiagnostics (a test holds them equal; the generator does not link the runtime package).
const (
	flagDiagnosticsAddress  = "diagnostics-address"
	flagInsecureDiagnostics = "insecure-diagnostics"
)

// planPassedChecks makes the package's tests of whether the old flag was passed hear of the new one too.
// JobSet keeps its configuration file's address unless `flagsSet["metrics-bind-address"]` (filled by
// flag.Visit) says the flag was given: without this, --diagnostics-address in the manifest would be
// silently overridden by the file. X["old"] in a boolean position (an if or for condition, the operand
// of !, && or ||) becomes (X["old"] || X["new"]); fs.Changed("old") (pflag) becomes
// (fs.Changed("old") || fs.Changed("new")). The old name keeps working: it is a deprecated alias.
// The manager's package holds the registration (findRegistration looks nowhere else), so it is searched alone.
func (m *Manager) planPassedChecks(old, new string, add func(*File, string, ...edit.Edit)) {
	for _, f := range m.Pkg.Files {
		var edits []edit.Edit
		seen := map[token.Pos]bool{}
		either := func(e ast.Expr, other string) {
			if seen[e.Pos()] {
				return
			}
			seen[e.Pos()] = true
			edits = append(edits, edit.Edit{Start: f.Offset(e.Pos()), End: f.Offset(e.End()),
				Text: "(" + f.Text(e) + " || " + other + ")"})
		}
		index := func(e ast.Expr) {
			if ix, ok := ast.Unparen(e).(*ast.IndexExpr); ok && isString(ix.Index, old) {
				either(ix, f.Text(ix.X)+"["+strconv.Quote(new)+"]")
			}
		}
		ast.Inspect(f.AST, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.IfStmt:
				index(n.Cond)
			case *ast.ForStmt:
				if n.Cond != nil {
					index(n.Cond)
				}
			case *ast.UnaryExpr:
				if n.Op == token.NOT {
					index(n.X)
				}
			case *ast.BinaryExpr:
				if n.Op == token.LAND || n.Op == token.LOR {
					index(n.X)
					index(n.Y)
				}
			case *ast.CallExpr:
				// pflag's FlagSet.Changed, and cobra's Command.Flags().Changed: a bool wherever it is.
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Changed" && len(n.Args) == 1 && isString(n.Args[0], old) {
					either(n, f.Text(sel.X)+".Changed("+strconv.Quote(new)+")")
				}
			}
			return true
		})
		if len(edits) > 0 {
			add(f, "the checks of whether --"+old+" was passed see --"+new+" too", edits...)
		}
	}
}

// isString reports whether e is a string literal holding s.
func isString(e ast.Expr, s string) bool {
	v, ok := stringLit(e)
	return ok && v == s
}
