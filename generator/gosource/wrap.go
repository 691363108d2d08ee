// SPDX-License-Identifier: Apache-2.0

package gosource

import (
	"fmt"
	"go/ast"
	"go/token"
	"slices"
	"strconv"
	"strings"

	"github.com/diagkit/diagkit/generator/edit"
)

// ControllerRuntimeFilters is controller-runtime's authentication filter package, which the kubebuilder v4
// scaffold uses.
const ControllerRuntimeFilters = "sigs.k8s.io/controller-runtime/pkg/metrics/filters"

// secureFlag is the kubebuilder v4 scaffold's switch between HTTPS with controller-runtime's filter and
// plain HTTP; it becomes a negated alias of --insecure-diagnostics.
const secureFlag = "metrics-secure"

func onlyBindAddress(lit *ast.CompositeLit) bool {
	for _, elt := range lit.Elts {
		if kv, ok := elt.(*ast.KeyValueExpr); !ok || !isIdent(kv.Key, "BindAddress") {
			return false
		}
	}
	return true
}

func bindAddressOf(lit *ast.CompositeLit) ast.Expr {
	for _, elt := range lit.Elts {
		if kv, ok := elt.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "BindAddress") {
			return kv.Value
		}
	}
	return nil
}

// analyzeWrap finds, for metrics options the retrofit wraps, where their bind address comes from: the
// BindAddress of the metricsserver.Options literal (inline, or assigned to the variable passed as Metrics
// earlier in the function), a later `<variable>.BindAddress = …`, or the flag's variable handed to a helper.
func (m *Manager) analyzeWrap() error {
	m.Wrap = true
	f, v := m.File, m.Metrics.Value
	var lit *ast.CompositeLit
	var name string
	switch v := v.(type) {
	case *ast.CompositeLit:
		lit = v
	case *ast.Ident:
		name = v.Name
		lit, _ = findAssignedLiteral(m.Func, v.Name, m.Call.Pos())
	case *ast.CallExpr:
		// A helper building the options from the flag's variable: Metrics: metricsOptions(metricsAddr).
		for _, arg := range v.Args {
			if name := lastName(arg); name != "" {
				if reg, _ := findRegistration(m.Pkg, name); reg != nil {
					m.BindAddress = arg
				}
			}
		}
		if m.BindAddress == nil {
			return m.errorAt(f, v, "metrics server options built from the bind address flag's variable, passed to "+f.Text(v.Fun)+" as an argument", f.Text(v))
		}
	default:
		return m.errorAt(f, v, "metrics server options in a literal, a variable or a call of "+m.Func.Name.Name, f.Text(v))
	}
	if lit != nil && !m.isSelectorOf(f, lit.Type, crMetricsServer, "Options") {
		found := "a literal without its type" // Metrics: {…} parses, though it does not compile
		if lit.Type != nil {
			found = f.Text(lit.Type)
		}
		return m.errorAt(f, lit, "metricsserver.Options{…}", found)
	}
	if lit != nil {
		m.BindAddress = bindAddressOf(lit)
	}
	if name != "" {
		ast.Inspect(m.Func.Body, func(n ast.Node) bool {
			as, ok := n.(*ast.AssignStmt)
			if !ok || as.Pos() > m.Call.Pos() || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
				return true
			}
			if sel, ok := as.Lhs[0].(*ast.SelectorExpr); ok && sel.Sel.Name == "BindAddress" && isIdent(sel.X, name) {
				m.BindAddress = as.Rhs[0]
			}
			return true
		})
	}
	if m.BindAddress == nil {
		return m.errorAt(f, v, "metrics server options whose BindAddress is set from a flag in "+m.Func.Name.Name, f.Text(v))
	}
	if m.MetricsStmt != nil {
		// The statement completing the options comes after the literal: derive just before it.
		m.OptionsStmt = m.MetricsStmt
	}
	return nil
}

