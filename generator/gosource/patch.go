// SPDX-License-Identifier: Apache-2.0

package gosource

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/token"
	"strconv"
	"strings"

	"github.com/diagkit/diagkit/generator/edit"
)

// Backend is the code a retrofit writes into main.go.
type Backend string

const (
	// Diagkit imports diagkit's diagnostics module: any flag library, no Cluster API needed.
	Diagkit Backend = "diagkit"
	// CAPI uses Cluster API's util/flags (v1.8+), the choice of the upstream providers; pflag only.
	CAPI Backend = "capi"
)

// Import paths the retrofit adds.
const (
	DiagnosticsImport = "github.com/diagkit/diagkit/diagnostics"
	CAPIFlagsImport   = "sigs.k8s.io/cluster-api/util/flags"
)

// RBACMarkers are the rules the diagnostics endpoint needs to review its callers, as markers.
var RBACMarkers = []string{
	"// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create",
	"// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create",
}

// Change is the new content of one file and why.
type Change struct {
	Path    string
	After   []byte
	Reasons []string
	// Edited are the byte ranges of the original the edits replaced; gofmt may realign lines next to
	// them, nothing else changes.
	Edited [][2]int
}

// MarkerEdit says what Patch does about the RBAC markers the diagnostics endpoint needs.
type MarkerEdit int

const (
	// MarkersCollected: controller-gen already collects markers granting the reviews; nothing to do.
	MarkersCollected MarkerEdit = iota
	// AddMarkers: add them as a free-standing comment group before the manager's function.
	AddMarkers
	// FreeDocMarkers: they are in the manager function's doc comment, where controller-gen ignores them
	// (EKS Anywhere, the etcdadm providers); make them a free-standing group instead of adding a second one.
	FreeDocMarkers
)

// Patch plans the edits of m's package, and the RBAC markers as markers says. It returns one Change per
// file that changes, in package file order.
func Patch(m *Manager, backend Backend, markers MarkerEdit) ([]Change, error) {
	edits := map[*File][]edit.Edit{}
	reasons := map[*File][]string{}
	add := func(f *File, why string, es ...edit.Edit) {
		edits[f] = append(edits[f], es...)
		if why != "" {
			reasons[f] = append(reasons[f], why)
		}
	}

	if !m.Retrofitted {
		plan := m.planFlags
		if m.Parse != nil {
			plan = m.planNoMetrics
		}
		if err := plan(backend, add); err != nil {
			return nil, err
		}
	} else if es, err := m.planKeepTLS(); err != nil {
		return nil, err
	} else if len(es) > 0 {
		add(m.File, "keep the TLS options the diagnostics flags derive and apply them to the webhook server", es...)
	}
	switch markers {
	case AddMarkers:
		anchor := ast.Node(m.Func)
		if m.Func.Doc != nil {
			anchor = m.Func.Doc
		}
		if gd, ok := m.Decl.(*ast.GenDecl); ok {
			// A closure in a package-level declaration: before the declaration and its doc comment.
			anchor = gd
			if gd.Doc != nil {
				anchor = gd.Doc
			}
		}
		add(m.File, "add the tokenreviews and subjectaccessreviews RBAC markers where controller-gen collects them",
			edit.Insert(m.File.Offset(anchor.Pos()), strings.Join(RBACMarkers, "\n")+"\n\n"))
	case FreeDocMarkers:
		why, es := freeDocMarkers(m)
		add(m.File, why, es...)
	}

	var changes []Change
	for _, f := range m.Pkg.Files {
		es, ok := edits[f]
		if !ok {
			continue
		}
		out, err := edit.Apply(f.Src, es)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		if formatted, err := format.Source(f.Src); err == nil && bytes.Equal(formatted, f.Src) {
			// Only a gofmt-clean file is reformatted as a whole: then gofmt touches nothing but the edits.
			if out, err = format.Source(out); err != nil {
				return nil, fmt.Errorf("%s: edited source does not format (a generator bug): %w", f.Path, err)
			}
		}
		var edited [][2]int
		for _, e := range es {
			edited = append(edited, [2]int{e.Start, e.End})
		}
		changes = append(changes, Change{Path: f.Path, After: out, Reasons: reasons[f], Edited: edited})
	}
	return changes, nil
}

