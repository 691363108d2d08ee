// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/diagkit/diagkit/e2e/framework"
)

// TestSecureEndpoint runs the sample manager with default diagnostics flags and checks every caller
// against the real API server's TokenReview, SubjectAccessReview and RBAC.
func TestSecureEndpoint(t *testing.T) {
	cp := controlPlane
	mgr, addr := startManager(t, cp, "secure-manager")
	base := "https://" + addr

	tokens := map[string]string{
		"garbage":      "garbage.not-a-jwt",
		"unprivileged": caller(t, cp, "unprivileged"),
		"reader":       caller(t, cp, "reader", framework.MetricsReaderRule),
		"debugger":     caller(t, cp, "debugger", framework.PprofRule),
		// get, not put, on /debug/flags/v: proves the verb is the request's method.
		"flags-getter": caller(t, cp, "flags-getter", framework.Rule{NonResourceURLs: []string{"/debug/flags/v"}, Verbs: []string{"get"}}),
		"log-level":    caller(t, cp, "log-level", framework.LogLevelRule),
	}
	client := framework.Client(tls.VersionTLS12, 0)

	tests := []struct {
		name       string
		caller     string // key of tokens; "" is anonymous
		method     string
		path       string
		body       string
		wantStatus int
		wantBody   string
	}{
		// First, so that every later review runs with klog at the highest verbosity the endpoint accepts:
		// the last check proves the TokenReviews' tokens still never reach the log. From 8, client-go before
		// v0.32 logs request bodies, tokens included, so the endpoint refuses those levels.
		{name: "log-level caller may PUT /debug/flags/v", caller: "log-level", method: http.MethodPut, path: "/debug/flags/v", body: "7",
			wantStatus: http.StatusOK, wantBody: "successfully set klog.logging.verbosity to 7"},
		{name: "no level from which client-go logs request bodies", caller: "log-level", method: http.MethodPut, path: "/debug/flags/v", body: "10",
			wantStatus: http.StatusBadRequest, wantBody: "expected a verbosity level from 0 to 7"},
		{name: "anonymous caller is refused with 401", method: http.MethodGet, path: "/metrics", wantStatus: http.StatusUnauthorized},
		{name: "garbage token is refused with 401, not 500", caller: "garbage", method: http.MethodGet, path: "/metrics", wantStatus: http.StatusUnauthorized},
		{name: "ServiceAccount without RBAC is refused with 403", caller: "unprivileged", method: http.MethodGet, path: "/metrics", wantStatus: http.StatusForbidden},
		{name: "metrics reader gets Prometheus text", caller: "reader", method: http.MethodGet, path: "/metrics",
			wantStatus: http.StatusOK, wantBody: "# TYPE diagkit_sample_reconciles_total counter"},
		{name: "metrics reader is refused /debug/pprof/ with 403", caller: "reader", method: http.MethodGet, path: "/debug/pprof/", wantStatus: http.StatusForbidden},
		{name: "pprof role gets /debug/pprof/", caller: "debugger", method: http.MethodGet, path: "/debug/pprof/", wantStatus: http.StatusOK, wantBody: "goroutine"},
		{name: "pprof role gets a named profile", caller: "debugger", method: http.MethodGet, path: "/debug/pprof/goroutine?debug=1",
			wantStatus: http.StatusOK, wantBody: "goroutine profile:"},
		{name: "pprof role is refused /metrics with 403", caller: "debugger", method: http.MethodGet, path: "/metrics", wantStatus: http.StatusForbidden},
		{name: "PUT /debug/flags/v needs verb put, get is not enough", caller: "flags-getter", method: http.MethodPut, path: "/debug/flags/v", body: "1",
			wantStatus: http.StatusForbidden},
		{name: "anonymous PUT /debug/flags/v is refused with 401", method: http.MethodPut, path: "/debug/flags/v", body: "1", wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := framework.Call(t.Context(), client, tt.method, base+tt.path, tokens[tt.caller], tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.wantStatus {
				t.Errorf("status %d, want %d; body %q", resp.Status, tt.wantStatus, truncate(resp.Body))
			}
			if !strings.Contains(resp.Body, tt.wantBody) {
				t.Errorf("body does not contain %q: %q", tt.wantBody, truncate(resp.Body))
			}
			if tt.wantStatus == http.StatusOK && tt.path == "/metrics" && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("Content-Type %q, want Prometheus text format", resp.Header.Get("Content-Type"))
			}
		})
	}

	t.Run("decisions are counted on the manager's own /metrics", func(t *testing.T) {
		resp, err := framework.Call(t.Context(), client, http.MethodGet, base+"/metrics", tokens["reader"], "")
		if err != nil {
			t.Fatal(err)
		}
		for _, series := range []string{
			`diagkit_diagnostics_authentication_total{result="unauthenticated"}`,
			`diagkit_diagnostics_authentication_total{result="authenticated"}`,
			`diagkit_diagnostics_authorization_total{decision="allowed"}`,
			`diagkit_diagnostics_authorization_total{decision="denied"}`,
			`diagkit_diagnostics_review_duration_seconds_count{review="tokenreview"}`,
			`diagkit_diagnostics_review_duration_seconds_count{review="subjectaccessreview"}`,
		} {
			if !strings.Contains(resp.Body, series+" ") {
				t.Errorf("%s is missing from /metrics", series)
			}
		}
	})
	t.Run("refusals are logged at default verbosity with user, verb and path", func(t *testing.T) {
		logs := mgr.Logs()
		for _, want := range []string{
			`"path":"/debug/pprof/","status":403,"verb":"get","reason":"no RBAC rule allows it","user":"system:serviceaccount:diagkit-e2e:reader"`,
			`"path":"/metrics","status":401,"verb":"get","reason":"credentials rejected"`,
		} {
			if !strings.Contains(logs, want) {
				t.Errorf("the log has no %s", want)
			}
		}
	})

	t.Run("no token or Authorization header reaches the manager's log", func(t *testing.T) {
		logs := mgr.Logs()
		if !strings.Contains(logs, "Serving metrics server") {
			t.Fatalf("the manager's log was not captured:\n%s", truncate(logs))
		}
		for name, token := range tokens {
			if strings.Contains(logs, token) {
				t.Errorf("the %s token appears in the manager's log", name)
			}
		}
		if strings.Contains(logs, "Bearer ") {
			t.Error(`"Bearer " appears in the manager's log`)
		}
	})
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
