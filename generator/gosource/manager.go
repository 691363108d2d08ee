// SPDX-License-Identifier: Apache-2.0

package gosource

import (
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/tools/go/ast/astutil"

	"github.com/diagkit/diagkit/generator/edit"
)

// Import paths the analysis resolves names against.
const (
	ControllerRuntime = "sigs.k8s.io/controller-runtime"
	crManager         = "sigs.k8s.io/controller-runtime/pkg/manager"
	crMetricsServer   = "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crWebhook         = "sigs.k8s.io/controller-runtime/pkg/webhook"
	crZap             = "sigs.k8s.io/controller-runtime/pkg/log/zap"
	stdFlag           = "flag"
	pflagPath         = "github.com/spf13/pflag"
)

// FlagLibrary is the flag package a FlagSet comes from.
type FlagLibrary string

// The flag libraries the generator registers diagnostics flags on.
const (
	Pflag  FlagLibrary = "pflag"
	GoFlag FlagLibrary = "flag"
)

// ErrMetricsOff marks a manager whose metrics server is turned off in code (BindAddress "0", as a
// command that serves its metrics some other way does): there is nothing to retrofit.
var ErrMetricsOff = errors.New("it serves no metrics to secure")

// derivers are the calls whose results are metrics server options built from diagnostics flags:
// diagkit's (ServerOptions, and Apply over options built before) and Cluster API's (v1.6–1.7 and v1.8+).
var derivers = map[string]bool{"ServerOptions": true, "Apply": true, "GetManagerOptions": true, "GetDiagnosticsOptions": true}

// Manager is what the analysis found around a ctrl.NewManager call.
type Manager struct {
	Pkg  *Package
	File *File
	Func *ast.FuncDecl
	Call *ast.CallExpr

	// Options is the ctrl.Options literal, inline in the call or assigned to a variable first;
	// OptionsStmt is the statement holding it.
	Options     *ast.CompositeLit
	OptionsStmt ast.Stmt
	// ErrorCheck is the `if err != nil` right after the manager is created, whose style new checks copy.
	ErrorCheck *ast.IfStmt

	// Metrics is the Metrics: field; Retrofitted says its value already comes from diagnostics flags.
	Metrics     *ast.KeyValueExpr
	Retrofitted bool

	// Wrap says the metrics options are more than a literal with BindAddress (the kubebuilder v4 scaffold's
	// secure options, a literal with other fields, a variable filled in several steps): the retrofit wraps
	// them in diagnosticsOptions.Apply, which keeps every other field, and keeps the old flags as deprecated
	// aliases. Secure is then the scaffold's --metrics-secure registration, if any, SecureStorage its variable.
	Wrap          bool
	Secure        *Registration
	SecureStorage *Storage
	// MetricsStmt is `opts.Metrics = …` when the options variable gets its metrics options after the
	// literal (Metrics then holds that value); the wrap goes there.
	MetricsStmt ast.Stmt

	// Decl is the package-level declaration holding Func when Func stands for a closure (cobra's
	// RunE: func(…) error {…} in a package-level command); markers go before it. Nil otherwise.
	Decl ast.Decl

	// related are the other packages searched for options filled in outside the manager's function.
	related []*Package

	// BindAddress is the expression the metrics server bound to before, Registration the flag that set
	// it, Storage the declaration of the variable or field holding it.
	BindAddress  ast.Expr
	Registration *Registration
	Storage      *Storage
	// Param is set when BindAddress is a parameter of Func, which its one caller passes the flag's
	// variable: the retrofit passes the diagnostics options there instead.
	Param *Param
	// Parse is set when the options have no Metrics at all (controller-runtime's default, plain HTTP on
	// :8080): the flag.Parse() or pflag.Parse() call of the command, before which the retrofit registers
	// the diagnostics flags on a package-level diagnostics.Options.
	Parse *FlagParse
}

// FlagParse is a command's call parsing its flags.
type FlagParse struct {
	File    *File
	Func    *ast.FuncDecl
	Stmt    ast.Stmt
	Library FlagLibrary
	Pkg     string // the flag package's name in File
}

