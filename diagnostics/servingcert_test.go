// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	certutil "k8s.io/client-go/util/cert"
)

func writePair(t *testing.T, dir, host string) *x509.Certificate {
	t.Helper()
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey(host, []net.IP{net.ParseIP("127.0.0.1")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Written then renamed, as an atomic update would be.
	for name, data := range map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM} {
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
	return certs[0]
}

func TestServingCert(t *testing.T) {
	dir := t.TempDir()
	expiry := prometheus.NewGauge(prometheus.GaugeOpts{Name: "expiry"})
	s := newServingCert(dir, "tls.crt", "tls.key", expiry)
	s.checkEvery = 0 // look at the files on every handshake

	t.Run("no files yet: the handshake is refused, nothing self-signed", func(t *testing.T) {
		if _, err := s.GetCertificate(nil); !errors.Is(err, errNoServingCert) {
			t.Fatalf("got %v, want errNoServingCert", err)
		}
	})
	var first *x509.Certificate
	t.Run("files that appear later are served, and their expiry exported", func(t *testing.T) {
		first = writePair(t, dir, "first.example")
		c, err := s.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.Leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
			t.Error("not the certificate on disk")
		}
		if got := testutil.ToFloat64(expiry); got != float64(first.NotAfter.Unix()) {
			t.Errorf("expiry gauge %v, want %d", got, first.NotAfter.Unix())
		}
	})
	t.Run("a rotated pair replaces the old one", func(t *testing.T) {
		time.Sleep(10 * time.Millisecond) // a distinct modification time
		second := writePair(t, dir, "second.example")
		c, err := s.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.Leaf.SerialNumber.Cmp(second.SerialNumber) != 0 {
			t.Error("still serving the old certificate")
		}
	})
	t.Run("a half-written pair keeps the previous one", func(t *testing.T) {
		time.Sleep(10 * time.Millisecond)
		if err := os.WriteFile(filepath.Join(dir, "tls.key"), []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := s.GetCertificate(nil)
		if err != nil || c == nil {
			t.Fatalf("got %v, %v; want the previous pair", c, err)
		}
	})
}
