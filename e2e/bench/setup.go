// SPDX-License-Identifier: Apache-2.0

package bench

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/diagkit/diagkit/e2e/framework"
)

const namespace = "diagkit-bench"

// Mode is one way of serving the same manager's /metrics.
type Mode struct {
	Name string
	args []string
	// Secure modes are HTTPS; Authenticated ones need a token.
	Secure, Authenticated bool
}

// Modes, in the order of every table.
var (
	PlainHTTP   = Mode{Name: "plain HTTP", args: []string{"--insecure-diagnostics"}}
	HTTPSNoAuth = Mode{Name: "HTTPS, no authentication", args: []string{"--bench-metrics=https-no-auth"}, Secure: true}
	StockFilter = Mode{Name: "controller-runtime filter", args: []string{"--bench-metrics=controller-runtime-filter"}, Secure: true, Authenticated: true}
	Diagkit     = Mode{Name: "diagkit", Secure: true, Authenticated: true}
	Modes       = []Mode{PlainHTTP, HTTPSNoAuth, StockFilter, Diagkit}
)

// env is a running control plane with one manager per mode.
type env struct {
	cp         *framework.ControlPlane
	bin, dir   string
	kubeconfig string
	managers   map[string]*framework.Manager
	addrs      map[string]string
	// proxy stands between every manager and the API server, passing traffic until a fault experiment.
	proxy *framework.FaultProxy
}

func (e *env) url(m Mode) string {
	scheme := "http"
	if m.Secure {
		scheme = "https"
	}
	return scheme + "://" + e.addrs[m.Name] + "/metrics"
}

func setUp(ctx context.Context, dir string, series int) (*env, error) {
	bin, err := framework.BuildSampleManager(ctx, dir)
	if err != nil {
		return nil, err
	}
	cp, err := framework.StartControlPlane()
	if err != nil {
		return nil, err
	}
	e := &env{cp: cp, bin: bin, dir: dir, managers: map[string]*framework.Manager{}, addrs: map[string]string{}}
	if err := cp.EnsureNamespace(ctx, namespace); err != nil {
		return e, err
	}
	apiURL, err := url.Parse(cp.Config.Host)
	if err != nil {
		return e, err
	}
	if e.proxy, err = framework.NewFaultProxy(apiURL.Host); err != nil {
		return e, err
	}
	e.kubeconfig = filepath.Join(dir, "manager.kubeconfig")
	if err := cp.ManagerKubeconfig(ctx, namespace, "bench-manager", "https://"+e.proxy.Addr(), e.kubeconfig); err != nil {
		return e, err
	}
	// Every ServiceAccount of the namespace may read /metrics: cold-cache runs mint many of them.
	if err := cp.EnsureClusterRole(ctx, "diagkit-bench-metrics-reader", framework.MetricsReaderRule); err != nil {
		return e, err
	}
	if err := cp.BindSubject(ctx, rbacv1.GroupKind, "system:serviceaccounts:"+namespace, "diagkit-bench-metrics-reader"); err != nil {
		return e, err
	}
	for _, m := range Modes {
		addr, err := framework.FreeAddress()
		if err != nil {
			return e, err
		}
		args := append([]string{"--diagnostics-address=" + addr, fmt.Sprintf("--bench-series=%d", series), "--zap-log-level=error"}, m.args...)
		mgr, err := framework.StartManager(bin, e.kubeconfig, addr, args...)
		if err != nil {
			return e, fmt.Errorf("start %s manager: %w", m.Name, err)
		}
		e.managers[m.Name], e.addrs[m.Name] = mgr, addr
	}
	return e, nil
}

func (e *env) tearDown() {
	for _, m := range e.managers {
		_ = m.Stop()
	}
	if e.proxy != nil {
		_ = e.proxy.Close()
	}
	if e.cp != nil {
		_ = e.cp.Stop()
	}
}

// tokens mints n ServiceAccounts (readers through the namespace group binding) and returns their tokens.
func (e *env) tokens(ctx context.Context, prefix string, n int) ([]string, error) {
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		t, err := e.cp.ServiceAccountToken(ctx, namespace, fmt.Sprintf("%s-%d", prefix, i))
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
