// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// Options configures the diagnostics endpoint. The zero value is the secure default: HTTPS on :8443,
// TLS 1.2 or newer, every request authenticated and authorized by the API server.
type Options struct {
	// Address is where the endpoint listens (--diagnostics-address). Empty means ":8443"; "0" turns the
	// endpoint off, as controller-runtime's metrics BindAddress does.
	Address string

	// Insecure serves /metrics over plain HTTP without authentication or authorization, and no debug
	// endpoints (--insecure-diagnostics). Meant for a localhost address behind a proxy, or for tests.
	Insecure bool

	// TLSMinVersion is the lowest TLS version accepted (--tls-min-version), a Go constant name such as
	// "VersionTLS13". Empty means "VersionTLS12". It also applies to the webhook server.
	TLSMinVersion string

	// TLSCipherSuites restricts the TLS 1.2 cipher suites (--tls-cipher-suites), by IANA name. Empty means
	// Go's defaults. It also applies to the webhook server.
	TLSCipherSuites []string

	// TLSCurvePreferences restricts the key exchange mechanisms to these crypto/tls CurveID values
	// (--tls-curve-preferences). Empty means Go's defaults. It also applies to the webhook server.
	TLSCurvePreferences []int32

	// CertDir holds the serving certificate and key (--diagnostics-cert-dir), for example a mounted
	// cert-manager Secret. Files that appear after start are picked up and changes are reloaded; until the
	// files exist, handshakes fail rather than fall back to a self-signed certificate. Empty means
	// controller-runtime's self-signed certificate, generated at start-up.
	CertDir string
	// CertName is the certificate's file name in CertDir (--diagnostics-cert-name). Empty means "tls.crt".
	CertName string
	// KeyName is the key's file name in CertDir (--diagnostics-key-name). Empty means "tls.key".
	KeyName string

	// EnableHTTP2 offers HTTP/2 on the diagnostics endpoint (--diagnostics-enable-http2); off by default.
	EnableHTTP2 bool

	// ClientCAFile enables client-certificate authentication (--diagnostics-client-ca-file): the server
	// requests (does not require) a client certificate, and one signed by a CA in this file authenticates
	// its CommonName as the user and its Organizations as groups, as kube-apiserver does; authorization is
	// the same SubjectAccessReview. The file is reloaded when it changes. Bearer tokens keep working.
	ClientCAFile string

	// TokenAudiences, when set, accepts only tokens issued for one of these audiences
	// (--diagnostics-token-audiences), for example a TokenRequest or projected token made for the scraper.
	TokenAudiences []string

	// Review caches, timeouts and budget. Zero means the default given in each flag's help; the cache
	// lifetimes default to controller-runtime's.
	TokenCacheTTL        time.Duration // --diagnostics-token-cache-ttl: accepted tokens (1m)
	TokenFailureCacheTTL time.Duration // --diagnostics-token-failure-cache-ttl: rejected tokens (1m)
	AllowCacheTTL        time.Duration // --diagnostics-allow-cache-ttl: allowed requests (5m)
	DenyCacheTTL         time.Duration // --diagnostics-deny-cache-ttl: denied requests (30s)
	ReviewTimeout        time.Duration // --diagnostics-review-timeout: one review, retries included (5s)
	TokenCacheSize       int           // --diagnostics-token-cache-size: accepted tokens kept (10000)
	DecisionCacheSize    int           // --diagnostics-decision-cache-size: allowed requests kept (8192)
	ReviewQPS            float64       // --diagnostics-review-qps: sustained reviews per second (20)
	ReviewBurst          int           // --diagnostics-review-burst: reviews allowed at once above the rate (100)
	MaxInFlightReviews   int           // --diagnostics-max-inflight-reviews: concurrent reviews (10)

	// MaxProfileDuration bounds the seconds= of /debug/pprof/profile and /debug/pprof/trace
	// (--diagnostics-max-profile-duration, 60s): each holds a connection and costs CPU for as long.
	MaxProfileDuration time.Duration

	// MaxHeaderBytes bounds a request's line and headers (--diagnostics-max-header-bytes, 32 KiB): a larger
	// one gets 431 before any review, so an oversized bearer token never travels to the API server in a
	// TokenReview. controller-runtime's server reads up to 1 MiB of headers before the filter sees them.
	MaxHeaderBytes int

	zap *zapLevel // set by FollowZap
}

// setDefaults fills in empty fields, so that flag defaults show the effective values.
func (o *Options) setDefaults() {
	if o.Address == "" {
		o.Address = DefaultDiagnosticsAddress
	}
	if o.TLSMinVersion == "" {
		o.TLSMinVersion = DefaultTLSMinVersion
	}
	if o.CertName == "" {
		o.CertName = DefaultCertName
	}
	if o.KeyName == "" {
		o.KeyName = DefaultKeyName
	}
	r := o.reviewSettings()
	o.TokenCacheTTL, o.TokenFailureCacheTTL = r.tokenSuccessTTL, r.tokenFailureTTL
	o.AllowCacheTTL, o.DenyCacheTTL, o.ReviewTimeout = r.allowTTL, r.denyTTL, r.timeout
	o.TokenCacheSize, o.DecisionCacheSize = r.tokenCacheSize, r.decisionCacheSize
	o.ReviewQPS, o.ReviewBurst, o.MaxInFlightReviews = float64(r.qps), r.burst, r.maxInFlight
	o.MaxProfileDuration = orDuration(o.MaxProfileDuration, DefaultMaxProfileDuration)
	o.MaxHeaderBytes = r.maxHeaderBytes
}

