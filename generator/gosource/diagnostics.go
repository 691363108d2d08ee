// SPDX-License-Identifier: Apache-2.0

package gosource

import (
	"go/ast"
)

// FlagsCall is a call that registers the diagnostics flags.
type FlagsCall struct {
	File    *File
	Call    *ast.CallExpr
	Backend Backend
}

// FindDiagnosticsFlags returns the calls in pkg that register the diagnostics flags: Cluster API's
// AddManagerOptions or AddDiagnosticsOptions, and diagkit's Options.AddFlags or AddGoFlags in a file that
// imports the diagnostics module. It does not type-check, so a method of that name on another value of
// such a file counts too; package functions of that name (logsv1.AddFlags) do not.
func FindDiagnosticsFlags(pkg *Package) []FlagsCall {
	var found []FlagsCall
	for _, f := range pkg.Files {
		_, diagkit := f.ImportName(DiagnosticsImport)
		ast.Inspect(f.AST, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			pkgPath, name, ok := f.callee(call)
			switch {
			case !ok:
			case pkgPath == CAPIFlagsImport && (name == "AddManagerOptions" || name == "AddDiagnosticsOptions"):
				found = append(found, FlagsCall{File: f, Call: call, Backend: CAPI})
			case diagkit && pkgPath == "" && (name == "AddFlags" || name == "AddGoFlags"):
				found = append(found, FlagsCall{File: f, Call: call, Backend: Diagkit})
			}
			return true
		})
	}
	return found
}

// Derivation is an assignment of the server options derived from the diagnostics flags:
// `metricsOptions, tlsOptions, err := o.ServerOptions()` (diagkit) or
// `tlsOptions, metricsOptions, err := capiflags.GetManagerOptions(o)` (Cluster API v1.8+).
type Derivation struct {
	File    *File
	Assign  *ast.AssignStmt
	Backend Backend
	// TLS is the left-hand side that receives the TLS options.
	TLS ast.Expr
	// TLSUsed says whether TLS is a variable or field the package reads elsewhere; false for `_`.
	TLSUsed bool
}

// FindDerivations returns the assignments in pkg that derive server options from diagnostics flags.
// Cluster API v1.6–1.7's GetDiagnosticsOptions returns no TLS options and is not one of them.
func FindDerivations(pkg *Package) []Derivation {
	var found []Derivation
	for _, f := range pkg.Files {
		_, diagkit := f.ImportName(DiagnosticsImport)
		ast.Inspect(f.AST, func(n ast.Node) bool {
			as, ok := n.(*ast.AssignStmt)
			if !ok || len(as.Lhs) != 3 || len(as.Rhs) != 1 {
				return true
			}
			call, ok := as.Rhs[0].(*ast.CallExpr)
			if !ok {
				return true
			}
			pkgPath, name, ok := f.callee(call)
			if !ok {
				return true
			}
			d := Derivation{File: f, Assign: as}
			switch {
			case diagkit && pkgPath == "" && name == "ServerOptions" && len(call.Args) == 0:
				d.Backend, d.TLS = Diagkit, as.Lhs[1]
			case pkgPath == CAPIFlagsImport && name == "GetManagerOptions":
				d.Backend, d.TLS = CAPI, as.Lhs[0]
			default:
				return true
			}
			d.TLSUsed = readElsewhere(pkg, d.TLS)
			found = append(found, d)
			return true
		})
	}
	return found
}

// readElsewhere reports whether the package mentions the variable lhs names anywhere but in lhs; a
// field or other expression counts as read, `_` never does.
func readElsewhere(pkg *Package, lhs ast.Expr) bool {
	id, ok := lhs.(*ast.Ident)
	if !ok {
		return true
	}
	if id.Name == "_" {
		return false
	}
	for _, f := range pkg.Files {
		found := false
		ast.Inspect(f.AST, func(n ast.Node) bool {
			if other, ok := n.(*ast.Ident); ok && other != id && other.Name == id.Name {
				found = true
			}
			return !found
		})
		if found {
			return true
		}
	}
	return false
}

// callee names what a call of the form x.Name(…) calls: the import path of x when x is an imported
// package (empty for a value, such as a variable holding options), and Name. ok is false for other calls.
func (f *File) callee(call *ast.CallExpr) (pkgPath, name string, ok bool) {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", "", false
	}
	if x, isIdent := sel.X.(*ast.Ident); isIdent {
		pkgPath = f.ImportPath(x.Name)
	}
	return pkgPath, sel.Sel.Name, true
}