// planFlags replaces the metrics bind flag with the diagnostics flags and derives the metrics and
// webhook TLS options from them.
func (m *Manager) planFlags(backend Backend, add func(*File, string, ...edit.Edit)) error {
	reg, st := m.Registration, m.Storage
	if backend == CAPI && reg.Library != Pflag {
		return edit.RefusedAt(reg.File.Path, reg.File.Line(reg.FlagSet.Pos()),
			"Cluster API's util/flags registers on a pflag FlagSet, and this one is a standard library FlagSet; use --backend diagkit")
	}
	importPath, typ, field := DiagnosticsImport, "Options", "diagnosticsOptions"
	if backend == CAPI {
		importPath, typ, field = CAPIFlagsImport, "ManagerOptions", "managerOptions"
	}
	field = exported(field, st.Name.Name)

	// Imports, in every file that now names the package.
	pkgNames := map[*File]string{}
	importIn := func(f *File) string {
		if name, ok := pkgNames[f]; ok {
			return name
		}
		name, ok := f.ImportName(importPath)
		if !ok {
			name = defaultName(importPath)
			spec := strconv.Quote(importPath)
			if backend == CAPI {
				name = "capiflags"
				spec = name + " " + spec
			}
			add(f, "", importEdit(f, spec))
		}
		pkgNames[f] = name
		return name
	}

	// The variable or field: metricsAddr string → diagnosticsOptions diagnostics.Options.
	decl := field + " " + importIn(st.File) + "." + typ
	if len(st.Names) == 1 {
		var end ast.Node = st.Type
		if vs, ok := st.Node.(*ast.ValueSpec); ok && len(vs.Values) > 0 {
			end = vs.Values[len(vs.Values)-1]
		}
		if end == nil {
			return &edit.PositionError{File: st.File.Path, Line: st.File.Line(st.Name.Pos()), Expected: "a typed declaration", Found: st.File.Text(st.Node)}
		}
		add(st.File, "replace the metrics bind address "+st.Name.Name+" with "+field,
			edit.Edit{Start: st.File.Offset(st.Name.Pos()), End: st.File.Offset(end.End()), Text: decl})
	} else {
		i := indexOf(st.Names, st.Name)
		var remove edit.Edit
		if i+1 < len(st.Names) {
			remove = edit.Edit{Start: st.File.Offset(st.Names[i].Pos()), End: st.File.Offset(st.Names[i+1].Pos())}
		} else {
			remove = edit.Edit{Start: st.File.Offset(st.Names[i-1].End()), End: st.File.Offset(st.Names[i].End())}
		}
		add(st.File, "replace the metrics bind address "+st.Name.Name+" with "+field, remove,
			edit.Insert(st.File.Offset(st.Node.End()), "\n"+decl))
	}

	// The registration: fs.StringVar(&cfg.metricsAddr, …) → cfg.diagnosticsOptions.AddFlags(fs).
	target := withLastName(reg.File.Text(reg.Call.Args[0].(*ast.UnaryExpr).X), field)
	fs := reg.File.Text(reg.FlagSet)
	if id, ok := reg.FlagSet.(*ast.Ident); ok && reg.File.ImportPath(id.Name) != "" {
		fs += ".CommandLine" // flag.StringVar registers on the package's CommandLine FlagSet
	}
	var registration string
	if backend == CAPI {
		registration = fmt.Sprintf("%s.AddManagerOptions(%s, &%s)", importIn(reg.File), fs, target)
	} else {
		method := "AddFlags"
		if reg.Library == GoFlag {
			method = "AddGoFlags"
		}
		// Registration comes before flags are parsed and the logger is set up, so a logged error would be
		// lost; and only a programming error (a flag defined twice) fails it, which pflag and flag panic on.
		onError := "// Only a flag defined twice fails, a programming error pflag and flag panic on too.\npanic(err)"
		// The old flag stays, as a deprecated alias: manifests, charts and scripts that still pass it start.
		args := fs + ",\n" + m.aliases(importIn(reg.File)) + ",\n"
		registration = fmt.Sprintf("if err := %s.%s(%s); err != nil {\n%s\n}", target, method, args, onError)
	}
	add(reg.File, fmt.Sprintf("register the diagnostics flags in place of --%s", reg.FlagName),
		edit.Edit{Start: reg.File.Offset(reg.Stmt.Pos()), End: reg.File.Offset(reg.Stmt.End()), Text: registration})
	m.planPassedChecks(reg.FlagName, flagDiagnosticsAddress, add)
	if m.Secure != nil && backend == Diagkit {
		m.planPassedChecks(secureFlag, flagInsecureDiagnostics, add)
	}

	if p := m.Param; p != nil {
		if backend == CAPI {
			return edit.RefusedAt(m.File.Path, m.File.Line(p.Name.Pos()), "the flag's variable reaches %s as a parameter, which diagkit passes its diagnostics.Options through; use --backend diagkit", m.Func.Name.Name)
		}
		m.planParam(field, importIn(m.File), add)
	}

	if m.Wrap {
		if backend == CAPI {
			return edit.RefusedAt(m.File.Path, m.File.Line(m.Metrics.Pos()), "metrics options built beyond BindAddress are wrapped in diagkit's diagnostics.Apply; use --backend diagkit")
		}
		if err := m.planWrap(field, add); err != nil {
			return err
		}
		source := withLastName(m.File.Text(m.BindAddress), field)
		m.planFollowZapAnywhere(source, field, add)
		webhookEdits, err := m.planWebhookTLSFrom(source + ".TLSOptions()")
		if err != nil {
			return err
		}
		add(m.File, "apply the same TLS settings to the webhook server", webhookEdits...)
		return nil
	}

	// Derive the options before the statement holding ctrl.Options.
	if m.ErrorCheck == nil {
		return &edit.PositionError{File: m.File.Path, Line: m.File.Line(m.Call.Pos()), Expected: "`if err != nil` right after the manager is created (its style is copied)", Found: "none"}
	}
	for _, name := range []string{"metricsOptions", "tlsOptions"} {
		if declares(m.Func, name) {
			return &edit.PositionError{File: m.File.Path, Line: m.File.Line(m.Func.Pos()), Expected: "no variable named " + name + " in " + m.Func.Name.Name, Found: "one"}
		}
	}
	source := withLastName(m.File.Text(m.BindAddress), field)
	if backend == Diagkit {
		// Other uses of the old variable read and write the diagnostics address instead (KEDA sets it to
		// "0" when its metrics are switched off; "0" turns the diagnostics endpoint off too).
		for _, e := range m.otherBindUses() {
			add(m.File, "", edit.Edit{Start: m.File.Offset(e.Pos()), End: m.File.Offset(e.End()), Text: source + ".Address"})
		}
	} else if uses := m.otherBindUses(); len(uses) > 0 {
		return &edit.PositionError{File: m.File.Path, Line: m.File.Line(uses[0].Pos()), Expected: "no other use of " + m.File.Text(m.BindAddress) + " (Cluster API's options have no address field to put there; use --backend diagkit)", Found: m.File.Text(uses[0])}
	}
	derive := fmt.Sprintf("metricsOptions, tlsOptions, err := %s.ServerOptions()", source)
	metricsValue := "metricsOptions"
	if backend == CAPI {
		derive = fmt.Sprintf("tlsOptions, metricsOptions, err := %s.GetManagerOptions(%s)", importIn(m.File), source)
		metricsValue = "*metricsOptions"
	}
	derive += "\nif err != nil {\n" + m.errorBody("invalid diagnostics flags") + "\n}\n"
	add(m.File, "serve metrics with the options the diagnostics flags describe",
		edit.Insert(m.File.Offset(m.OptionsStmt.Pos()), derive),
		edit.Edit{Start: m.File.Offset(m.Metrics.Value.Pos()), End: m.File.Offset(m.Metrics.Value.End()), Text: metricsValue})

	if backend == Diagkit {
		m.planFollowZapAnywhere(source, field, add)
	}

	webhookEdits, err := m.planWebhookTLS()
	if err != nil {
		return err
	}
	add(m.File, "apply the same TLS settings to the webhook server", webhookEdits...)

	// The metrics server package is often imported for the old literal alone.
	if metricsPkg := m.Metrics.Value.(*ast.CompositeLit).Type.(*ast.SelectorExpr).X.(*ast.Ident); usesOf(m.File, metricsPkg.Name) == 1 {
		for _, spec := range m.File.AST.Imports {
			if p, _ := strconv.Unquote(spec.Path.Value); p == crMetricsServer {
				add(m.File, "", edit.Edit{Start: lineStart(m.File.Src, m.File.Offset(spec.Pos())), End: lineEnd(m.File.Src, m.File.Offset(spec.End())) + 1})
			}
		}
	}
	return nil
}