// Validate reports every invalid option at once, each error naming its flag.
func (o *Options) Validate() error {
	_, err := o.tlsOptions()
	return errors.Join(err, o.validateAddress(), o.validateReview(), o.validateClientCA())
}

func (o *Options) validateAddress() error {
	if o.Address == "" || o.Address == "0" {
		return nil
	}
	if _, _, err := net.SplitHostPort(o.Address); err != nil {
		return fmt.Errorf("--%s: expected host:port or :port, found %q: %w", FlagDiagnosticsAddress, o.Address, err)
	}
	return nil
}

// ServerOptions returns what the manager runs with: the metrics server options for ctrl.Options.Metrics,
// and the TLS options for the webhook server (webhook.Options.TLSOpts), which Cluster API applies there
// too. It validates the options first. Apply does the same over metrics server options built before.
func (o *Options) ServerOptions() (metricsserver.Options, []func(*tls.Config), error) {
	if err := o.Validate(); err != nil {
		return metricsserver.Options{}, nil, err
	}
	tlsOpts, _ := o.tlsOptions() // validated above
	address := o.Address
	if address == "" {
		address = DefaultDiagnosticsAddress
	}

	if o.Insecure {
		// Plain HTTP, no authentication: anyone who can reach the address can read the metrics, so nothing
		// that changes the process (log level) or exposes its memory (pprof) is served.
		return metricsserver.Options{BindAddress: address}, tlsOpts, nil
	}

	return metricsserver.Options{
		BindAddress:    address,
		SecureServing:  true,
		FilterProvider: newFilterProvider(o.reviewSettings()),
		ExtraHandlers:  o.debugHandlers(),
		TLSOpts:        o.secureTLSOptions(tlsOpts),
	}, tlsOpts, nil
}

// secureTLSOptions adds to the validated TLS flags what only the secure endpoint gets: HTTP/1.1 unless
// HTTP/2 is asked for, a client certificate request when client certificates authenticate, and the
// serving certificate from CertDir.
func (o *Options) secureTLSOptions(tlsOpts []func(*tls.Config)) []func(*tls.Config) {
	metricsTLS := append([]func(*tls.Config){}, tlsOpts...)
	if !o.EnableHTTP2 {
		// HTTP/2 is not offered unless asked for: its stream handling was the vector of
		// GHSA-qppj-fm5r-hxr3 and GHSA-4374-p667-p6c8, reachable before authentication. Prometheus 2 and 3
		// use h2 where it is offered, and fall back to HTTP/1.1 without a hitch.
		metricsTLS = append(metricsTLS, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	if o.ClientCAFile != "" {
		metricsTLS = append(metricsTLS, func(c *tls.Config) {
			// Requested, not required and not verified here: callers with tokens send no certificate, and
			// the x509 authenticator verifies against the current (reloaded) CA bundle.
			c.ClientAuth = tls.RequestClientCert
		})
	}
	if o.CertDir != "" {
		certName, keyName := o.CertName, o.KeyName
		if certName == "" {
			certName = DefaultCertName
		}
		if keyName == "" {
			keyName = DefaultKeyName
		}
		obs := defaultObserver()
		cert := newServingCert(o.CertDir, certName, keyName, obs.registerCertExpiry(ctrlmetrics.Registry))
		metricsTLS = append(metricsTLS, func(c *tls.Config) { c.GetCertificate = cert.GetCertificate })
	}
	return metricsTLS
}

// debugHandlers are the endpoints served next to /metrics when, and only when, every request is
// authenticated and authorized. Paths and RBAC are Cluster API's: get on /debug/pprof/*, put on /debug/flags/v.
func (o *Options) debugHandlers() map[string]http.Handler {
	return map[string]http.Handler{
		// PUT sets the klog verbosity (the body is the level, 0 to MaxVerbosity), and the zap level after
		// FollowZap; other methods get 406.
		"/debug/flags/v":       o.verbosityHandler(),
		"/debug/pprof/":        http.HandlerFunc(pprof.Index),
		"/debug/pprof/cmdline": http.HandlerFunc(pprof.Cmdline),
		"/debug/pprof/profile": o.boundedProfile(http.HandlerFunc(pprof.Profile)),
		"/debug/pprof/symbol":  http.HandlerFunc(pprof.Symbol),
		"/debug/pprof/trace":   o.boundedProfile(http.HandlerFunc(pprof.Trace)),
	}
}
