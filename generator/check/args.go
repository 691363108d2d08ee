// SPDX-License-Identifier: Apache-2.0

package check

import (
	"fmt"
	"go/ast"
	"go/token"
	"strconv"
	"strings"

	"github.com/diagkit/diagkit/generator/gosource"
	"github.com/diagkit/diagkit/generator/manifest"
)

// oldMetricsFlags are the metrics bind flags of kubebuilder and Cluster API scaffolds, which a manager
// serving diagnostics no longer registers (or, in Cluster API v1.6–1.8, serves over plain HTTP).
var oldMetricsFlags = []string{"--metrics-bind-address", "--metrics-bind-addr", "--metrics-addr"}

// defaultDiagnostics is where a manager serves diagnostics when no argument says otherwise.
var defaultDiagnostics = address{port: strconv.Itoa(manifest.Port)}

// diagnosticsAddress returns the diagnostics address c passes, or the default; ok is false when the
// endpoint is turned off.
func diagnosticsAddress(c *manifest.Container) (address, bool) {
	if c == nil {
		return defaultDiagnostics, true
	}
	v, _, ok := c.Arg(manifest.AddressFlag, true)
	if !ok {
		return defaultDiagnostics, true
	}
	return parseAddress(v)
}

// checkManagerArgs reports manager containers (manager.yaml and patches that set its args) whose args do
// not serve diagnostics securely, and a manager.yaml that does not declare the diagnostics port.
func checkManagerArgs(r *repo) error {
	for _, c := range r.manifests.managers {
		if v, line, ok := c.Arg(manifest.InsecureFlag, false); ok && isTrue(v) {
			if addr, on := diagnosticsAddress(c); on {
				r.reportInsecure(c, line, addr)
			}
		}
		if !r.diagnostics || (c != r.t.Container && !c.HasArgs()) {
			continue
		}
		// manager.yaml is a base, and a patch replacing its args one step: the overlays a cluster receives
		// are what count (Nutanix passes the diagnostics address from a config/default patch; a kubebuilder v4
		// tree adds it with a JSON patch after one replacing the args).
		if r.t.OverlaysServeDiagnostics() {
			continue
		}
		if _, _, ok := c.Arg(manifest.AddressFlag, true); !ok {
			r.reportNoAddress(c)
		}
	}
	return checkPort(r)
}

func (r *repo) reportInsecure(c *manifest.Container, line int, addr address) {
	if addr.loopback() {
		r.report(Finding{
			ID: ManifestInsecure, File: c.Path, Line: line,
			Message: fmt.Sprintf("%s turns off HTTPS, authentication and authorization of the diagnostics endpoint; on %s only containers of the pod reach it, through a proxy that must do all of that instead",
				manifest.InsecureFlag, addr),
			Fix: fmt.Sprintf("pass %s=false (the endpoint then authenticates callers itself) and remove the proxy in front of it", manifest.InsecureFlag),
		})
		return
	}
	r.report(Finding{
		ID: MetricsPlainHTTPAllInterfaces, File: c.Path, Line: line,
		Message: fmt.Sprintf("%s serves /metrics over plain HTTP without authentication on %s: any pod that reaches the manager reads them",
			manifest.InsecureFlag, addr),
		Fix: fmt.Sprintf("pass %s=false, or drop the argument", manifest.InsecureFlag),
	})
}

func (r *repo) reportNoAddress(c *manifest.Container) {
	address, insecure := ":8443", "false"
	if c.Clusterctl {
		address, insecure = "${CAPI_DIAGNOSTICS_ADDRESS:=:8443}", "${CAPI_INSECURE_DIAGNOSTICS:=false}"
	}
	add := "`- " + manifest.AddressFlag + "=" + address + "`"
	if _, _, ok := c.Arg(manifest.InsecureFlag, false); !ok {
		add += " and `- " + manifest.InsecureFlag + "=" + insecure + "`"
	}
	message := fmt.Sprintf("container %s does not pass %s (the manager registers it): the endpoint runs on the binary's default, which the manifest does not state",
		c.Name, manifest.AddressFlag)
	if c != r.t.Container {
		message = fmt.Sprintf("this patch replaces the args of container %s without %s, so the overlay drops the diagnostics arguments of %s",
			c.Name, manifest.AddressFlag, r.t.ManagerManifest)
	}
	fix := fmt.Sprintf("add %s to the args of container %s", add, c.Name)
	for _, flag := range oldMetricsFlags {
		if v, line, ok := c.Arg(flag, true); ok {
			if registersFlag(r.t.MainPackage, strings.TrimPrefix(flag, "--")) {
				message += fmt.Sprintf("; it still passes the old %s", flag)
			} else {
				message += fmt.Sprintf("; it passes %s, which the manager no longer registers, so it exits at start-up", flag)
			}
			fix += fmt.Sprintf(", and drop %s=%s (line %d)", flag, v, line)
		}
	}
	if c == r.t.Container {
		fix += " (or run `diagkit retrofit`)"
	}
	r.report(Finding{ID: ManifestNoDiagnosticsArgs, File: c.Path, Line: c.KeyLine("args"), Message: message, Fix: fix})
}

// checkPort reports a manager.yaml that does not declare the port diagnostics is served on; patches add
// ports (strategic merge keeps both lists), so one in a patch counts.
func checkPort(r *repo) error {
	c := r.t.Container
	if !r.diagnostics || c == nil || r.t.OverlaysServeDiagnostics() {
		return nil
	}
	addr, on := diagnosticsAddress(c)
	if !on {
		return nil
	}
	if declares(r.manifests.managers, addr.port) {
		return nil
	}
	r.report(Finding{
		ID: ManifestNoPort, File: c.Path, Line: c.KeyLine("ports"),
		Message: fmt.Sprintf("the diagnostics endpoint listens on port %s, which container %s does not declare: a Service or monitor selecting it by name finds nothing to scrape",
			addr.port, c.Name),
		Fix: fmt.Sprintf("add to the ports of container %s: `- containerPort: %s`, `name: %s`, `protocol: TCP`", c.Name, addr.port, manifest.PortName),
	})
	return nil
}

// registersFlag reports whether a string literal of pkg is name: a flag registration, short of type-checking.
func registersFlag(pkg *gosource.Package, name string) bool {
	quoted := strconv.Quote(name)
	for _, f := range pkg.Files {
		found := false
		ast.Inspect(f.AST, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && lit.Value == quoted {
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

func (a address) String() string {
	if strings.Contains(a.host, ":") {
		return "[" + a.host + "]:" + a.port
	}
	return a.host + ":" + a.port
}
