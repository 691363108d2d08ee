// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/diagkit/diagkit/e2e/framework"
)

// TestAttacker tries, against the real API server, what a caller with no token, a garbage token, a valid
// but unprivileged token or a client certificate would try against the diagnostics endpoint, one subtest
// per finding of the security review (issue 20). Each subtest failed before its fix. The rest of the
// attacker suite, run together by `make test-attacker`: TestGarbageFloodOutlastingTheCaches and
// TestGarbageFloodStaysWithinBudget (floods), TestRevocation (revoked tokens and grants),
// TestFailClosedWithoutAPIServer, TestReviewFaults, TestRouteCoverage (every route refuses anonymous and
// unprivileged callers) and TestMetricsProxy (the proxy's paths and per-component grants).
func TestAttacker(t *testing.T) {
	cp := controlPlane
	ctx := t.Context()
	ca, err := framework.NewCA("diagkit-e2e-attacker-ca")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "client-ca.crt")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	mgr, addr := startManager(t, cp, "attacked-manager", "--diagnostics-client-ca-file="+caFile)
	base := "https://" + addr
	client := framework.Client(tls.VersionTLS12, 0)
	logLevel := caller(t, cp, "attacker-log-level", framework.LogLevelRule)
	debugger := caller(t, cp, "attacker-debugger", framework.PprofRule)

	// Item 1: at every level the endpoint accepts, a fresh token's TokenReview leaves no trace of the token
	// in the log; the levels from which client-go (before v0.32) logs request bodies are refused.
	t.Run("no level the endpoint accepts puts a token in the log", func(t *testing.T) {
		var fresh []string
		for level := 0; level <= 7; level++ {
			resp, err := framework.Call(ctx, client, http.MethodPut, base+"/debug/flags/v", logLevel, fmt.Sprint(level))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != http.StatusOK {
				t.Fatalf("PUT level %d: status %d, want 200 (%s)", level, resp.Status, truncate(resp.Body))
			}
			token := caller(t, cp, fmt.Sprintf("attacker-fresh-%d", level), framework.MetricsReaderRule)
			fresh = append(fresh, token)
			if resp, err := framework.Call(ctx, client, http.MethodGet, base+"/metrics", token, ""); err != nil || resp.Status != http.StatusOK {
				t.Fatalf("scrape at level %d: %v, status %d", level, err, resp.Status)
			}
		}
		for _, level := range []string{"8", "9", "10", "128", "129", "255", "-1", "4294967297", "seven"} {
			resp, err := framework.Call(ctx, client, http.MethodPut, base+"/debug/flags/v", logLevel, level)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != http.StatusBadRequest {
				t.Errorf("PUT level %q: status %d, want 400 (%s)", level, resp.Status, truncate(resp.Body))
			}
			if strings.Contains(resp.Body, level) && level != "8" { // "from 8, client-go logs…" is the explanation
				t.Errorf("PUT level %q: the answer echoes the value: %q", level, truncate(resp.Body))
			}
		}
		logs := mgr.Logs()
		for i, token := range append(fresh, logLevel) {
			if strings.Contains(logs, token) {
				t.Errorf("token %d appears in the manager's log", i)
			}
		}
		if _, err := framework.Call(ctx, client, http.MethodPut, base+"/debug/flags/v", logLevel, "0"); err != nil {
			t.Fatal(err)
		}
	})

	// Item 4: the body of PUT /debug/flags/v is a level, not a payload to read whole and echo back.
	t.Run("an oversized or malformed level is refused without being read whole or echoed", func(t *testing.T) {
		huge := strings.Repeat("9", 10<<20)
		resp, err := framework.Call(ctx, client, http.MethodPut, base+"/debug/flags/v", logLevel, huge)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusRequestEntityTooLarge || len(resp.Body) > 1024 {
			t.Errorf("10 MiB body: status %d and %d bytes back, want 413 and a short answer", resp.Status, len(resp.Body))
		}
		resp, err = framework.Call(ctx, client, http.MethodPut, base+"/debug/flags/v", logLevel, "<script>alert(1)</script>")
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusBadRequest || strings.Contains(resp.Body, "script") {
			t.Errorf("malformed level: status %d, body %q; want 400 without the value", resp.Status, truncate(resp.Body))
		}
	})

	// Item 3: decisions are cached by identity; an organization with a comma must not read as two groups.
	t.Run("a comma inside a group name does not borrow the decision cached for two groups", func(t *testing.T) {
		if err := cp.EnsureClusterRole(ctx, "diagkit-e2e-attacker-pprof", framework.PprofRule); err != nil {
			t.Fatal(err)
		}
		if err := cp.BindSubject(ctx, rbacv1.GroupKind, "pprof-readers", "diagkit-e2e-attacker-pprof"); err != nil {
			t.Fatal(err)
		}
		withCert := func(groups ...string) *http.Client {
			cert, err := ca.ClientCertificate("mallory", groups...)
			if err != nil {
				t.Fatal(err)
			}
			c := framework.Client(tls.VersionTLS12, 0)
			c.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{cert}
			return c
		}
		for _, tt := range []struct {
			groups []string
			want   int
		}{
			{[]string{"ops", "pprof-readers"}, http.StatusOK}, // cached as allowed
			{[]string{"ops,pprof-readers"}, http.StatusForbidden},
			{[]string{"ops", "pprof-readers,"}, http.StatusForbidden},
		} {
			resp, err := framework.Call(ctx, withCert(tt.groups...), http.MethodGet, base+"/debug/pprof/", "", "")
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.want {
				t.Errorf("user mallory in groups %q: status %d, want %d", tt.groups, resp.Status, tt.want)
			}
		}
	})

	// Item 6: what one request can make the manager do is bounded.
	t.Run("a profile or trace longer than the ceiling is refused before it starts", func(t *testing.T) {
		for _, path := range []string{"/debug/pprof/profile?seconds=3600", "/debug/pprof/trace?seconds=601"} {
			resp, err := framework.Call(ctx, client, http.MethodGet, base+path, debugger, "")
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400 (%s)", path, resp.Status, truncate(resp.Body))
			}
		}
	})
	t.Run("an oversized token is refused with 431 and never sent to the API server", func(t *testing.T) {
		token := "garbage-" + strings.Repeat("x", 40<<10)
		var resp framework.Response
		tokenReviews, _ := reviewDelta(t, cp, func() {
			resp, err = framework.Call(ctx, client, http.MethodGet, base+"/metrics", token, "")
		})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d, want 431 (%s)", resp.Status, truncate(resp.Body))
		}
		if tokenReviews != 0 {
			t.Errorf("%d TokenReviews reached the API server, want 0", tokenReviews)
		}
		if strings.Contains(mgr.Logs(), "xxxxxxxx") {
			t.Error("the oversized token appears in the manager's log")
		}
	})
}
