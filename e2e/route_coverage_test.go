// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"runtime/pprof"
	"sort"
	"strings"
	"testing"

	"github.com/diagkit/diagkit/diagnostics"
	"github.com/diagkit/diagkit/e2e/framework"
)

// TestRouteCoverage walks every route the diagnostics package registers, taken from the package itself so
// that a handler added later is covered too, with every method and three callers: nobody gets through
// without authentication and authorization, whatever the route or method.
func TestRouteCoverage(t *testing.T) {
	cp := controlPlane
	ctx := t.Context()
	_, addr := startManager(t, cp, "coverage-manager")
	base := "https://" + addr
	client := framework.Client(tls.VersionTLS12, 0)

	var o diagnostics.Options
	m, _, err := o.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	routes := []string{"/metrics"}
	for path := range m.ExtraHandlers {
		routes = append(routes, path)
	}
	for _, p := range pprof.Profiles() { // served by the /debug/pprof/ subtree
		routes = append(routes, "/debug/pprof/"+p.Name())
	}
	sort.Strings(routes)

	nobody := caller(t, cp, "coverage-nobody")
	everything := caller(t, cp, "coverage-everything", framework.MetricsReaderRule, framework.PprofRule, framework.LogLevelRule)
	// allowed is what the "everything" caller's RBAC grants: get on /metrics and /debug/pprof/*, put on the log level.
	allowed := func(method, path string) bool {
		if path == "/debug/flags/v" {
			return method == http.MethodPut
		}
		return method == http.MethodGet
	}
	for _, route := range routes {
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodPatch} {
			url := base + route
			if route == "/debug/pprof/profile" || route == "/debug/pprof/trace" {
				url += "?seconds=1"
			}
			body := ""
			if route == "/debug/flags/v" {
				body = "0"
			}
			t.Run(fmt.Sprintf("%s %s", method, route), func(t *testing.T) {
				want := map[string]int{"anonymous": http.StatusUnauthorized, "without RBAC": http.StatusForbidden, "with RBAC": http.StatusForbidden}
				if allowed(method, route) {
					want["with RBAC"] = http.StatusOK
				}
				for who, token := range map[string]string{"anonymous": "", "without RBAC": nobody, "with RBAC": everything} {
					resp, err := framework.Call(ctx, client, method, url, token, body)
					if err != nil {
						t.Fatal(err)
					}
					if resp.Status != want[who] {
						t.Errorf("%s: status %d, want %d (%s)", who, resp.Status, want[who], truncate(resp.Body))
					}
				}
			})
		}
	}

	t.Run("made-up paths under /debug/pprof/ are 404 before any review", func(t *testing.T) {
		var statuses []int
		tr, sar := reviewDelta(t, cp, func() {
			for i := 0; i < 100; i++ {
				token := everything
				if i%2 == 0 {
					token = fmt.Sprintf("unknown-%d", i) // not even authenticated
				}
				resp, err := framework.Call(ctx, client, http.MethodGet, fmt.Sprintf("%s/debug/pprof/p%d", base, i), token, "")
				if err != nil {
					t.Fatal(err)
				}
				statuses = append(statuses, resp.Status)
			}
		})
		for _, s := range statuses {
			if s != http.StatusNotFound {
				t.Fatalf("statuses %v, want only 404", statuses)
			}
		}
		if tr != 0 || sar != 0 {
			t.Errorf("100 made-up paths cost %d TokenReviews and %d SubjectAccessReviews, want none", tr, sar)
		}
	})

	t.Run("paths outside the routes are 404 without authentication", func(t *testing.T) {
		for _, path := range []string{"/", "/healthz", "/debug/vars", "/metricsx"} {
			resp, err := framework.Call(ctx, client, http.MethodGet, base+path, "", "")
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != http.StatusNotFound || strings.Contains(resp.Body, "# TYPE") {
				t.Errorf("%s: status %d", path, resp.Status)
			}
		}
	})
}
