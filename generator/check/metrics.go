// SPDX-License-Identifier: Apache-2.0

package check

import (
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"slices"
	"strconv"

	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/gosource"
)

// checkMetricsAddress reports a manager without diagnostics whose metrics server (plain HTTP, no
// authentication) binds all interfaces, through the flag's default or the manifests' argument; the
// kubebuilder v2/v3 default was 127.0.0.1:8080 behind kube-rbac-proxy, eks-anywhere-packages' is :8080.
func checkMetricsAddress(r *repo) error {
	m := r.t.Manager
	message := func(addr address) string {
		return fmt.Sprintf("metrics are served over plain HTTP without authentication on %s, all interfaces: any pod that reaches the manager reads them", addr)
	}
	const serve = "serve them through diagnostics (`diagkit retrofit`)"
	if !r.diagnostics && m != nil && m.Options != nil && m.Metrics == nil {
		// No Metrics in ctrl.Options: controller-runtime binds its default, :8080.
		r.report(Finding{ID: MetricsPlainHTTPAllInterfaces, File: m.File.Path, Line: m.File.Line(m.Options.Pos()), Message: message(address{port: "8080"}),
			Fix: serve + ", or set Metrics: metricsserver.Options{BindAddress: \"127.0.0.1:8080\"} (\"0\" turns it off)"})
		return nil
	}
	if r.diagnostics || m == nil || m.BindAddress == nil || !plainMetrics(m.Metrics) {
		return nil
	}
	if lit, ok := m.BindAddress.(*ast.BasicLit); ok && lit.Kind == token.STRING {
		value, _ := strconv.Unquote(lit.Value)
		if addr, ok := parseAddress(value); ok && addr.allInterfaces() {
			r.report(Finding{ID: MetricsPlainHTTPAllInterfaces, File: m.File.Path, Line: m.File.Line(lit.Pos()), Message: message(addr),
				Fix: serve + ", or bind the loopback: \"127.0.0.1:" + addr.port + "\""})
		}
		return nil
	}
	reg := m.Registration
	if reg == nil {
		return nil
	}
	flag := "--" + reg.FlagName
	passed := false
	for _, c := range r.manifests.managers {
		v, line, ok := c.Arg(flag, true)
		if !ok {
			continue
		}
		passed = true
		if addr, ok := parseAddress(v); ok && addr.allInterfaces() {
			r.report(Finding{ID: MetricsPlainHTTPAllInterfaces, File: c.Path, Line: line, Message: message(addr),
				Fix: fmt.Sprintf("%s, or pass %s=127.0.0.1:%s", serve, flag, addr.port)})
		}
	}
	if addr, ok := parseAddress(reg.Default); ok && !passed && addr.allInterfaces() {
		msg, what := message(addr), "the default of "+flag
		if reg.DefaultCall != "" {
			// The call may read the environment first; its fallback is what a Deployment without it gets.
			msg += " (the fallback of " + reg.DefaultCall + ", the default of " + flag + ")"
			what = "the fallback of " + reg.DefaultCall
		}
		r.report(Finding{ID: MetricsPlainHTTPAllInterfaces, File: reg.File.Path, Line: reg.File.Line(reg.Call.Pos()), Message: msg,
			Fix: fmt.Sprintf("%s, or make %s \"127.0.0.1:%s\"", serve, what, addr.port)})
	}
	return nil
}

// plainMetrics reports whether the Metrics: field is a metrics server literal with only BindAddress, which
// serves plain HTTP (SecureServing and FilterProvider unset).
func plainMetrics(kv *ast.KeyValueExpr) bool {
	lit, ok := kv.Value.(*ast.CompositeLit)
	if !ok {
		return false
	}
	// Other fields (Flux's ExtraHandlers) keep it plain; serving it securely or behind a filter does not.
	for _, elt := range lit.Elts {
		if f, ok := elt.(*ast.KeyValueExpr); !ok || isKey(f, "SecureServing", "FilterProvider", "TLSOpts", "CertDir") {
			return false
		}
	}
	return len(lit.Elts) > 0
}

func isKey(kv *ast.KeyValueExpr, names ...string) bool {
	id, ok := kv.Key.(*ast.Ident)
	return ok && slices.Contains(names, id.Name)
}

// checkStockFilter reports a manager without diagnostics whose metrics controller-runtime's own filter
// protects (filters.WithAuthenticationAndAuthorization, the kubebuilder v4 scaffold's choice): secure, but
// without what an endpoint that any pod can reach needs against floods and for debugging.
func checkStockFilter(r *repo) error {
	m := r.t.Manager
	if r.diagnostics || m == nil {
		return nil
	}
	for _, f := range m.Pkg.Files {
		name, ok := f.ImportName(gosource.ControllerRuntimeFilters)
		if !ok {
			continue
		}
		ast.Inspect(f.AST, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "WithAuthenticationAndAuthorization" {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); !ok || x.Name != name {
				return true
			}
			r.report(Finding{ID: MetricsStockFilter, File: f.Path, Line: f.Line(sel.Pos()),
				Message: "metrics are protected by controller-runtime's filters.WithAuthenticationAndAuthorization: no review budget " +
					"(each garbage token costs the API server a TokenReview), 500 instead of 401/503 when a review fails, no pprof or " +
					"log-level endpoints behind the same authorization, and a new self-signed certificate at every start unless one is mounted",
				Fix: "`diagkit retrofit` wraps the metrics options in diagnostics.Apply, keeping the existing flags as deprecated aliases"})
			return false
		})
	}
	return nil
}

// checkNotAnalysed reports a manager without diagnostics whose metrics options diagkit could not analyse:
// the other checks still run, but no finding must read as a clean bill for an endpoint nobody looked at.
func checkNotAnalysed(r *repo) error {
	err := r.t.ManagerErr
	if r.diagnostics || err == nil || errors.Is(err, gosource.ErrMetricsOff) {
		return nil // (a manager whose metrics server is off serves nothing to judge)
	}
	f := Finding{ID: MetricsNotAnalysed, Message: "diagkit could not analyse how the manager serves its metrics (" + err.Error() + "): nothing here says whether that endpoint is secure",
		Fix: "see `diagkit detect`; serve the metrics through diagnostics by hand (Metrics: diagnosticsOptions.Apply(<options>)), then check again"}
	var pe *edit.PositionError
	var refusal *edit.Refusal
	switch {
	case errors.As(err, &pe):
		f.File, f.Line = pe.File, pe.Line
	case errors.As(err, &refusal):
		f.File, f.Line = refusal.File, refusal.Line
	case r.t.Manager != nil:
		f.File, f.Line = r.t.Manager.File.Path, r.t.Manager.File.Line(r.t.Manager.Call.Pos())
	}
	r.report(f)
	return nil
}