// Param is the bind address as a parameter of the function creating the manager.
type Param struct {
	Field *ast.Field // in Func's parameter list
	Name  *ast.Ident
	// Call is the one call of Func in the package, in CallFile, within the function Caller; Arg its
	// argument for the parameter.
	Call     *ast.CallExpr
	CallFile *File
	Caller   *ast.FuncDecl
	Arg      ast.Expr
}

// OptionsStyle describes how the ctrl.Options reach the manager.
func (m *Manager) OptionsStyle() string {
	if _, ok := m.Call.Args[1].(*ast.CompositeLit); ok {
		return "inline ctrl.Options literal"
	}
	return "ctrl.Options variable (" + m.File.Text(m.Call.Args[1]) + ")"
}

// Registration is a `fs.StringVar(&x, "name", "default", "usage")` call.
type Registration struct {
	File     *File
	Func     *ast.FuncDecl
	Stmt     *ast.ExprStmt
	Call     *ast.CallExpr
	FlagSet  ast.Expr // the receiver
	Library  FlagLibrary
	FlagName string
	// Default is the flag's default: a string literal, or the last string literal argument of the call
	// computing it (Flux's envOrDefault("METRICS_ADDR", ":8080"), whose fallback it is). DefaultCall is that
	// call as written, empty for a literal.
	Default, DefaultCall string
}

// Storage is where the bind address lives: a variable or a struct field.
type Storage struct {
	File  *File
	Names []*ast.Ident
	Name  *ast.Ident
	Type  ast.Expr
	Node  ast.Node // *ast.Field or *ast.ValueSpec
}

// FindManagerCall returns the ctrl.NewManager (or manager.New) calls in f.
func FindManagerCall(f *File) []*ast.CallExpr {
	var calls []*ast.CallExpr
	ast.Inspect(f.AST, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 2 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok {
			return true
		}
		switch path := f.ImportPath(x.Name); {
		case path == ControllerRuntime && sel.Sel.Name == "NewManager", path == crManager && sel.Sel.Name == "New":
			calls = append(calls, call)
		}
		return true
	})
	return calls
}

