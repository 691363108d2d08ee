// SPDX-License-Identifier: Apache-2.0

package metricsproxy

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/diagkit/diagkit/diagnostics"
	"github.com/spf13/pflag"
)

// FlagBindAddress and FlagUpstream are the proxy's own flags; the diagnostics package adds the TLS,
// client certificate and review flags (--tls-min-version, --diagnostics-*).
const (
	FlagBindAddress       = "bind-address"
	FlagUpstream          = "upstream"
	FlagReadHeaderTimeout = "read-header-timeout"
	FlagIdleTimeout       = "idle-timeout"
	FlagMaxConnections    = "max-connections"
)

// Options configures the proxy.
type Options struct {
	// BindAddress is the host every upstream without listen= is served on, normally the node IP
	// (--bind-address=$(NODE_IP) in the DaemonSet).
	BindAddress string
	// UpstreamSpecs are the --upstream values; Validate parses them into Upstreams.
	UpstreamSpecs []string
	// Upstreams are the parsed upstreams, filled in by Validate.
	Upstreams []Upstream
	// Diagnostics authenticates and authorizes every request and sets the serving TLS; its
	// --diagnostics-max-header-bytes is also the servers' MaxHeaderBytes.
	Diagnostics diagnostics.Options

	// Server limits (zero: the default). ReadHeaderTimeout bounds the TLS handshake and the request
	// headers, IdleTimeout a kept-alive connection between requests, MaxConnections the connections open at
	// once across every upstream.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	MaxConnections    int
}

// AddFlags registers the proxy's flags and the diagnostics flags that apply to it. --diagnostics-address
// and --insecure-diagnostics are hidden: each upstream has its own address, and the proxy always
// authenticates (Validate refuses them).
func (o *Options) AddFlags(fs *pflag.FlagSet) error {
	fs.StringVar(&o.BindAddress, FlagBindAddress, o.BindAddress,
		"Host (normally the node IP) that upstreams without listen= are served on, at the upstream's port.")
	fs.StringArrayVar(&o.UpstreamSpecs, FlagUpstream, o.UpstreamSpecs, UpstreamUsage)
	fs.DurationVar(&o.ReadHeaderTimeout, FlagReadHeaderTimeout, cmp.Or(o.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		"Time a connection has for its TLS handshake and request headers; a connection that sends nothing is closed after it.")
	fs.DurationVar(&o.IdleTimeout, FlagIdleTimeout, cmp.Or(o.IdleTimeout, DefaultIdleTimeout),
		"Time a kept-alive connection may wait for its next request. Keep it above the scrape interval, or every scrape pays a TLS handshake.")
	fs.IntVar(&o.MaxConnections, FlagMaxConnections, cmp.Or(o.MaxConnections, DefaultMaxConnections),
		"Connections open at once, across every upstream; one more is closed as soon as it is accepted, before any TLS handshake.")
	if err := o.Diagnostics.AddFlags(fs); err != nil {
		return err
	}
	for _, name := range []string{diagnostics.FlagDiagnosticsAddress, diagnostics.FlagInsecureDiagnostics} {
		if err := fs.MarkHidden(name); err != nil {
			return err
		}
	}
	return nil
}

// Validate parses the upstreams and reports every problem at once.
func (o *Options) Validate() error {
	var errs []error
	if len(o.UpstreamSpecs) == 0 {
		errs = append(errs, fmt.Errorf("--%s: expected at least one upstream (%s, or your own with url=)", FlagUpstream, strings.Join(presetNames(), ", ")))
	}
	o.Upstreams = o.Upstreams[:0]
	names, listens := map[string]bool{}, map[string]string{}
	for _, spec := range o.UpstreamSpecs {
		u, err := ParseUpstream(spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", FlagUpstream, err))
			continue
		}
		if names[u.Name] {
			errs = append(errs, fmt.Errorf("--%s: upstream %s is given twice", FlagUpstream, u.Name))
		}
		names[u.Name] = true
		if u.Listen == "" && o.BindAddress == "" {
			errs = append(errs, fmt.Errorf("--%s: upstream %s has no listen= and --%s is empty", FlagUpstream, u.Name, FlagBindAddress))
			continue
		}
		addr := u.listenAddress(o.BindAddress)
		if other, taken := listens[addr]; taken {
			errs = append(errs, fmt.Errorf("--%s: upstreams %s and %s both listen on %s", FlagUpstream, other, u.Name, addr))
		}
		listens[addr] = u.Name
		o.Upstreams = append(o.Upstreams, u)
	}
	if strings.Contains(o.BindAddress, ":") && net.ParseIP(o.BindAddress) == nil {
		errs = append(errs, fmt.Errorf("--%s: expected a host or IP without port, found %q", FlagBindAddress, o.BindAddress))
	}
	if o.ReadHeaderTimeout < 0 || o.ReadHeaderTimeout > maxReadHeaderTimeout {
		errs = append(errs, fmt.Errorf("--%s: expected a duration up to %s, found %s", FlagReadHeaderTimeout, maxReadHeaderTimeout, o.ReadHeaderTimeout))
	}
	if o.IdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("--%s: expected a positive duration, found %s", FlagIdleTimeout, o.IdleTimeout))
	}
	if o.MaxConnections < 0 {
		errs = append(errs, fmt.Errorf("--%s: expected a positive number, found %d", FlagMaxConnections, o.MaxConnections))
	}
	if o.Diagnostics.Insecure {
		errs = append(errs, fmt.Errorf("--%s: the metrics proxy always authenticates", diagnostics.FlagInsecureDiagnostics))
	}
	if a := o.Diagnostics.Address; a != "" && a != diagnostics.DefaultDiagnosticsAddress {
		errs = append(errs, fmt.Errorf("--%s: not used by the metrics proxy; set --%s or listen= per upstream", diagnostics.FlagDiagnosticsAddress, FlagBindAddress))
	}
	if err := o.Diagnostics.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
