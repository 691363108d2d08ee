// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// writeServingPair writes a certificate for 127.0.0.1 into dir atomically (write, then rename) and
// returns its serial number and a pool that trusts it.
func writeServingPair(t *testing.T, dir string) (string, *x509.CertPool) {
	t.Helper()
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey("diagnostics.diagkit-e2e.svc", []net.IP{net.ParseIP("127.0.0.1")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"tls.key": keyPEM, "tls.crt": certPEM} {
		if err := os.WriteFile(filepath.Join(dir, name+".tmp"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, name+".tmp"), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	certs, err := certutil.ParseCertsPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return certs[0].SerialNumber.String(), pool
}

// TestServingCertificateLifecycle: files that appear after start are served (and until then nothing
// is, not even a self-signed certificate), rotation under 10 Hz scraping fails no scrape, and the
// certificate's expiry is on /metrics.
func TestServingCertificateLifecycle(t *testing.T) {
	cp := controlPlane
	dir := t.TempDir()
	_, addr := startManager(t, cp, "cert-lifecycle-manager", "--diagnostics-cert-dir="+dir)
	reader := caller(t, cp, "cert-lifecycle-reader", framework.MetricsReaderRule)
	insecure := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // looking at what is served, not verifying it

	t.Run("before the files exist no certificate is served", func(t *testing.T) {
		if conn, err := tls.Dial("tcp", addr, insecure); err == nil {
			conn.Close()
			t.Fatal("a handshake succeeded without certificate files: a fallback certificate was served")
		}
	})

	serial, _ := writeServingPair(t, dir)
	t.Run("files written after start are picked up", func(t *testing.T) {
		deadline := time.Now().Add(15 * time.Second)
		for {
			conn, err := tls.Dial("tcp", addr, insecure)
			if err == nil {
				got := conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
				conn.Close()
				if got != serial {
					t.Fatalf("served serial %s, want the file's %s", got, serial)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no handshake 15s after the files appeared: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("rotation under 10 Hz scraping fails no scrape", func(t *testing.T) {
		serials := map[string]int{}
		var failures []string
		next, _ := writeServingPair(t, dir)
		rotateAt := time.Now().Add(time.Second)
		rotated := ""
		for i := 0; i < 40; i++ { // 4 s at 10 Hz, a new connection each time
			if rotated == "" && time.Now().After(rotateAt) {
				rotated, _ = writeServingPair(t, dir)
			}
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: insecure, DisableKeepAlives: true}}
			resp, err := client.Get("https://" + addr + "/metrics") // anonymous: the handshake is what counts
			if err != nil {
				failures = append(failures, err.Error())
			} else {
				serials[resp.TLS.PeerCertificates[0].SerialNumber.String()]++
				resp.Body.Close()
			}
			time.Sleep(100 * time.Millisecond)
		}
		if len(failures) > 0 {
			t.Errorf("%d of 40 scrapes failed during rotation: %v", len(failures), failures[0])
		}
		if serials[rotated] == 0 {
			t.Errorf("the last rotated certificate was never served (served %v; rotated %s, %s)", serials, next, rotated)
		}
	})

	t.Run("the certificate's expiry is exported", func(t *testing.T) {
		resp, err := framework.Call(t.Context(), framework.Client(tls.VersionTLS12, 0), http.MethodGet, "https://"+addr+"/metrics", reader, "")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(resp.Body, "diagkit_diagnostics_serving_certificate_expiry_timestamp_seconds ") {
			t.Error("diagkit_diagnostics_serving_certificate_expiry_timestamp_seconds is missing from /metrics")
		}
	})
}