// Analyze finds everything the retrofit edits around call in f, a file of pkg. On error it still returns
// what it found before the shape it could not patch (Func is nil when the call is outside a function), for
// readers such as diagkit check that do not edit.
//
// related are other packages of the module (the commands) where a wrapper's options may be filled in:
// CAPV's pkg/manager calls the controller-runtime manager with opts.Options, whose Metrics its main.go
// sets from Cluster API's GetDiagnosticsOptions.
func Analyze(pkg *Package, f *File, call *ast.CallExpr, related ...*Package) (*Manager, error) {
	m := &Manager{Pkg: pkg, File: f, Call: call, related: related}
	path, _ := astutil.PathEnclosingInterval(f.AST, call.Pos(), call.End())
	for _, n := range path {
		if fn, ok := n.(*ast.FuncDecl); ok {
			m.Func = fn
			break
		}
	}
	if m.Func == nil {
		m.Func, m.Decl = closureAt(path)
	}
	if m.Func == nil {
		return m, m.errorAt(f, call, "ctrl.NewManager called inside a function", "a call at package level")
	}
	callStmt := enclosingStmt(path)
	switch arg := call.Args[1].(type) {
	case *ast.CompositeLit:
		m.Options, m.OptionsStmt = arg, callStmt
	case *ast.Ident:
		m.Options, m.OptionsStmt = findAssignedLiteral(m.Func, arg.Name, call.Pos())
		if m.Options == nil {
			// Options a function returns (JobSet's and Kueue's apply(configFile)), completed by
			// `options.Metrics = …` before the call: that assignment is what the retrofit reads and wraps.
			if m.OptionsStmt = findAssignment(m.Func, arg.Name, call.Pos()); m.OptionsStmt != nil {
				m.Metrics, m.MetricsStmt = m.metricsAssignment()
			}
			if m.Metrics == nil {
				return m, m.errorAt(f, arg, "a ctrl.Options{…} literal assigned to "+arg.Name+" earlier in "+m.Func.Name.Name+", or a later "+arg.Name+".Metrics = …", "none")
			}
		}
	default:
		// Options built elsewhere: done when their Metrics field is assigned from diagnostics options.
		if m.metricsFieldDerived() {
			m.Retrofitted = true
			return m, nil
		}
		return m, m.errorAt(f, arg, "a ctrl.Options{…} literal or a variable holding one", m.File.Text(arg))
	}
	m.ErrorCheck = errorCheckAfter(m.Func, callStmt)

	if m.Options != nil {
		for _, elt := range m.Options.Elts {
			if kv, ok := elt.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "Metrics") {
				m.Metrics = kv
			}
		}
	}
	if m.Metrics == nil {
		// Options completed in several statements: opts.Metrics = … between the literal and the call.
		if m.Metrics, m.MetricsStmt = m.metricsAssignment(); m.Metrics == nil {
			// No metrics options at all: controller-runtime serves plain HTTP on :8080, all interfaces.
			return m, m.analyzeNoMetrics()
		}
	}
	if m.derivedFromDiagnostics(m.Metrics.Value) {
		m.Retrofitted = true
		return m, nil
	}

	if lit, ok := m.Metrics.Value.(*ast.CompositeLit); ok && m.MetricsStmt == nil && m.isSelectorOf(f, lit.Type, crMetricsServer, "Options") && onlyBindAddress(lit) {
		m.BindAddress = bindAddressOf(lit)
		if m.BindAddress == nil {
			return m, m.errorAt(f, lit, "BindAddress set from a flag", m.File.Text(lit))
		}
	} else if err := m.analyzeWrap(); err != nil {
		return m, err
	}
	name := lastName(m.BindAddress)
	if lit, ok := m.BindAddress.(*ast.BasicLit); ok && lit.Value == `"0"` {
		return m, fmt.Errorf("%w: %w", edit.RefusedAt(f.Path, f.Line(lit.Pos()), `the manager turns controller-runtime's metrics server off (BindAddress "0")`), ErrMetricsOff)
	}
	if name == "" {
		return m, m.errorAt(f, m.BindAddress, "a variable or field set by a flag", m.File.Text(m.BindAddress))
	}
	// The flag's variable handed to the function creating the manager as a parameter (Flux's
	// mustSetupManager(metricsAddr, …), CloudNativePG's RunController): follow it to the one call.
	var err error
	storageFunc, storageName, storageExpr := m.Func, name, m.BindAddress
	if id, ok := m.BindAddress.(*ast.Ident); ok {
		if m.Param, err = m.findParam(id.Name); err != nil {
			return m, err
		}
		if m.Param != nil {
			storageFunc, storageExpr = m.Param.Caller, m.Param.Arg
			if storageName = lastName(m.Param.Arg); storageName == "" {
				return m, m.errorAt(m.Param.CallFile, m.Param.Arg, "the flag's variable passed as "+name+" to "+m.Func.Name.Name, m.Param.CallFile.Text(m.Param.Arg))
			}
		}
	}
	if m.Registration, err = findRegistration(pkg, storageName); err != nil {
		return m, err
	}
	if m.Registration == nil {
		if sel, ok := m.BindAddress.(*ast.SelectorExpr); ok {
			// A field no flag sets: a configuration file's (controller-runtime component config, or the
			// project's own config API decoded from YAML). Not broken, just not something to patch blindly.
			return m, edit.RefusedAt(f.Path, f.Line(sel.Pos()), "the metrics bind address is %s, which no flag sets (a configuration file, with a default in code, sets it); "+
				"by hand: register the diagnostics flags (diagnosticsOptions.AddFlags or AddGoFlags), serve Metrics: diagnosticsOptions.Apply(<the options>) "+
				"(it keeps every other field and takes the address from --diagnostics-address), and drop the metrics address from the configuration type, its defaults and the shipped configuration files",
				f.Text(sel))
		}
		return m, m.errorAt(f, m.BindAddress, "a StringVar flag registration storing into "+storageName+" in package "+pkg.Dir, "none")
	}
	_, isField := storageExpr.(*ast.SelectorExpr)
	if m.Storage = findStorage(pkg, storageFunc, storageName, isField); m.Storage == nil {
		return m, m.errorAt(f, m.BindAddress, "the declaration of "+storageName+" in package "+pkg.Dir, "none")
	}
	if m.Wrap {
		return m, m.analyzeSecure()
	}
	return m, nil
}

