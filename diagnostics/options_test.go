// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certutil "k8s.io/client-go/util/cert"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr []string // substrings; empty means valid
	}{
		{name: "zero value is valid", opts: Options{}},
		{name: "TLS 1.3 and explicit suites are valid", opts: Options{TLSMinVersion: "VersionTLS13", TLSCipherSuites: []string{"TLS_AES_128_GCM_SHA256"}}},
		{name: "disabled endpoint is valid", opts: Options{Address: "0"}},
		{name: "unknown TLS version names the flag and the choices", opts: Options{TLSMinVersion: "TLS1.2"},
			wantErr: []string{"--tls-min-version", "VersionTLS12", `found "TLS1.2"`}},
		{name: "unknown cipher suite names the flag", opts: Options{TLSCipherSuites: []string{"TLS_NOPE"}},
			wantErr: []string{"--tls-cipher-suites", "TLS_NOPE"}},
		{name: "unknown curve names the flag", opts: Options{TLSCurvePreferences: []int32{9999}},
			wantErr: []string{"--tls-curve-preferences", "9999"}},
		{name: "duplicate curve", opts: Options{TLSCurvePreferences: []int32{29, 29}}, wantErr: []string{"listed twice"}},
		{name: "out-of-range curve", opts: Options{TLSCurvePreferences: []int32{70000}}, wantErr: []string{"between 1 and 65535"}},
		{name: "address without port", opts: Options{Address: "localhost"}, wantErr: []string{"--diagnostics-address", `found "localhost"`}},
		{name: "negative cache TTL", opts: Options{AllowCacheTTL: -time.Second}, wantErr: []string{"--diagnostics-allow-cache-ttl", "found -1s"}},
		{name: "review timeout above a minute", opts: Options{ReviewTimeout: 2 * time.Minute}, wantErr: []string{"--diagnostics-review-timeout"}},
		{name: "profiles longer than ten minutes", opts: Options{MaxProfileDuration: time.Hour}, wantErr: []string{"--diagnostics-max-profile-duration", "10m0s"}},
		{name: "a header limit a ServiceAccount token would not fit in", opts: Options{MaxHeaderBytes: 1024}, wantErr: []string{"--diagnostics-max-header-bytes", "4096"}},
		{name: "a negative header limit", opts: Options{MaxHeaderBytes: -1}, wantErr: []string{"--diagnostics-max-header-bytes"}},
		{name: "a negative profile limit", opts: Options{MaxProfileDuration: -time.Second}, wantErr: []string{"--diagnostics-max-profile-duration"}},
		{name: "negative review budget", opts: Options{ReviewQPS: -1, MaxInFlightReviews: -2},
			wantErr: []string{"--diagnostics-review-qps", "--diagnostics-max-inflight-reviews"}},
		{name: "empty audience", opts: Options{TokenAudiences: []string{""}}, wantErr: []string{"--diagnostics-token-audiences"}},
		{name: "missing client CA file", opts: Options{ClientCAFile: "/nonexistent/ca.crt"}, wantErr: []string{"--diagnostics-client-ca-file", "/nonexistent/ca.crt"}},
		{name: "every problem is reported at once", opts: Options{Address: "nope", TLSMinVersion: "x", TLSCipherSuites: []string{"y"}},
			wantErr: []string{"--diagnostics-address", "--tls-min-version", "--tls-cipher-suites"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("expected an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if _, _, serr := tt.opts.ServerOptions(); serr == nil {
				t.Error("ServerOptions accepted options that Validate refused")
			}
		})
	}
}

func applied(opts []func(*tls.Config)) *tls.Config {
	c := &tls.Config{NextProtos: []string{"h2"}} // controller-runtime's starting point
	for _, o := range opts {
		o(c)
	}
	return c
}

func TestServerOptionsSecureByDefault(t *testing.T) {
	var o Options
	m, webhookTLS, err := o.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	if m.BindAddress != ":8443" || !m.SecureServing || m.FilterProvider == nil {
		t.Errorf("got BindAddress %q SecureServing %v filter %v; want :8443, true, a filter", m.BindAddress, m.SecureServing, m.FilterProvider != nil)
	}
	var paths []string
	for p := range m.ExtraHandlers {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	want := []string{"/debug/flags/v", "/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/profile", "/debug/pprof/symbol", "/debug/pprof/trace"}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("debug handlers differ (-want +got):\n%s", diff)
	}
	metricsTLS := applied(m.TLSOpts)
	if metricsTLS.MinVersion != tls.VersionTLS12 {
		t.Errorf("metrics MinVersion = %x, want TLS 1.2", metricsTLS.MinVersion)
	}
	if diff := cmp.Diff([]string{"http/1.1"}, metricsTLS.NextProtos); diff != "" {
		t.Errorf("metrics server offers HTTP/2 (-want +got):\n%s", diff)
	}
	webhook := applied(webhookTLS)
	if webhook.MinVersion != tls.VersionTLS12 {
		t.Errorf("webhook MinVersion = %x, want TLS 1.2", webhook.MinVersion)
	}
	if diff := cmp.Diff([]string{"h2"}, webhook.NextProtos); diff != "" {
		t.Errorf("webhook TLS options changed NextProtos, which Cluster API leaves alone (-want +got):\n%s", diff)
	}
}