// planNoMetrics serves the metrics of options without Metrics (controller-runtime's plain-HTTP default)
// through diagnostics: a package-level diagnostics.Options, its flags registered before the command
// parses its flags, and Metrics and the webhook server's TLS settings derived from it.
func (m *Manager) planNoMetrics(backend Backend, add func(*File, string, ...edit.Edit)) error {
	p, f := m.Parse, m.File
	if backend == CAPI {
		return edit.RefusedAt(f.Path, f.Line(m.Options.Pos()), "options without Metrics get diagkit's diagnostics.Options; use --backend diagkit")
	}
	if m.ErrorCheck == nil {
		return &edit.PositionError{File: f.Path, Line: f.Line(m.Call.Pos()), Expected: "`if err != nil` right after the manager is created (its style is copied)", Found: "none"}
	}
	const field = "diagnosticsOptions"
	if declaresAtTop(m.Pkg, field) {
		return &edit.PositionError{File: f.Path, Line: f.Line(m.Options.Pos()), Expected: "no package-level " + field, Found: "one"}
	}
	for _, name := range []string{"metricsOptions", "tlsOptions"} {
		if declares(m.Func, name) {
			return &edit.PositionError{File: f.Path, Line: f.Line(m.Func.Pos()), Expected: "no variable named " + name + " in " + m.Func.Name.Name, Found: "one"}
		}
	}
	importIn := func(file *File) string {
		if name, ok := file.ImportName(DiagnosticsImport); ok {
			return name
		}
		add(file, "", importEdit(file, strconv.Quote(DiagnosticsImport)))
		return defaultName(DiagnosticsImport)
	}
	pkg := importIn(p.File)
	decl := fmt.Sprintf("// %s are the diagnostics flags: how the manager serves its metrics.\nvar %s %s.Options\n\n", field, field, pkg)
	var at ast.Node = p.Func
	if p.Func.Doc != nil {
		at = p.Func.Doc // before the function's doc comment, which stays the function's
	}
	add(p.File, "declare the diagnostics options", edit.Insert(p.File.Offset(at.Pos()), decl))
	method, fs := "AddFlags", p.Pkg+".CommandLine"
	if p.Library == GoFlag {
		method = "AddGoFlags"
	}
	registration := fmt.Sprintf("if err := %s.%s(%s); err != nil {\n// Only a flag defined twice fails, a programming error pflag and flag panic on too.\npanic(err)\n}\n", field, method, fs)
	add(p.File, "register the diagnostics flags before the flags are parsed", edit.Insert(p.File.Offset(p.Stmt.Pos()), registration))

	derive := fmt.Sprintf("metricsOptions, tlsOptions, err := %s.ServerOptions()\nif err != nil {\n%s\n}\n", field, m.errorBody("invalid diagnostics flags"))
	add(f, "serve metrics with the options the diagnostics flags describe (controller-runtime served plain HTTP on :8080)",
		edit.Insert(f.Offset(m.OptionsStmt.Pos()), derive), insertField(f, m.Options, "Metrics", "metricsOptions"))
	m.planFollowZapAnywhere(field, field, add)
	webhookEdits, err := m.planWebhookTLS()
	if err != nil {
		return err
	}
	add(f, "apply the same TLS settings to the webhook server", webhookEdits...)
	return nil
}