// analyzeNoMetrics finds where the command parses its flags, for options without Metrics: a statement
// flag.Parse() or pflag.Parse() in a function of the manager's package, which must be a command's.
func (m *Manager) analyzeNoMetrics() error {
	f := m.File
	refuse := func(why string) error {
		return edit.RefusedAt(f.Path, f.Line(m.Options.Pos()), "the options have no Metrics, so controller-runtime serves /metrics over plain HTTP on :8080, all interfaces; %s: "+
			"by hand, register a diagnostics.Options's flags (AddFlags or AddGoFlags) before they are parsed and set Metrics: diagnosticsOptions.Apply(metricsserver.Options{})", why)
	}
	if m.Options == nil || m.Decl != nil {
		return refuse("the options are not a literal of a function")
	}
	for _, elt := range m.Options.Elts {
		if kv, ok := elt.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "MetricsBindAddress") {
			// controller-runtime before v0.16, which Detect refuses: nothing to read here.
			return m.errorAt(f, kv, "a Metrics: field in ctrl.Options (controller-runtime ≥ v0.16)", "MetricsBindAddress")
		}
	}
	if m.Pkg.Files[0].AST.Name.Name != "main" {
		return refuse("the manager's package is not a command's, whose flags it could register")
	}
	var found []*FlagParse
	eachFunc(m.Pkg, func(file *File, fd *ast.FuncDecl) {
		for _, stmt := range fd.Body.List {
			es, ok := stmt.(*ast.ExprStmt)
			if !ok {
				continue
			}
			call, ok := es.X.(*ast.CallExpr)
			if !ok || len(call.Args) != 0 {
				continue
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Parse" {
				continue
			}
			x, ok := sel.X.(*ast.Ident)
			if !ok {
				continue
			}
			switch file.ImportPath(x.Name) {
			case stdFlag:
				found = append(found, &FlagParse{File: file, Func: fd, Stmt: stmt, Library: GoFlag, Pkg: x.Name})
			case pflagPath:
				found = append(found, &FlagParse{File: file, Func: fd, Stmt: stmt, Library: Pflag, Pkg: x.Name})
			}
		}
	})
	if len(found) != 1 {
		return refuse(fmt.Sprintf("%d flag.Parse() or pflag.Parse() statements in the package, where one is needed to register the diagnostics flags before", len(found)))
	}
	m.Parse = found[0]
	return nil
}

// findParam returns the string parameter name of the function creating the manager, followed to the one
// call of that function in the package; nil when name is no parameter.
func (m *Manager) findParam(name string) (*Param, error) {
	if m.Decl != nil || m.Func.Type.Params == nil {
		return nil, nil // a closure's parameters are cobra's (cmd, args), never the address
	}
	var p *Param
	index := 0
	for _, field := range m.Func.Type.Params.List {
		for _, id := range field.Names {
			if id.Name == name && isIdent(field.Type, "string") {
				p = &Param{Field: field, Name: id}
			}
			if p == nil {
				index++
			}
		}
	}
	if p == nil {
		return nil, nil
	}
	f := m.File
	if m.Func.Recv != nil {
		return nil, m.errorAt(f, p.Name, "the metrics bind address in a variable, not a parameter of the method "+m.Func.Name.Name, name)
	}
	var calls int
	eachFunc(m.Pkg, func(file *File, fd *ast.FuncDecl) {
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if ok && isIdent(call.Fun, m.Func.Name.Name) && len(call.Args) > index {
				calls++
				p.Call, p.CallFile, p.Caller, p.Arg = call, file, fd, call.Args[index]
			}
			return true
		})
	})
	if calls != 1 {
		return nil, m.errorAt(f, p.Name, "one call of "+m.Func.Name.Name+" passing the flag's variable as "+name, fmt.Sprint(calls))
	}
	return p, nil
}