func TestServerOptionsInsecureServesOnlyMetrics(t *testing.T) {
	o := Options{Address: "127.0.0.1:8080", Insecure: true, TLSMinVersion: "VersionTLS13"}
	m, webhookTLS, err := o.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	if m.SecureServing || m.FilterProvider != nil || len(m.ExtraHandlers) != 0 || m.BindAddress != "127.0.0.1:8080" {
		t.Errorf("insecure options: %+v; want plain HTTP on 127.0.0.1:8080 with no filter and no debug handlers", m)
	}
	if got := applied(webhookTLS).MinVersion; got != tls.VersionTLS13 {
		t.Errorf("webhook TLS options ignore --tls-min-version in insecure mode: MinVersion %x", got)
	}
}

func TestServerOptionsTLSFlags(t *testing.T) {
	o := Options{
		TLSMinVersion:       "VersionTLS13",
		TLSCipherSuites:     []string{"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
		TLSCurvePreferences: []int32{int32(tls.X25519)},
	}
	m, webhookTLS, err := o.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*tls.Config{"metrics": applied(m.TLSOpts), "webhook": applied(webhookTLS)} {
		if c.MinVersion != tls.VersionTLS13 || !cmp.Equal(c.CipherSuites, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}) ||
			!cmp.Equal(c.CurvePreferences, []tls.CurveID{tls.X25519}) {
			t.Errorf("%s TLS config: min %x suites %v curves %v", name, c.MinVersion, c.CipherSuites, c.CurvePreferences)
		}
	}
}

func TestServerOptionsCertificateFiles(t *testing.T) {
	dir := t.TempDir()
	m, _, err := (&Options{CertDir: dir, CertName: "serving.crt"}).ServerOptions()
	if err != nil {
		t.Fatalf("a cert dir whose files do not exist yet is valid (they are picked up later): %v", err)
	}
	c := applied(m.TLSOpts)
	if c.GetCertificate == nil {
		t.Fatal("no GetCertificate: controller-runtime would fall back to a self-signed certificate")
	}
	if _, err := c.GetCertificate(nil); !errors.Is(err, errNoServingCert) {
		t.Errorf("before the files exist: %v, want errNoServingCert", err)
	}
	insecure := Options{Insecure: true, CertDir: filepath.Join(dir, "absent")}
	if _, _, err := insecure.ServerOptions(); err != nil {
		t.Errorf("--diagnostics-cert-dir is ignored with --insecure-diagnostics, got %v", err)
	}
}

func TestServerOptionsHTTP2(t *testing.T) {
	m, _, _ := (&Options{EnableHTTP2: true}).ServerOptions()
	if got := applied(m.TLSOpts).NextProtos; !cmp.Equal(got, []string{"h2"}) {
		t.Errorf("with --diagnostics-enable-http2, NextProtos %v, want controller-runtime's h2", got)
	}
}

func TestValidateClientCAContent(t *testing.T) {
	f := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(f, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := (&Options{ClientCAFile: f}).Validate()
	if err == nil || !strings.Contains(err.Error(), "expected PEM certificates") {
		t.Fatalf("got %v, want an error saying PEM certificates were expected", err)
	}
}

func TestServerOptionsRequestsClientCertificates(t *testing.T) {
	dir := t.TempDir()
	certPEM, _, err := certutil.GenerateSelfSignedCertKey("client-ca", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(f, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	m, _, err := (&Options{ClientCAFile: f}).ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	if got := applied(m.TLSOpts).ClientAuth; got != tls.RequestClientCert {
		t.Errorf("ClientAuth %v, want RequestClientCert (asked, not required, verified by the authenticator)", got)
	}
	m, _, _ = (&Options{}).ServerOptions()
	if got := applied(m.TLSOpts).ClientAuth; got != tls.NoClientCert {
		t.Errorf("without a client CA, ClientAuth %v, want NoClientCert", got)
	}
}

// TestDefaultCipherSuitesAreAEAD: without --tls-cipher-suites a TLS 1.2 client offering only CBC suites
// is refused, one offering GCM is served; the flag still overrides the default.
func TestDefaultCipherSuitesAreAEAD(t *testing.T) {
	for _, id := range DefaultTLSCipherSuites() {
		if name := tls.CipherSuiteName(id); strings.Contains(name, "CBC") || !strings.HasPrefix(name, "TLS_ECDHE_") {
			t.Errorf("default suite %s is not an ECDHE AEAD suite", name)
		}
	}
	if len(DefaultTLSCipherSuites()) < 4 {
		t.Errorf("only %d default suites", len(DefaultTLSCipherSuites()))
	}
	cert, err := selfSignedForTest()
	if err != nil {
		t.Fatal(err)
	}
	handshake := func(o Options, clientSuite uint16) error {
		opts, err := o.tlsOptions()
		if err != nil {
			t.Fatal(err)
		}
		server := &tls.Config{Certificates: []tls.Certificate{cert}}
		for _, f := range opts {
			f(server)
		}
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		go func() { _ = tls.Server(a, server).Handshake() }()
		return tls.Client(b, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{clientSuite}}).Handshake()
	}
	const cbc, gcm = tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
	if err := handshake(Options{}, cbc); err == nil {
		t.Error("a CBC-only TLS 1.2 client was served by default")
	}
	if err := handshake(Options{}, gcm); err != nil {
		t.Errorf("a GCM TLS 1.2 client was refused: %v", err)
	}
	if err := handshake(Options{TLSCipherSuites: []string{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}}, cbc); err != nil {
		t.Errorf("--tls-cipher-suites did not override the default: %v", err)
	}
}

func selfSignedForTest() (tls.Certificate, error) {
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey("localhost", []net.IP{net.ParseIP("127.0.0.1")}, nil)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}