// analyzeSecure finds the kubebuilder v4 scaffold's --metrics-secure registered beside the bind address
// flag: on the same FlagSet in the same function when the package registers it several times (a cobra
// command per manager, as External Secrets has).
func (m *Manager) analyzeSecure() error {
	regs, err := findRegistrationsOf(m.Pkg, "BoolVar", secureFlag)
	if err != nil || len(regs) == 0 {
		return err
	}
	if len(regs) > 1 {
		regs = slices.DeleteFunc(regs, func(r *Registration) bool {
			return r.Func != m.Registration.Func || r.File.Text(r.FlagSet) != m.Registration.File.Text(m.Registration.FlagSet)
		})
		if len(regs) != 1 {
			return m.errorAt(m.Registration.File, m.Registration.Call, "one registration of --"+secureFlag+" beside --"+m.Registration.FlagName, fmt.Sprint(len(regs)))
		}
	}
	m.Secure = regs[0]
	target := m.Secure.Call.Args[0].(*ast.UnaryExpr).X
	_, isField := target.(*ast.SelectorExpr)
	if m.SecureStorage = findStorage(m.Pkg, m.Secure.Func, lastName(target), isField); m.SecureStorage == nil {
		return m.errorAt(m.Secure.File, target, "the declaration of "+lastName(target), "none")
	}
	return nil
}

// findRegistrationsOf finds the fs.<method>(&x, "flag", …) calls in pkg registering flag.
func findRegistrationsOf(pkg *Package, method, flag string) ([]*Registration, error) {
	regs := flagCalls(pkg, method, func(_ ast.Expr, name string) bool { return name == flag })
	for _, r := range regs {
		lib, ok := flagLibrary(r.File, r.Func, r.FlagSet)
		if !ok {
			return nil, &edit.PositionError{File: r.File.Path, Line: r.File.Line(r.FlagSet.Pos()), Expected: "a flag or pflag FlagSet", Found: r.File.Text(r.FlagSet)}
		}
		r.Library = lib
	}
	return regs, nil
}

// aliases is the argument list that keeps the old flags as deprecated aliases of the diagnostics flags.
func (m *Manager) aliases(pkg string) string {
	list := []string{fmt.Sprintf("%s.DeprecatedAlias(%q, %s.FlagDiagnosticsAddress)", pkg, m.Registration.FlagName, pkg)}
	if m.Secure != nil {
		list = append(list, fmt.Sprintf("%s.DeprecatedNegation(%q, %s.FlagInsecureDiagnostics)", pkg, secureFlag, pkg))
	}
	return strings.Join(list, ",\n")
}