func (m *Manager) errorAt(f *File, n ast.Node, expected, found string) error {
	return &edit.PositionError{File: f.Path, Line: f.Line(n.Pos()), Expected: expected, Found: found}
}

// derivedFromDiagnostics reports whether v (possibly *v) is the result of a diagnostics options call:
// directly, through a variable assigned from one, or through a chain of variables and struct fields
// anywhere in the package — CAPX stores GetManagerOptions' result in a config struct field in one
// function and passes config.metricsServerOpts to ctrl.Options in another. Names are matched by their
// last element (a field's name), which is how such a chain reads in a single package.
func (m *Manager) derivedFromDiagnostics(v ast.Expr) bool {
	if star, ok := v.(*ast.StarExpr); ok {
		v = star.X
	}
	if call, ok := v.(*ast.CallExpr); ok {
		return isDeriverCall(call)
	}
	name := lastName(v)
	if name == "" {
		return false
	}
	return m.derivedNames()[name]
}

// metricsFieldDerived reports whether some assignment X.Metrics = v in the package or a related one takes
// v from diagnostics options.
func (m *Manager) metricsFieldDerived() bool {
	derived := m.derivedNames()
	for _, as := range m.assignments() {
		for i, lhs := range as.Lhs {
			sel, ok := lhs.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Metrics" || len(as.Rhs) != len(as.Lhs) {
				continue
			}
			rhs := as.Rhs[i]
			if st, ok := rhs.(*ast.StarExpr); ok {
				rhs = st.X
			}
			if call, ok := rhs.(*ast.CallExpr); ok && isDeriverCall(call) || derived[lastName(rhs)] {
				return true
			}
		}
	}
	return false
}

func (m *Manager) assignments() []*ast.AssignStmt {
	var assigns []*ast.AssignStmt
	for _, p := range append([]*Package{m.Pkg}, m.related...) {
		for _, f := range p.Files {
			ast.Inspect(f.AST, func(n ast.Node) bool {
				if as, ok := n.(*ast.AssignStmt); ok {
					assigns = append(assigns, as)
				}
				return true
			})
		}
	}
	return assigns
}

// derivedNames are the names (last elements) holding diagnostics options, through copies.
func (m *Manager) derivedNames() map[string]bool {
	derived := map[string]bool{}
	assigns := m.assignments()
	for _, as := range assigns {
		if len(as.Rhs) == 1 {
			if call, ok := as.Rhs[0].(*ast.CallExpr); ok && isDeriverCall(call) {
				for _, lhs := range as.Lhs {
					if n := lastName(lhs); n != "" && n != "_" && n != "err" {
						derived[n] = true
					}
				}
			}
		}
	}
	// Follow copies (x = y, x = *y, x = &y) until nothing new is derived.
	for grew := true; grew; {
		grew = false
		for _, as := range assigns {
			if len(as.Lhs) != len(as.Rhs) {
				continue
			}
			for i, rhs := range as.Rhs {
				if u, ok := rhs.(*ast.UnaryExpr); ok && u.Op == token.AND {
					rhs = u.X
				}
				if st, ok := rhs.(*ast.StarExpr); ok {
					rhs = st.X
				}
				if n := lastName(as.Lhs[i]); derived[lastName(rhs)] && n != "" && !derived[n] {
					derived[n], grew = true, true
				}
			}
		}
	}
	return derived
}

func isDeriverCall(call *ast.CallExpr) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	return ok && derivers[sel.Sel.Name] && (sel.Sel.Name != "Apply" || len(call.Args) == 1)
}