// planParam passes the diagnostics options, by pointer, where the flag's variable was passed to the
// function creating the manager: the caller's argument, the parameter (split out of a group such as
// `metricsAddr, healthAddr string`), and the caller's other uses of the variable, which read the address.
func (m *Manager) planParam(field, pkg string, add func(*File, string, ...edit.Edit)) {
	p, cf := m.Param, m.Param.CallFile
	arg := withLastName(cf.Text(p.Arg), field)
	add(cf, fmt.Sprintf("pass the diagnostics options to %s in place of %s", m.Func.Name.Name, cf.Text(p.Arg)),
		edit.Edit{Start: cf.Offset(p.Arg.Pos()), End: cf.Offset(p.Arg.End()), Text: "&" + arg})

	f := m.File
	typ := f.Text(p.Field.Type)
	var parts, before, after []string
	i := indexOf(p.Field.Names, p.Name)
	for _, id := range p.Field.Names[:i] {
		before = append(before, id.Name)
	}
	for _, id := range p.Field.Names[i+1:] {
		after = append(after, id.Name)
	}
	if len(before) > 0 {
		parts = append(parts, strings.Join(before, ", ")+" "+typ)
	}
	parts = append(parts, withLastName(p.Name.Name, field)+" *"+pkg+".Options")
	if len(after) > 0 {
		parts = append(parts, strings.Join(after, ", ")+" "+typ)
	}
	add(f, fmt.Sprintf("take the diagnostics options as a parameter of %s in place of %s", m.Func.Name.Name, p.Name.Name),
		edit.Edit{Start: f.Offset(p.Field.Pos()), End: f.Offset(p.Field.End()), Text: strings.Join(parts, ", ")})

	// The caller's other uses of the variable (a log line, a check) read the address.
	_, isField := p.Arg.(*ast.SelectorExpr)
	skip := map[token.Pos]bool{p.Arg.Pos(): true}
	if reg := m.Registration; reg.File == cf {
		skip[reg.Call.Args[0].(*ast.UnaryExpr).X.Pos()] = true
	}
	if st := m.Storage; st.File == cf {
		for _, id := range st.Names {
			skip[id.Pos()] = true
		}
	}
	for _, e := range usesIn(p.Caller.Body, lastName(p.Arg), isField, skip) {
		add(cf, "", edit.Edit{Start: cf.Offset(e.Pos()), End: cf.Offset(e.End()), Text: withLastName(cf.Text(e), field) + ".Address"})
	}
}

