// SPDX-License-Identifier: Apache-2.0

package check

import (
	"fmt"
)

const (
	proxyListenFlag   = "--secure-listen-address"
	proxyUpstreamFlag = "--upstream"
)

// checkProxies reports a kube-rbac-proxy sidecar that listens on the manager's diagnostics port: both
// share the pod's network, so one of them cannot bind. Upstream CAPC's default-with-metrics-port overlay
// kept such a proxy (0.0.0.0:8443, upstream http://127.0.0.1:8080/) after adopting diagnostics.
func checkProxies(r *repo) error {
	if !r.diagnostics {
		return nil
	}
	for _, p := range r.manifests.proxies {
		manager := r.t.Container
		if p.manager != nil {
			manager = p.manager
		}
		diag, on := diagnosticsAddress(manager)
		if !on {
			continue
		}
		v, line, ok := p.Arg(proxyListenFlag, true)
		if !ok {
			continue
		}
		listen, ok := parseAddress(v)
		if !ok || listen.port != diag.port {
			continue
		}
		message := fmt.Sprintf("kube-rbac-proxy listens on %s, the port the manager serves diagnostics on: in one pod only one of them can bind it", listen)
		if upstream, _, ok := p.Arg(proxyUpstreamFlag, true); ok {
			message += fmt.Sprintf(", and its upstream %s no longer serves metrics", upstream)
		}
		fix := "run `diagkit retrofit`: it removes container " + p.Name + " from " + p.Path +
			" and gives the manager's 8443 the sidecar's port name, so Services that name it keep working (the manager authenticates callers itself)"
		r.report(Finding{ID: ProxyPortCollision, File: p.Path, Line: line, Message: message, Fix: fix})
	}
	return nil
}