func (m *Manager) isSelectorOf(f *File, e ast.Expr, importPath, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != name {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && f.ImportPath(x.Name) == importPath
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// lastName returns x for x and a.b.x, "" otherwise.
func lastName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

func enclosingStmt(path []ast.Node) ast.Stmt {
	for i, n := range path {
		if s, ok := n.(ast.Stmt); ok && i+1 < len(path) {
			if _, inBlock := path[i+1].(*ast.BlockStmt); inBlock {
				return s
			}
		}
	}
	return nil
}

// findAssignedLiteral finds `name := X.Options{…}`, `name = …` or `var name = …` before pos in fn.
func findAssignedLiteral(fn *ast.FuncDecl, name string, before token.Pos) (*ast.CompositeLit, ast.Stmt) {
	var lit *ast.CompositeLit
	var stmt ast.Stmt
	eachAssignment(fn, name, before, func(s ast.Stmt, value ast.Expr) {
		if cl, ok := value.(*ast.CompositeLit); ok {
			lit, stmt = cl, s
		}
	})
	return lit, stmt
}

// findAssignment returns the last statement before the position before that declares or assigns the
// variable name as a whole, whatever the value (`options, cfg, err := apply(configFile)`).
func findAssignment(fn *ast.FuncDecl, name string, before token.Pos) ast.Stmt {
	var stmt ast.Stmt
	eachAssignment(fn, name, before, func(s ast.Stmt, _ ast.Expr) { stmt = s })
	return stmt
}

// eachAssignment calls visit, in source order, for each statement of fn before the position before that
// declares or assigns the variable name (closures are other scopes, left out), with the value it gets:
// nil when one call's results are spread over several variables.
func eachAssignment(fn *ast.FuncDecl, name string, before token.Pos, visit func(stmt ast.Stmt, value ast.Expr)) {
	valueOf := func(values []ast.Expr, i int) ast.Expr {
		if len(values) > i {
			return values[i]
		}
		return nil
	}
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if n == nil || n.Pos() >= before {
			return false
		}
		switch s := n.(type) {
		case *ast.AssignStmt:
			for i, lhs := range s.Lhs {
				if isIdent(lhs, name) {
					visit(s, valueOf(s.Rhs, i))
				}
			}
		case *ast.DeclStmt:
			if gd, ok := s.Decl.(*ast.GenDecl); ok {
				for _, spec := range gd.Specs {
					if vs, ok := spec.(*ast.ValueSpec); ok {
						for i, id := range vs.Names {
							if id.Name == name {
								visit(s, valueOf(vs.Values, i))
							}
						}
					}
				}
			}
		case *ast.FuncLit:
			return false
		}
		return true
	})
}

// errorCheckAfter returns the `if err != nil {…}` statement following stmt in its block.
func errorCheckAfter(fn *ast.FuncDecl, stmt ast.Stmt) *ast.IfStmt {
	var found *ast.IfStmt
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		block, ok := n.(*ast.BlockStmt)
		if !ok || found != nil {
			return found == nil
		}
		for i, s := range block.List {
			if s != stmt || i+1 >= len(block.List) {
				continue
			}
			if is, ok := block.List[i+1].(*ast.IfStmt); ok && isErrNotNil(is.Cond) {
				found = is
			}
		}
		return true
	})
	return found
}

func isErrNotNil(e ast.Expr) bool {
	b, ok := e.(*ast.BinaryExpr)
	return ok && b.Op == token.NEQ && isIdent(b.X, "err") && isIdent(b.Y, "nil")
}

// flagCalls finds the fs.<method>(&target, "flag", default, usage) statements of pkg that keep accepts.
func flagCalls(pkg *Package, method string, keep func(target ast.Expr, flag string) bool) []*Registration {
	var regs []*Registration
	eachFunc(pkg, func(f *File, fn *ast.FuncDecl) {
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			stmt, ok := n.(*ast.ExprStmt)
			if !ok {
				return true
			}
			call, ok := stmt.X.(*ast.CallExpr)
			if !ok || len(call.Args) != 4 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != method {
				return true
			}
			addr, ok := call.Args[0].(*ast.UnaryExpr)
			flagName, named := stringLit(call.Args[1])
			if !ok || addr.Op != token.AND || !named || !keep(addr.X, flagName) {
				return true
			}
			r := &Registration{File: f, Func: fn, Stmt: stmt, Call: call, FlagSet: sel.X, FlagName: flagName}
			r.Default, r.DefaultCall = defaultOf(f, call.Args[2])
			regs = append(regs, r)
			return true
		})
	})
	return regs
}

