// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/diagkit/diagkit/e2e/framework"
)

// TestInsecureDiagnostics checks Cluster API's fallback: plain HTTP, no authentication, /metrics only.
func TestInsecureDiagnostics(t *testing.T) {
	_, addr := startManager(t, controlPlane, "insecure-manager", "--insecure-diagnostics")
	base := "http://" + addr

	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantBody   string
	}{
		{name: "metrics are served over HTTP without a token", method: http.MethodGet, path: "/metrics",
			wantStatus: http.StatusOK, wantBody: "# TYPE diagkit_sample_reconciles_total counter"},
		{name: "pprof is not served", method: http.MethodGet, path: "/debug/pprof/", wantStatus: http.StatusNotFound},
		{name: "pprof profiles are not served", method: http.MethodGet, path: "/debug/pprof/heap", wantStatus: http.StatusNotFound},
		{name: "the log level cannot be changed", method: http.MethodPut, path: "/debug/flags/v", wantStatus: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := framework.Call(t.Context(), http.DefaultClient, tt.method, base+tt.path, "", "1")
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.wantStatus || !strings.Contains(resp.Body, tt.wantBody) {
				t.Errorf("status %d body %q; want %d containing %q", resp.Status, truncate(resp.Body), tt.wantStatus, tt.wantBody)
			}
		})
	}

	t.Run("HTTPS is not served", func(t *testing.T) {
		if _, err := framework.Call(t.Context(), framework.Client(tls.VersionTLS12, 0), http.MethodGet, "https://"+addr+"/metrics", "", ""); err == nil {
			t.Error("an HTTPS request to the insecure endpoint succeeded")
		}
	})
}