// planFollowZapAnywhere plans FollowZap in the manager's function or, when the options reach it as a
// parameter, in its caller, which sets the logger up in Flux's controllers, or in the function parsing
// the flags.
func (m *Manager) planFollowZapAnywhere(source, field string, add func(*File, string, ...edit.Edit)) {
	if why, es := m.planFollowZap(source); len(es) > 0 {
		add(m.File, why, es...)
		return
	}
	if p := m.Param; p != nil {
		if why, es := m.followZapIn(p.CallFile, p.Caller, withLastName(p.CallFile.Text(p.Arg), field)); len(es) > 0 {
			add(p.CallFile, why, es...)
		}
	}
	if p := m.Parse; p != nil && p.Func != m.Func {
		if why, es := m.followZapIn(p.File, p.Func, field); len(es) > 0 {
			add(p.File, why, es...)
		}
	}
}

// planFollowZap makes PUT /debug/flags/v move the level of the manager's controller-runtime zap logger
// (klog alone would change nothing a zap-based manager logs): before the statement building the logger
// in the manager's function, options.FollowZap(&zapOptions). zap.New(zap.UseFlagOptions(&o)) follows o;
// zap.New(zap.UseDevMode(b)) becomes the equivalent zap.Options{Development: b}. Other shapes are left.
func (m *Manager) planFollowZap(options string) (string, []edit.Edit) {
	return m.followZapIn(m.File, m.Func, options)
}

// followZapIn is planFollowZap for the function fn of file f.
func (m *Manager) followZapIn(f *File, fn *ast.FuncDecl, options string) (string, []edit.Edit) {
	if fn.Body == nil {
		return "", nil
	}
	var stmt ast.Stmt
	var call *ast.CallExpr
	for _, s := range fn.Body.List {
		ast.Inspect(s, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok && call == nil && m.isSelectorOf(f, c.Fun, crZap, "New") && len(c.Args) == 1 {
				stmt, call = s, c
			}
			return call == nil
		})
		if call != nil {
			break
		}
	}
	if call == nil || strings.Contains(f.Text(fn.Body), ".FollowZap(") {
		return "", nil
	}
	arg, ok := call.Args[0].(*ast.CallExpr)
	if !ok || len(arg.Args) != 1 {
		return "", nil
	}
	zapPkg := call.Fun.(*ast.SelectorExpr).X.(*ast.Ident).Name
	indent := "\n"
	switch {
	case m.isSelectorOf(f, arg.Fun, crZap, "UseFlagOptions"):
		u, ok := arg.Args[0].(*ast.UnaryExpr)
		if !ok || u.Op != token.AND {
			return "", nil
		}
		return "let PUT /debug/flags/v set the zap logger's level too",
			[]edit.Edit{edit.Insert(f.Offset(stmt.Pos()), fmt.Sprintf("%s.FollowZap(&%s)%s", options, f.Text(u.X), indent))}
	case m.isSelectorOf(f, arg.Fun, crZap, "UseDevMode"):
		if declares(fn, "zapOptions") {
			return "", nil
		}
		return "build the zap logger from zap.Options so that PUT /debug/flags/v sets its level too",
			[]edit.Edit{
				edit.Insert(f.Offset(stmt.Pos()), fmt.Sprintf("zapOptions := %s.Options{Development: %s}\n%s.FollowZap(&zapOptions)%s",
					zapPkg, f.Text(arg.Args[0]), options, indent)),
				{Start: f.Offset(arg.Pos()), End: f.Offset(arg.End()), Text: zapPkg + ".UseFlagOptions(&zapOptions)"},
			}
	}
	return "", nil
}

// planWebhookTLS hands tlsOptions to the webhook server: an inline webhook.NewServer(webhook.Options{…})
// or one assigned to a variable in the same function gets TLSOpts; with none, one is added with the
// defaults controller-runtime would otherwise use.
func (m *Manager) planWebhookTLS() ([]edit.Edit, error) { return m.planWebhookTLSFrom("tlsOptions") }