// planWrap plans what wrapping adds to planFlags' storage and registration edits: the old variables'
// other uses read the diagnostics options, --metrics-secure's registration and the scaffold's
// `if secureMetrics { ….FilterProvider = … }` go (Apply sets the filter), and the options reach the manager
// through diagnosticsOptions.Apply. field is the diagnostics options' name where the bind address was stored.
func (m *Manager) planWrap(field string, add func(*File, string, ...edit.Edit)) error {
	f := m.File
	bindName := lastName(m.BindAddress)
	options := withLastName(f.Text(m.BindAddress), field)
	// Positions in the manager's file not to rewrite: the registration's &x and the declaration, which
	// planFlags replaces already.
	skipped := map[token.Pos]bool{}
	skip := func(file *File, pos token.Pos) {
		if file == f {
			skipped[pos] = true
		}
	}
	skip(m.Registration.File, m.Registration.Call.Args[0].(*ast.UnaryExpr).X.Pos())
	for _, id := range m.Storage.Names {
		skip(m.Storage.File, id.Pos())
	}

	_, bindIsField := m.BindAddress.(*ast.SelectorExpr)
	// Uses in the manager's function are replaced; those inside the Metrics: value are applied to its text,
	// which moves into the Apply call.
	var subs []edit.Edit
	for _, e := range usesIn(m.Func.Body, bindName, bindIsField, skipped) {
		subs = append(subs, edit.Edit{Start: f.Offset(e.Pos()), End: f.Offset(e.End()), Text: options + ".Address"})
	}

	if m.Secure != nil {
		st, reg := m.SecureStorage, m.Secure
		secureName := st.Name.Name
		add(reg.File, fmt.Sprintf("keep --%s as a deprecated alias of --insecure-diagnostics (with the opposite value)", secureFlag),
			edit.Edit{Start: lineStart(reg.File.Src, reg.File.Offset(reg.Stmt.Pos())), End: lineEnd(reg.File.Src, reg.File.Offset(reg.Stmt.End())) + 1})
		add(st.File, "", removeName(st)...)
		skip(reg.File, reg.Call.Args[0].(*ast.UnaryExpr).X.Pos())
		for _, id := range st.Names {
			skip(st.File, id.Pos())
		}
		// The scaffold's `if secureMetrics { opts.FilterProvider = filters.WithAuthenticationAndAuthorization }`.
		var filterUses int
		ast.Inspect(m.Func.Body, func(n ast.Node) bool {
			is, ok := n.(*ast.IfStmt)
			if !ok || !mentions(is.Cond, secureName) || is.Else != nil || !onlySetsFilter(is.Body) {
				return true
			}
			ast.Inspect(is.Cond, func(n ast.Node) bool {
				if id, ok := n.(*ast.Ident); ok && id.Name == secureName {
					skip(f, id.Pos())
				}
				return true
			})
			filterUses++
			start := lineStart(f.Src, f.Offset(is.Pos()))
			if prev := lineStart(f.Src, max(start-1, 0)); start > 0 && strings.TrimSpace(string(f.Src[prev:start])) == "" {
				start = prev // the blank line before it too, or gofmt would merge two blank lines into one
			}
			add(f, "drop controller-runtime's filter: Apply sets diagkit's",
				edit.Edit{Start: start, End: lineEnd(f.Src, f.Offset(is.End())) + 1})
			return false
		})
		_, secureIsField := reg.Call.Args[0].(*ast.UnaryExpr).X.(*ast.SelectorExpr)
		for _, e := range usesIn(m.Func.Body, secureName, secureIsField, skipped) {
			subs = append(subs, edit.Edit{Start: f.Offset(e.Pos()), End: f.Offset(e.End()), Text: "!" + options + ".Insecure"})
		}
		if name, ok := f.ImportName(ControllerRuntimeFilters); ok && filterUses > 0 && usesOf(f, name) == filterUses {
			for _, spec := range f.AST.Imports {
				if p, _ := strconv.Unquote(spec.Path.Value); p == ControllerRuntimeFilters {
					add(f, "", edit.Edit{Start: lineStart(f.Src, f.Offset(spec.Pos())), End: lineEnd(f.Src, f.Offset(spec.End())) + 1})
				}
			}
		}
	}

	// Derive the metrics options just before the statement holding ctrl.Options.
	if m.ErrorCheck == nil {
		return &edit.PositionError{File: f.Path, Line: f.Line(m.Call.Pos()), Expected: "`if err != nil` right after the manager is created (its style is copied)", Found: "none"}
	}
	name := "metricsOptions"
	if declaresAtTop(m.Pkg, name) {
		name = "diagnosticsMetricsOptions" // a function of that name (the options helper, say) stays callable
	}
	if declares(m.Func, name) {
		return &edit.PositionError{File: f.Path, Line: f.Line(m.Func.Pos()), Expected: "no variable named " + name + " in " + m.Func.Name.Name, Found: "one"}
	}
	vStart, vEnd := f.Offset(m.Metrics.Value.Pos()), f.Offset(m.Metrics.Value.End())
	var inValue []edit.Edit
	for _, e := range subs {
		if e.Start >= vStart && e.End <= vEnd {
			inValue = append(inValue, edit.Edit{Start: e.Start - vStart, End: e.End - vStart, Text: e.Text})
		} else {
			add(f, "", e)
		}
	}
	value, err := edit.Apply(f.Src[vStart:vEnd], inValue)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	derive := fmt.Sprintf("%s, err := %s.Apply(%s)\nif err != nil {\n%s\n}\n", name, options, value, m.errorBody("invalid diagnostics flags"))
	add(f, "serve metrics with the options the manager built, the diagnostics flags laid over them (diagnostics.Apply)",
		edit.Insert(f.Offset(m.OptionsStmt.Pos()), derive),
		edit.Edit{Start: f.Offset(m.Metrics.Value.Pos()), End: f.Offset(m.Metrics.Value.End()), Text: name})
	return nil
}