// eachFunc calls fn with every function declaration of pkg that has a body.
func eachFunc(pkg *Package, fn func(f *File, fd *ast.FuncDecl)) {
	for _, f := range pkg.Files {
		for _, decl := range f.AST.Decls {
			if fd, ok := decl.(*ast.FuncDecl); ok && fd.Body != nil {
				fn(f, fd)
			}
		}
	}
}

// findRegistration finds the StringVar call in pkg that stores a flag into a variable or field called name.
func findRegistration(pkg *Package, name string) (*Registration, error) {
	regs := flagCalls(pkg, "StringVar", func(target ast.Expr, _ string) bool { return lastName(target) == name })
	if len(regs) == 0 {
		return nil, nil
	}
	if len(regs) > 1 {
		// Several commands sharing one variable (External Secrets' controller, webhook and cert controller,
		// each a cobra command with its own manager): replacing it for one would break the others.
		var at []string
		for _, r := range regs {
			at = append(at, fmt.Sprintf("%s:%d", r.File.Path, r.File.Line(r.Call.Pos())))
		}
		return nil, edit.Refusedf("%d flags store into %s (%s), one per command creating a manager: diagkit retrofits a variable one command owns; "+
			"give each command its own diagnostics.Options (diagnosticsOptions.AddFlags(cmd.Flags()), Metrics: diagnosticsOptions.Apply(…)) by hand, or one variable per command first",
			len(regs), name, strings.Join(at, ", "))
	}
	r := regs[0]
	lib, ok := flagLibrary(r.File, r.Func, r.FlagSet)
	if !ok {
		return nil, &edit.PositionError{File: r.File.Path, Line: r.File.Line(r.FlagSet.Pos()),
			Expected: "a flag or pflag FlagSet", Found: r.File.Text(r.FlagSet)}
	}
	r.Library = lib
	return r, nil
}

// defaultOf reads a flag's default: a string literal, or the fallback of a call such as
// envOrDefault("METRICS_ADDR", ":8080") (its last string literal argument) with the call's text.
func defaultOf(f *File, e ast.Expr) (value, call string) {
	if v, ok := stringLit(e); ok {
		return v, ""
	}
	if c, ok := e.(*ast.CallExpr); ok && len(c.Args) > 0 {
		if v, ok := stringLit(c.Args[len(c.Args)-1]); ok {
			return v, f.Text(c)
		}
	}
	return "", ""
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// flagLibrary tells whether fs (flag, pflag, pflag.CommandLine, a parameter, a local FlagSet, cobra's
// cmd.Flags()) is a standard library or a pflag FlagSet.
func flagLibrary(f *File, fn *ast.FuncDecl, fs ast.Expr) (FlagLibrary, bool) {
	byPath := func(path string) (FlagLibrary, bool) {
		switch path {
		case stdFlag:
			return GoFlag, true
		case pflagPath:
			return Pflag, true
		}
		return "", false
	}
	switch fs := fs.(type) {
	case *ast.Ident:
		if path := f.ImportPath(fs.Name); path != "" {
			return byPath(path)
		}
		if typ := paramType(fn, fs.Name); typ != nil {
			if star, ok := typ.(*ast.StarExpr); ok {
				typ = star.X
			}
			if sel, ok := typ.(*ast.SelectorExpr); ok && sel.Sel.Name == "FlagSet" {
				if x, ok := sel.X.(*ast.Ident); ok {
					return byPath(f.ImportPath(x.Name))
				}
			}
			return "", false
		}
		if call := assignedCall(fn, fs.Name); call != nil {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && sel.Sel.Name == "NewFlagSet" {
					return byPath(f.ImportPath(x.Name))
				}
				if sel.Sel.Name == "Flags" || sel.Sel.Name == "PersistentFlags" {
					return Pflag, true
				}
			}
		}
	case *ast.SelectorExpr: // flag.CommandLine, pflag.CommandLine
		if x, ok := fs.X.(*ast.Ident); ok && fs.Sel.Name == "CommandLine" {
			return byPath(f.ImportPath(x.Name))
		}
	case *ast.CallExpr: // cobra: cmd.Flags(), cmd.PersistentFlags()
		if sel, ok := fs.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "Flags" || sel.Sel.Name == "PersistentFlags") {
			return Pflag, true
		}
	}
	return "", false
}

