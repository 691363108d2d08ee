// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"
)

func TestHandlerRefusesInsecure(t *testing.T) {
	_, err := (&Options{Insecure: true}).Handler(context.Background(), &rest.Config{Host: "https://127.0.0.1:1"}, logr.Discard(), http.NotFoundHandler())
	if err == nil || !strings.Contains(err.Error(), "--"+FlagInsecureDiagnostics) {
		t.Fatalf("got %v, want an error naming --%s", err, FlagInsecureDiagnostics)
	}
	_, err = (&Options{ReviewTimeout: -1}).Handler(context.Background(), &rest.Config{Host: "https://127.0.0.1:1"}, logr.Discard(), http.NotFoundHandler())
	if err == nil || !strings.Contains(err.Error(), "--"+FlagReviewTimeout) {
		t.Fatalf("got %v, want the validation error naming --%s", err, FlagReviewTimeout)
	}
}

// The handler must be the filter the metrics server gets, so that a server of one's own is reviewed alike:
// a request without credentials never reaches next.
func TestHandlerIsTheFilter(t *testing.T) {
	reached := false
	h, err := (&Options{}).Handler(context.Background(), &rest.Config{Host: "https://127.0.0.1:1"}, logr.Discard(),
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := h.(*filter); !ok {
		t.Fatalf("Handler returned %T, want the diagnostics filter", h)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusUnauthorized || reached {
		t.Errorf("anonymous request: status %d, reached next %v; want 401 and not reached", w.Code, reached)
	}
}

func TestServingTLSConfig(t *testing.T) {
	c, err := (&Options{TLSMinVersion: "VersionTLS13", CertDir: t.TempDir()}).ServingTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.MinVersion != tls.VersionTLS13 || !cmp.Equal(c.NextProtos, []string{"http/1.1"}) || c.GetCertificate == nil {
		t.Errorf("min %x, protos %v, GetCertificate set %v; want TLS 1.3, http/1.1 only, certificate from the cert dir",
			c.MinVersion, c.NextProtos, c.GetCertificate != nil)
	}
	if _, err := c.GetCertificate(nil); !errors.Is(err, errNoServingCert) {
		t.Errorf("before the files exist: %v, want errNoServingCert", err)
	}
	c, err = (&Options{}).ServingTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.MinVersion != tls.VersionTLS12 || c.GetCertificate != nil || len(c.Certificates) != 0 {
		t.Errorf("defaults: min %x, certificate set; want TLS 1.2 and no certificate (the caller provides one)", c.MinVersion)
	}
	if _, err := (&Options{TLSMinVersion: "VersionSSL30"}).ServingTLSConfig(); err == nil {
		t.Error("an invalid --tls-min-version was accepted")
	}
}
