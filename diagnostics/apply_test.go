// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"crypto/tls"
	"net/http"
	"testing"

	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// TestApplyKeepsWhatTheManagerBuilt: the diagnostics flags decide address, HTTPS, filter, TLS and debug
// handlers; everything else the manager had survives, and insecure serving drops what it cannot protect.
func TestApplyKeepsWhatTheManagerBuilt(t *testing.T) {
	own := http.NotFoundHandler()
	var baseTLSRan bool
	// The kubebuilder v4 scaffold's options, with a handler of the manager's own. (Fields newer than
	// controller-runtime v0.16, HandlerOpts and ListenConfig, are copied with the rest of base.)
	base := func() metricsserver.Options {
		return metricsserver.Options{
			BindAddress:    "0",
			SecureServing:  false,
			FilterProvider: nil,
			CertDir:        "/tmp/k8s-metrics-server/metrics-certs", CertName: "tls.crt", KeyName: "tls.key",
			TLSOpts:       []func(*tls.Config){func(c *tls.Config) { baseTLSRan = true; c.MinVersion = tls.VersionTLS10 }},
			ExtraHandlers: map[string]http.Handler{"/readiness-details": own, "/debug/pprof/": own},
		}
	}

	t.Run("secure", func(t *testing.T) {
		o := Options{Address: ":8443"}
		got, err := o.Apply(base())
		if err != nil {
			t.Fatal(err)
		}
		if got.BindAddress != ":8443" || !got.SecureServing || got.FilterProvider == nil {
			t.Errorf("address %q, secure %v, filter %v: want the diagnostics endpoint's", got.BindAddress, got.SecureServing, got.FilterProvider != nil)
		}
		if got.ExtraHandlers["/readiness-details"] == nil {
			t.Error("the manager's own handler was dropped")
		}
		if got.ExtraHandlers["/debug/pprof/"] == nil || got.ExtraHandlers["/debug/flags/v"] == nil {
			t.Error("the debug handlers are missing")
		}
		if got.CertDir != "/tmp/k8s-metrics-server/metrics-certs" {
			t.Errorf("CertDir %q: the manager's certificate files must survive without --diagnostics-cert-dir", got.CertDir)
		}
		c := &tls.Config{}
		for _, opt := range got.TLSOpts {
			opt(c)
		}
		if !baseTLSRan || c.MinVersion != tls.VersionTLS12 {
			t.Errorf("TLS: base ran %v, MinVersion %x; want base's options first and the TLS flags to win", baseTLSRan, c.MinVersion)
		}
		webhook := &tls.Config{}
		for _, opt := range o.TLSOptions() {
			opt(webhook)
		}
		if webhook.MinVersion != tls.VersionTLS12 || len(webhook.CipherSuites) == 0 {
			t.Errorf("webhook TLS: MinVersion %x, %d cipher suites; want the TLS flags'", webhook.MinVersion, len(webhook.CipherSuites))
		}
	})

	t.Run("the diagnostics certificate replaces the manager's", func(t *testing.T) {
		o := Options{CertDir: t.TempDir()}
		got, err := o.Apply(base())
		if err != nil {
			t.Fatal(err)
		}
		c := &tls.Config{}
		for _, opt := range got.TLSOpts {
			opt(c)
		}
		if got.CertDir != "" || c.GetCertificate == nil {
			t.Errorf("CertDir %q, GetCertificate set %v", got.CertDir, c.GetCertificate != nil)
		}
	})

	t.Run("insecure", func(t *testing.T) {
		o := Options{Address: "127.0.0.1:8080", Insecure: true}
		b := base()
		b.SecureServing = true
		got, err := o.Apply(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.SecureServing || got.FilterProvider != nil || len(got.ExtraHandlers) != 0 || len(got.TLSOpts) != 0 {
			t.Errorf("insecure serving keeps secure %v, a filter %v, %d extra handlers, %d TLS options; want plain /metrics",
				got.SecureServing, got.FilterProvider != nil, len(got.ExtraHandlers), len(got.TLSOpts))
		}
	})

	t.Run("invalid flags", func(t *testing.T) {
		o := Options{Address: "nonsense"}
		if _, err := o.Apply(base()); err == nil {
			t.Error("no error for an invalid address")
		}
		// Fail closed: a webhook server started despite invalid TLS flags completes no handshake.
		o = Options{TLSMinVersion: "VersionSSL30"}
		c := &tls.Config{}
		for _, opt := range o.TLSOptions() {
			opt(c)
		}
		if c.GetConfigForClient == nil {
			t.Fatal("invalid TLS flags leave the webhook server on Go's defaults")
		}
		if _, err := c.GetConfigForClient(&tls.ClientHelloInfo{}); err == nil {
			t.Error("a handshake with invalid TLS flags succeeds")
		}
	})
}