// metricsAssignment finds `<options>.Metrics = v` between the ctrl.Options literal assigned to the
// variable passed to ctrl.NewManager and the call, and returns v as a Metrics: field and the statement.
func (m *Manager) metricsAssignment() (*ast.KeyValueExpr, ast.Stmt) {
	id, ok := m.Call.Args[1].(*ast.Ident)
	if !ok || m.OptionsStmt == nil {
		return nil, nil
	}
	var kv *ast.KeyValueExpr
	var stmt ast.Stmt
	ast.Inspect(m.Func.Body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || as.Pos() < m.OptionsStmt.End() || as.Pos() > m.Call.Pos() || len(as.Lhs) != 1 || len(as.Rhs) != 1 || as.Tok != token.ASSIGN {
			return true
		}
		if sel, ok := as.Lhs[0].(*ast.SelectorExpr); ok && sel.Sel.Name == "Metrics" && isIdent(sel.X, id.Name) {
			kv, stmt = &ast.KeyValueExpr{Key: sel.Sel, Value: as.Rhs[0]}, as
		}
		return true
	})
	return kv, stmt
}

// declaresAtTop says whether a file of pkg declares name at package level.
func declaresAtTop(pkg *Package, name string) bool {
	for _, f := range pkg.Files {
		if f.AST.Scope != nil && f.AST.Scope.Lookup(name) != nil {
			return true
		}
	}
	return false
}

// mentions says whether the identifier name occurs in e (`secureMetrics`, `secureMetrics && secureMetricsAuth`).
func mentions(e ast.Expr, name string) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && id.Name == name {
			found = true
		}
		return !found
	})
	return found
}

// onlySetsFilter says whether a block holds nothing but assignments to a FilterProvider field.
func onlySetsFilter(b *ast.BlockStmt) bool {
	if len(b.List) == 0 {
		return false
	}
	for _, s := range b.List {
		as, ok := s.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != 1 {
			return false
		}
		if sel, ok := as.Lhs[0].(*ast.SelectorExpr); !ok || sel.Sel.Name != "FilterProvider" {
			return false
		}
	}
	return true
}

// removeName deletes st's name from its declaration: the whole line when it declares nothing else.
func removeName(st *Storage) []edit.Edit {
	f := st.File
	if len(st.Names) == 1 {
		var node ast.Node = st.Node
		// `var x bool` is a DeclStmt around the ValueSpec: remove the statement's line.
		start, end := f.Offset(node.Pos()), f.Offset(node.End())
		ls := lineStart(f.Src, start)
		if strings.TrimSpace(string(f.Src[ls:start])) == "var" {
			start = ls
		}
		return []edit.Edit{{Start: lineStart(f.Src, start), End: lineEnd(f.Src, end) + 1}}
	}
	i := indexOf(st.Names, st.Name)
	if i+1 < len(st.Names) {
		return []edit.Edit{{Start: f.Offset(st.Names[i].Pos()), End: f.Offset(st.Names[i+1].Pos())}}
	}
	return []edit.Edit{{Start: f.Offset(st.Names[i-1].End()), End: f.Offset(st.Names[i].End())}}
}

// otherBindUses are the uses of the bind address variable in the manager's function besides the flag
// registration, its declaration and the BindAddress of the metrics options literal, which the retrofit
// replaces anyway.
func (m *Manager) otherBindUses() []ast.Expr {
	_, isField := m.BindAddress.(*ast.SelectorExpr)
	skip := map[token.Pos]bool{m.BindAddress.Pos(): true}
	if m.Registration != nil && m.Registration.File == m.File {
		skip[m.Registration.Call.Args[0].(*ast.UnaryExpr).X.Pos()] = true
	}
	if m.Storage != nil && m.Storage.File == m.File {
		for _, id := range m.Storage.Names {
			skip[id.Pos()] = true
		}
	}
	return usesIn(m.Func.Body, lastName(m.BindAddress), isField, skip)
}

// usesIn returns the uses of name in root — a field's (x.name) when field, else a variable's — except
// those starting at a position in skip.
func usesIn(root ast.Node, name string, field bool, skip map[token.Pos]bool) []ast.Expr {
	var uses []ast.Expr
	ast.Inspect(root, func(n ast.Node) bool {
		switch e := n.(type) {
		case *ast.SelectorExpr:
			if field && e.Sel.Name == name {
				if !skip[e.Pos()] {
					uses = append(uses, e)
				}
				return false
			}
		case *ast.Ident:
			if !field && e.Name == name && !skip[e.Pos()] {
				uses = append(uses, e)
			}
		}
		return true
	})
	return uses
}
