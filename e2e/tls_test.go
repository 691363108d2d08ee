// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	certutil "k8s.io/client-go/util/cert"

	"github.com/diagkit/diagkit/e2e/framework"
)

// TestTLS checks what the default --tls-min-version and the diagnostics TLS settings let through.
func TestTLS(t *testing.T) {
	_, addr := startManager(t, controlPlane, "tls-manager")

	t.Run("TLS 1.1 client is refused under the default", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // the handshake, not the certificate, is under test
			MinVersion:         tls.VersionTLS10,
			MaxVersion:         tls.VersionTLS11,
		})
		if err == nil {
			conn.Close()
			t.Fatal("a TLS 1.1 handshake succeeded")
		}
	})

	for _, v := range []struct {
		name    string
		version uint16
	}{{"TLS 1.2", tls.VersionTLS12}, {"TLS 1.3", tls.VersionTLS13}} {
		t.Run(v.name+" client is accepted", func(t *testing.T) {
			conn, err := tls.Dial("tcp", addr, &tls.Config{
				InsecureSkipVerify: true, //nolint:gosec // the handshake, not the certificate, is under test
				MinVersion:         v.version, MaxVersion: v.version,
			})
			if err != nil {
				t.Fatal(err)
			}
			conn.Close()
		})
	}

	t.Run("HTTP/2 is not offered", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // the handshake, not the certificate, is under test
			NextProtos:         []string{"h2", "http/1.1"},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if p := conn.ConnectionState().NegotiatedProtocol; p == "h2" {
			t.Errorf("server negotiated %q", p)
		}
	})

	t.Run("plain HTTP to the secure endpoint is refused", func(t *testing.T) {
		resp, err := framework.Call(t.Context(), http.DefaultClient, http.MethodGet, "http://"+addr+"/metrics", "", "")
		if err == nil && resp.Status != http.StatusBadRequest {
			t.Fatalf("plain HTTP got status %d", resp.Status)
		}
	})

	t.Run("--tls-min-version=VersionTLS13 refuses TLS 1.2", func(t *testing.T) {
		_, addr13 := startManager(t, controlPlane, "tls13-manager", "--tls-min-version=VersionTLS13")
		conn, err := tls.Dial("tcp", addr13, &tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // the handshake, not the certificate, is under test
			MaxVersion:         tls.VersionTLS12,
		})
		if err == nil {
			conn.Close()
			t.Fatal("a TLS 1.2 handshake succeeded with --tls-min-version=VersionTLS13")
		}
	})
}

// TestCertificateFromFiles serves a certificate from --diagnostics-cert-dir, as a mounted cert-manager
// Secret would provide it, and verifies it like a scraper that knows the CA.
func TestCertificateFromFiles(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey("diagnostics.diagkit-e2e.svc", []net.IP{net.ParseIP("127.0.0.1")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	_, addr := startManager(t, controlPlane, "cert-manager-style-manager", "--diagnostics-cert-dir="+dir)
	reader := caller(t, controlPlane, "cert-reader", framework.MetricsReaderRule)

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(certPEM) {
		t.Fatal("cannot parse the generated certificate")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "diagnostics.diagkit-e2e.svc"}}}
	resp, err := framework.Call(t.Context(), client, http.MethodGet, "https://"+addr+"/metrics", reader, "")
	if err != nil {
		t.Fatalf("a client verifying the configured certificate cannot scrape: %v", err)
	}
	if resp.Status != http.StatusOK {
		t.Errorf("status %d, want 200", resp.Status)
	}
}