// planWebhookTLSFrom is planWebhookTLS with the TLS options read from expr (config.tlsOptions, say).
func (m *Manager) planWebhookTLSFrom(expr string) ([]edit.Edit, error) {
	if m.Options == nil {
		// Options a function built (from a configuration file): its webhook server is the configuration's,
		// which a new one here would replace.
		return nil, nil
	}
	var server ast.Expr
	for _, elt := range m.Options.Elts {
		if kv, ok := elt.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "WebhookServer") {
			server = kv.Value
		}
	}
	if server == nil {
		name, ok := m.File.ImportName(crWebhook)
		var edits []edit.Edit
		if !ok {
			name = "webhook"
			edits = append(edits, importEdit(m.File, strconv.Quote(crWebhook)))
		}
		return append(edits, insertField(m.File, m.Options, "WebhookServer", name+".NewServer("+name+".Options{TLSOpts: "+expr+"})")), nil
	}
	if id, ok := server.(*ast.Ident); ok {
		if call := assignedCall(m.Func, id.Name); call != nil {
			server = call
		}
	}
	call, ok := server.(*ast.CallExpr)
	if ok && len(call.Args) == 1 {
		arg := call.Args[0]
		if id, ok := arg.(*ast.Ident); ok {
			// webhookServerOptions := webhook.Options{…} (kubebuilder v4), then webhook.NewServer(webhookServerOptions).
			if lit, _ := findAssignedLiteral(m.Func, id.Name, call.Pos()); lit != nil {
				arg = lit
			}
		}
		if lit, ok := arg.(*ast.CompositeLit); ok {
			for _, elt := range lit.Elts {
				if kv, ok := elt.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "TLSOpts") {
					return []edit.Edit{{Start: m.File.Offset(kv.Value.Pos()), End: m.File.Offset(kv.Value.End()),
						Text: "append(" + m.File.Text(kv.Value) + ", " + expr + "...)"}}, nil
				}
			}
			return []edit.Edit{insertField(m.File, lit, "TLSOpts", expr)}, nil
		}
	}
	return nil, &edit.PositionError{File: m.File.Path, Line: m.File.Line(server.Pos()),
		Expected: "webhook.NewServer(webhook.Options{…}) (its TLSOpts must get the diagnostics TLS settings)", Found: m.File.Text(server)}
}

// planKeepTLS mends a retrofitted manager that discards its TLS options (`_, metrics, err :=
// o.ServerOptions()`, or `_` first for Cluster API's GetManagerOptions, as upstream EKS Anywhere does): the
// blank becomes tlsOptions, which the webhook server then gets. In the manager's own function that is
// all; when the options are derived in another function of the file and handed over in a struct field
// (Nutanix: `config.metricsServerOpts = *metricsServerOpts` in initializeConfig, read as
// config.metricsServerOpts by initializeManager), the TLS options travel beside them in a new
// tlsOptions field. Other shapes are left to diagkit check's tls-options-discarded.
func (m *Manager) planKeepTLS() ([]edit.Edit, error) {
	if m.Options == nil || declares(m.Func, "tlsOptions") {
		return nil, nil
	}
	for _, d := range FindDerivations(m.Pkg) {
		id, ok := d.TLS.(*ast.Ident)
		if d.File != m.File || d.TLSUsed || !ok || id.Name != "_" || d.Assign.Tok != token.DEFINE {
			continue
		}
		blank := edit.Edit{Start: m.File.Offset(id.Pos()), End: m.File.Offset(id.End()), Text: "tlsOptions"}
		if d.Assign.Pos() > m.Func.Pos() && d.Assign.End() < m.Call.Pos() {
			webhook, err := m.planWebhookTLS()
			if err != nil {
				return nil, err
			}
			return append([]edit.Edit{blank}, webhook...), nil
		}
		carry, holder, err := m.carryTLS(d)
		if err != nil || carry == nil {
			return nil, err
		}
		webhook, err := m.planWebhookTLSFrom(holder + ".tlsOptions")
		if err != nil {
			return nil, err
		}
		return append(append([]edit.Edit{blank}, carry...), webhook...), nil
	}
	return nil, nil
}