func paramType(fn *ast.FuncDecl, name string) ast.Expr {
	for _, fl := range fn.Type.Params.List {
		for _, id := range fl.Names {
			if id.Name == name {
				return fl.Type
			}
		}
	}
	return nil
}

func assignedCall(fn *ast.FuncDecl, name string) *ast.CallExpr {
	var call *ast.CallExpr
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok {
			return true
		}
		for i, lhs := range as.Lhs {
			if isIdent(lhs, name) && i < len(as.Rhs) {
				if c, ok := as.Rhs[i].(*ast.CallExpr); ok {
					call = c
				}
			}
		}
		return true
	})
	return call
}

// findStorage finds the declaration of the variable (in fn or at package level) or struct field name.
func findStorage(pkg *Package, fn *ast.FuncDecl, name string, field bool) *Storage {
	var found *Storage
	visit := func(f *File, root ast.Node) {
		ast.Inspect(root, func(n ast.Node) bool {
			if found != nil {
				return false
			}
			switch n := n.(type) {
			case *ast.Field:
				if !field {
					return true
				}
				for _, id := range n.Names {
					if id.Name == name && isIdent(n.Type, "string") {
						found = &Storage{File: f, Names: n.Names, Name: id, Type: n.Type, Node: n}
					}
				}
			case *ast.ValueSpec:
				if field {
					return true
				}
				for _, id := range n.Names {
					if id.Name == name {
						found = &Storage{File: f, Names: n.Names, Name: id, Type: n.Type, Node: n}
					}
				}
			case *ast.FuncLit:
				return false
			}
			return true
		})
	}
	if !field {
		for _, f := range pkg.Files {
			if slices.Contains(f.AST.Decls, ast.Decl(fn)) {
				visit(f, fn.Body)
			}
		}
	}
	for _, f := range pkg.Files {
		for _, decl := range f.AST.Decls {
			if gd, ok := decl.(*ast.GenDecl); ok && found == nil {
				visit(f, gd)
			}
		}
	}
	return found
}

// exported returns name with its first letter's case matching like.
func exported(name string, like string) string {
	if like != "" && strings.ToUpper(like[:1]) == like[:1] {
		return strings.ToUpper(name[:1]) + name[1:]
	}
	return name
}

// closureAt returns, for a call inside a function literal of a package-level declaration (cobra's
// `var serverCommand = &cobra.Command{RunE: func(cmd *cobra.Command, args []string) error {…}}`), a
// FuncDecl standing for the innermost literal, named after the variable and field holding it, and the
// declaration; nil when the call is in no function at all.
func closureAt(path []ast.Node) (*ast.FuncDecl, ast.Decl) {
	var lit *ast.FuncLit
	field, variable := "func", ""
	for _, n := range path {
		switch n := n.(type) {
		case *ast.FuncLit:
			if lit == nil {
				lit = n
			}
		case *ast.KeyValueExpr:
			if id, ok := n.Key.(*ast.Ident); ok && lit != nil && field == "func" && n.Value == ast.Expr(lit) {
				field = id.Name
			}
		case *ast.ValueSpec:
			if len(n.Names) > 0 && variable == "" {
				variable = n.Names[0].Name
			}
		case *ast.GenDecl:
			if lit == nil {
				return nil, nil
			}
			name := field
			if variable != "" {
				name = variable + "." + field
			}
			return &ast.FuncDecl{Name: &ast.Ident{NamePos: lit.Pos(), Name: name}, Type: lit.Type, Body: lit.Body}, n
		}
	}
	return nil, nil
}
