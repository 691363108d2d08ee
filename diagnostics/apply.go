// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"crypto/tls"
	"fmt"
	"net/http"

	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// Apply lays the diagnostics settings over base, the metrics server options the manager built before
// diagkit however it built them (a literal, a helper function, fields set in several steps, the kubebuilder
// v4 scaffold's secure options). It validates the options first; TLSOptions gives the webhook server's.
//
// The diagnostics flags decide the address, HTTPS, the filter, the TLS settings and the debug handlers.
// Every other field of base survives: HandlerOpts, ListenConfig, base's own ExtraHandlers (behind the same
// filter; a diagnostics path replaces base's handler for it), and its certificate files (CertDir, CertName,
// KeyName) unless --diagnostics-cert-dir is set. base's TLSOpts run first and the diagnostics ones after, so
// the TLS flags win where both set a field. With Insecure, base's filter, TLS and ExtraHandlers are dropped:
// plain HTTP without authentication serves /metrics and nothing else.
func (o *Options) Apply(base metricsserver.Options) (metricsserver.Options, error) {
	own, _, err := o.ServerOptions()
	if err != nil {
		return base, err
	}
	out := base
	out.BindAddress, out.SecureServing, out.FilterProvider = own.BindAddress, own.SecureServing, own.FilterProvider
	if o.Insecure {
		out.ExtraHandlers, out.TLSOpts = nil, nil
		out.CertDir, out.CertName, out.KeyName = "", "", ""
		return out, nil
	}
	out.ExtraHandlers = make(map[string]http.Handler, len(base.ExtraHandlers)+len(own.ExtraHandlers))
	for path, h := range base.ExtraHandlers {
		out.ExtraHandlers[path] = h
	}
	for path, h := range own.ExtraHandlers {
		out.ExtraHandlers[path] = h
	}
	out.TLSOpts = append(append([]func(*tls.Config){}, base.TLSOpts...), own.TLSOpts...)
	if o.CertDir != "" {
		// The diagnostics certificate comes through GetCertificate; controller-runtime ignores CertDir then.
		out.CertDir, out.CertName, out.KeyName = "", "", ""
	}
	return out, nil
}

// TLSOptions are the TLS flags' settings for the webhook server (webhook.Options.TLSOpts), which Cluster API
// applies there too: the minimum version, cipher suites and curves. Validate, Apply and ServerOptions report
// invalid flags; should a manager start anyway, every handshake fails rather than fall back to Go's defaults.
func (o *Options) TLSOptions() []func(*tls.Config) {
	opts, err := o.tlsOptions()
	if err != nil {
		return []func(*tls.Config){func(c *tls.Config) {
			c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
				return nil, fmt.Errorf("invalid diagnostics TLS flags: %w", err)
			}
		}}
	}
	return opts
}
