// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/diagkit/diagkit/e2e/framework"
)

// TestClientCertificates: with --diagnostics-client-ca-file, a client certificate authenticates its
// CommonName (user) and Organizations (groups), authorized by the same SubjectAccessReview.
func TestClientCertificates(t *testing.T) {
	cp := controlPlane
	ctx := t.Context()
	ca, err := framework.NewCA("diagkit-e2e-client-ca")
	if err != nil {
		t.Fatal(err)
	}
	other, err := framework.NewCA("some-other-ca")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "client-ca.crt")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	_, addr := startManager(t, cp, "mtls-manager", "--diagnostics-client-ca-file="+caFile)
	url := "https://" + addr + "/metrics"

	if err := cp.EnsureClusterRole(ctx, "diagkit-e2e-cert-metrics-reader", framework.MetricsReaderRule); err != nil {
		t.Fatal(err)
	}
	if err := cp.BindSubject(ctx, rbacv1.UserKind, "prometheus-client", "diagkit-e2e-cert-metrics-reader"); err != nil {
		t.Fatal(err)
	}
	if err := cp.BindSubject(ctx, rbacv1.GroupKind, "metrics-readers", "diagkit-e2e-cert-metrics-reader"); err != nil {
		t.Fatal(err)
	}
	reader := caller(t, cp, "mtls-token-reader", framework.MetricsReaderRule)

	withCert := func(t *testing.T, from *framework.CA, user string, groups ...string) *http.Client {
		t.Helper()
		cert, err := from.ClientCertificate(user, groups...)
		if err != nil {
			t.Fatal(err)
		}
		c := framework.Client(tls.VersionTLS12, 0)
		c.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{cert}
		return c
	}
	tests := []struct {
		name   string
		client *http.Client
		token  string
		want   int
	}{
		{"certificate from the configured CA with RBAC on its user is served", withCert(t, ca, "prometheus-client"), "", http.StatusOK},
		{"certificate whose organization is a group with RBAC is served", withCert(t, ca, "someone", "metrics-readers"), "", http.StatusOK},
		{"certificate from the configured CA without RBAC is refused with 403", withCert(t, ca, "nobody"), "", http.StatusForbidden},
		{"certificate from another CA is refused with 401", withCert(t, other, "prometheus-client"), "", http.StatusUnauthorized},
		{"bearer tokens keep working", framework.Client(tls.VersionTLS12, 0), reader, http.StatusOK},
		{"no certificate and no token is refused with 401", framework.Client(tls.VersionTLS12, 0), "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := framework.Call(ctx, tt.client, http.MethodGet, url, tt.token, "")
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.want {
				t.Errorf("status %d, want %d (%s)", resp.Status, tt.want, truncate(resp.Body))
			}
		})
	}

	t.Run("a replaced CA file is picked up while running", func(t *testing.T) {
		rotated, err := framework.NewCA("diagkit-e2e-rotated-ca")
		if err != nil {
			t.Fatal(err)
		}
		tmp := caFile + ".new"
		if err := os.WriteFile(tmp, rotated.PEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, caFile); err != nil {
			t.Fatal(err)
		}
		client := withCert(t, rotated, "prometheus-client")
		deadline := time.Now().Add(90 * time.Second)
		for {
			resp, err := framework.Call(ctx, client, http.MethodGet, url, "", "")
			if err == nil && resp.Status == http.StatusOK {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("a certificate from the new CA is still refused after 90s (last status %d, %v)", resp.Status, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
	})
}

// TestTokenAudiences: with --diagnostics-token-audiences, only tokens issued for those audiences pass.
func TestTokenAudiences(t *testing.T) {
	cp := controlPlane
	ctx := t.Context()
	_, addr := startManager(t, cp, "audience-manager", "--diagnostics-token-audiences=diagkit-scraper")
	url := "https://" + addr + "/metrics"
	apiAudience := caller(t, cp, "audience-reader", framework.MetricsReaderRule)
	scraperAudience, err := cp.TokenForAudiences(ctx, namespace, "audience-reader", "diagkit-scraper")
	if err != nil {
		t.Fatal(err)
	}
	otherAudience, err := cp.TokenForAudiences(ctx, namespace, "audience-reader", "vault")
	if err != nil {
		t.Fatal(err)
	}
	client := framework.Client(tls.VersionTLS12, 0)
	for _, tt := range []struct {
		name, token string
		want        int
	}{
		{"token issued for the configured audience is served", scraperAudience, http.StatusOK},
		{"token issued for the API server is refused with 401", apiAudience, http.StatusUnauthorized},
		{"token issued for another audience is refused with 401", otherAudience, http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := framework.Call(ctx, client, http.MethodGet, url, tt.token, "")
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.want {
				t.Errorf("status %d, want %d (%s)", resp.Status, tt.want, truncate(resp.Body))
			}
		})
	}
}
