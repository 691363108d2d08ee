// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
)

// Handler puts next behind the secure endpoint's authentication and authorization, for a server of your
// own instead of controller-runtime's metrics server (diagkit's metrics proxy is one). Every request is
// reviewed as on the diagnostics endpoint: TokenReview (or a client certificate with ClientCAFile), then a
// SubjectAccessReview of the request's path with the lower-cased method as verb; refusals are 401, 403 or
// 503, with the same caches, budget and counters. The Authorization header never reaches next.
//
// Reviews are sent with cfg; ctx bounds the client CA file watcher. Insecure has no meaning here and is
// refused: Handler always authenticates.
func (o *Options) Handler(ctx context.Context, cfg *rest.Config, log logr.Logger, next http.Handler) (http.Handler, error) {
	if o.Insecure {
		return nil, fmt.Errorf("--%s: a diagnostics handler always authenticates; it cannot be insecure", FlagInsecureDiagnostics)
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	s := o.reviewSettings()
	r, err := newReviewers(ctx, cfg, s)
	if err != nil {
		return nil, err
	}
	return &filter{authn: r.authn, authz: r.authz, audiences: s.audiences, maxHeaderBytes: s.maxHeaderBytes, obs: r.obs, log: log, next: next}, nil
}

// ServingTLSConfig is the secure endpoint's TLS configuration, for a server of your own: the TLS flags,
// HTTP/1.1 unless EnableHTTP2, a client certificate request when ClientCAFile is set, and the certificate
// in CertDir (picked up late and reloaded, as on the diagnostics endpoint). Without CertDir it carries no
// certificate and the caller must provide one.
func (o *Options) ServingTLSConfig() (*tls.Config, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	tlsOpts, _ := o.tlsOptions() // validated above
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	for _, opt := range o.secureTLSOptions(tlsOpts) {
		opt(c)
	}
	return c, nil
}