// carryTLS plans the edits that store the TLS options of d beside its metrics options: the struct
// field the metrics options are assigned to gets a tlsOptions sibling, assigned on the next line. holder
// is the expression the manager's function reads the metrics options from (config in
// config.metricsServerOpts); nil edits when the shape is not that one.
func (m *Manager) carryTLS(d Derivation) (edits []edit.Edit, holder string, err error) {
	metrics := d.Assign.Lhs[1]
	if d.Backend == Diagkit {
		metrics = d.Assign.Lhs[0]
	}
	metricsID, ok := metrics.(*ast.Ident)
	used, ok2 := m.Metrics.Value.(*ast.SelectorExpr)
	if !ok || !ok2 {
		return nil, "", nil
	}
	holderID, ok := used.X.(*ast.Ident)
	if !ok {
		return nil, "", nil
	}
	// The statement storing the metrics options: <x>.<field> = [*]metrics.
	var store *ast.AssignStmt
	ast.Inspect(m.File.AST, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 || as.Pos() < d.Assign.End() {
			return true
		}
		rhs := as.Rhs[0]
		if star, ok := rhs.(*ast.StarExpr); ok {
			rhs = star.X
		}
		sel, ok := as.Lhs[0].(*ast.SelectorExpr)
		if ok && isIdent(rhs, metricsID.Name) && sel.Sel.Name == used.Sel.Name && store == nil {
			store = as
		}
		return store == nil
	})
	if store == nil {
		return nil, "", nil
	}
	field := structField(m.File, used.Sel.Name)
	if field == nil || structField(m.File, "tlsOptions") != nil {
		return nil, "", nil
	}
	target := m.File.Text(store.Lhs[0].(*ast.SelectorExpr).X)
	indent := leadingSpace(m.File.Src, m.File.Offset(store.Pos()))
	fieldIndent := leadingSpace(m.File.Src, m.File.Offset(field.Pos()))
	tlsName := "tls"
	if name, ok := m.File.ImportName("crypto/tls"); ok {
		tlsName = name
	} else {
		edits = append(edits, importEdit(m.File, strconv.Quote("crypto/tls")))
	}
	edits = append(edits,
		edit.Insert(nextLine(m.File.Src, m.File.Offset(field.End())), fieldIndent+"tlsOptions []func(*"+tlsName+".Config)\n"),
		edit.Insert(nextLine(m.File.Src, m.File.Offset(store.End())), indent+target+".tlsOptions = tlsOptions\n"))
	return edits, holderID.Name, nil
}

// isStdlib says whether an import path is the standard library's (no dot in its first element).
func isStdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return path != "" && !strings.Contains(first, ".")
}

// nextLine returns the offset of the line after the one holding off.
func nextLine(src []byte, off int) int { return min(lineEnd(src, off)+1, len(src)) }

// structField finds the field name of a struct type declared at the file's top level.
func structField(f *File, name string) *ast.Field {
	var found *ast.Field
	for _, decl := range f.AST.Decls {
		ast.Inspect(decl, func(n ast.Node) bool {
			st, ok := n.(*ast.StructType)
			if !ok || found != nil {
				return found == nil
			}
			for _, fl := range st.Fields.List {
				for _, id := range fl.Names {
					if id.Name == name {
						found = fl
					}
				}
			}
			return false
		})
	}
	return found
}

// leadingSpace returns the indentation of the line holding off.
func leadingSpace(src []byte, off int) string {
	start := lineStart(src, off)
	end := start
	for end < len(src) && (src[end] == '\t' || src[end] == ' ') {
		end++
	}
	return string(src[start:end])
}

// insertField adds key: value to a composite literal, on its own line in a multi-line literal.
func insertField(f *File, lit *ast.CompositeLit, key, value string) edit.Edit {
	if f.Line(lit.Lbrace) != f.Line(lit.Rbrace) {
		return edit.Insert(lineStart(f.Src, f.Offset(lit.Rbrace)), key+": "+value+",\n")
	}
	if len(lit.Elts) == 0 {
		return edit.Insert(f.Offset(lit.Rbrace), key+": "+value)
	}
	return edit.Insert(f.Offset(lit.Elts[len(lit.Elts)-1].End()), ", "+key+": "+value)
}

