// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/diagkit/diagkit/e2e/framework"
)

// TestFailClosedWithoutAPIServer stops the API server under a running manager: a caller whose token was
// never reviewed must be refused, whatever RBAC it had, because nobody can vouch for it.
func TestFailClosedWithoutAPIServer(t *testing.T) {
	// A control plane of its own, since this test stops it.
	cp, err := framework.StartDisposableControlPlane()
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cp.Crash()
		}
	})
	if err := cp.EnsureNamespace(t.Context(), namespace); err != nil {
		t.Fatal(err)
	}
	mgr, addr := startManager(t, cp, "fail-closed-manager")
	url := "https://" + addr + "/metrics"
	client := framework.Client(tls.VersionTLS12, 0)

	seen := caller(t, cp, "seen-reader", framework.MetricsReaderRule)
	unseen := caller(t, cp, "unseen-reader", framework.MetricsReaderRule)
	resp, err := framework.Call(t.Context(), client, http.MethodGet, url, seen, "")
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("with the API server up, a reader got %d, %v; want 200", resp.Status, err)
	}

	if err := cp.Crash(); err != nil {
		t.Fatal(err)
	}
	stopped = true

	t.Run("never-reviewed token of a reader is refused with 503 and Retry-After", func(t *testing.T) {
		resp, err := framework.Call(t.Context(), client, http.MethodGet, url, unseen, "")
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("status %d Retry-After %q, want 503 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
		}
		if strings.Contains(resp.Body, "diagkit_sample_reconciles_total") {
			t.Error("metrics were served without a review")
		}
	})
	t.Run("anonymous caller is still refused with 401", func(t *testing.T) {
		resp, err := framework.Call(t.Context(), client, http.MethodGet, url, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", resp.Status)
		}
	})
	t.Run("garbage token is refused", func(t *testing.T) {
		resp, err := framework.Call(t.Context(), client, http.MethodGet, url, "garbage", "")
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 503", resp.Status)
		}
	})
	t.Run("the refusal is logged without the token", func(t *testing.T) {
		logs := mgr.Logs()
		if !strings.Contains(logs, "cannot authenticate: API server did not answer the review") {
			t.Error("the manager did not log why it refused")
		}
		if strings.Contains(logs, unseen) || strings.Contains(logs, seen) {
			t.Error("a token appears in the manager's log")
		}
	})
}