// errorBody copies the body of the manager's own error check with msg as its message, so new checks
// log and exit (or return) the way the repository does.
func (m *Manager) errorBody(msg string) string {
	body := m.ErrorCheck.Body
	start, end := m.File.Offset(body.Lbrace)+1, m.File.Offset(body.Rbrace)
	var lit *ast.BasicLit
	ast.Inspect(body, func(n ast.Node) bool {
		if b, ok := n.(*ast.BasicLit); ok && lit == nil && b.Kind == token.STRING {
			lit = b
		}
		return lit == nil
	})
	if lit == nil {
		return strings.TrimSpace(string(m.File.Src[start:end]))
	}
	old, _ := strconv.Unquote(lit.Value)
	if i := strings.Index(old, ":"); i >= 0 && strings.Contains(old, "%") {
		msg += old[i:] // keep the format tail, such as ": %w"
	}
	ls, le := m.File.Offset(lit.Pos()), m.File.Offset(lit.End())
	return strings.TrimSpace(string(m.File.Src[start:ls]) + strconv.Quote(msg) + string(m.File.Src[le:end]))
}

// importEdit adds spec to the import group holding controller-runtime (gofmt sorts it into place).
func importEdit(f *File, spec string) edit.Edit {
	if path, _ := strconv.Unquote(spec); isStdlib(path) {
		// Beside the other standard-library imports, where goimports keeps them.
		for i := len(f.AST.Imports) - 1; i >= 0; i-- {
			if p, _ := strconv.Unquote(f.AST.Imports[i].Path.Value); isStdlib(p) {
				return edit.Insert(nextLine(f.Src, f.Offset(f.AST.Imports[i].End())), "\t"+spec+"\n")
			}
		}
	}
	anchor := f.AST.Imports[len(f.AST.Imports)-1]
	for i := len(f.AST.Imports) - 1; i >= 0; i-- {
		p, _ := strconv.Unquote(f.AST.Imports[i].Path.Value)
		if p == ControllerRuntime || strings.HasPrefix(p, ControllerRuntime+"/") {
			anchor = f.AST.Imports[i]
		}
	}
	return edit.Insert(lineStart(f.Src, f.Offset(anchor.Pos())), "\t"+spec+"\n")
}

func usesOf(f *File, name string) int {
	n := 0
	ast.Inspect(f.AST, func(node ast.Node) bool {
		if sel, ok := node.(*ast.SelectorExpr); ok && isIdent(sel.X, name) {
			n++
		}
		return true
	})
	return n
}

func declares(fn *ast.FuncDecl, name string) bool {
	found := false
	ast.Inspect(fn, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && id.Name == name && id.Obj != nil {
			found = true
		}
		return !found
	})
	return found
}

func withLastName(expr, name string) string {
	if i := strings.LastIndex(expr, "."); i >= 0 {
		return expr[:i+1] + name
	}
	return name
}

func indexOf(ids []*ast.Ident, id *ast.Ident) int {
	for i, x := range ids {
		if x == id {
			return i
		}
	}
	return -1
}

func lineStart(src []byte, off int) int {
	for off > 0 && src[off-1] != '\n' {
		off--
	}
	return off
}

// lineEnd returns the offset of the newline ending off's line (excluded from the line).
func lineEnd(src []byte, off int) int {
	for off < len(src) && src[off] != '\n' {
		off++
	}
	return off
}

// freeDocMarkers takes the +kubebuilder:rbac lines out of the manager function's doc comment: a blank line
// after them when they are the whole comment, else they move above it, followed by a blank line.
func freeDocMarkers(m *Manager) (string, []edit.Edit) {
	doc, name := m.Func.Doc, m.Func.Name.Name
	var markers, prose []*ast.Comment
	for _, c := range doc.List {
		if text, ok := markerText(c.Text); ok && strings.HasPrefix(text, "+kubebuilder:rbac:") {
			markers = append(markers, c)
		} else {
			prose = append(prose, c)
		}
	}
	line := m.File.Line
	if len(prose) == 0 {
		return fmt.Sprintf("separate the RBAC markers (lines %d-%d) from func %s with a blank line: controller-gen ignores a function's doc comment",
				line(doc.Pos()), line(doc.End()), name),
			[]edit.Edit{edit.Insert(m.File.Offset(doc.End()), "\n")}
	}
	var block strings.Builder
	var es []edit.Edit
	for _, c := range markers {
		block.WriteString(c.Text + "\n")
		start, end := m.File.Offset(c.Pos()), m.File.Offset(c.End())
		for start > 0 && m.File.Src[start-1] != '\n' {
			start--
		}
		if end < len(m.File.Src) && m.File.Src[end] == '\n' {
			end++
		}
		es = append(es, edit.Edit{Start: start, End: end})
	}
	block.WriteString("\n")
	es = append(es, edit.Insert(m.File.Offset(doc.Pos()), block.String()))
	return fmt.Sprintf("move the RBAC markers out of func %s's doc comment (line %d): controller-gen ignores a function's doc comment", name, line(markers[0].Pos())), es
}
