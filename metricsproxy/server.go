// SPDX-License-Identifier: Apache-2.0

package metricsproxy

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"

	"github.com/diagkit/diagkit/diagnostics"
)

// Proxy serves every upstream on its own listener.
type Proxy struct {
	servers   []*http.Server
	listeners []net.Listener
	limit     *connLimit
	log       logr.Logger
}

// New validates o, builds the shared review handler (one cache and one review budget for every upstream)
// and binds every listener, so that a port already in use fails start-up rather than one upstream later.
// cfg is the proxy's own client configuration; ctx bounds the client CA watcher.
func New(ctx context.Context, o *Options, cfg *rest.Config, log logr.Logger) (*Proxy, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	tlsConfig, err := o.Diagnostics.ServingTLSConfig()
	if err != nil {
		return nil, err
	}
	p := &Proxy{log: log}
	addrs := make([]string, len(o.Upstreams))
	for i := range o.Upstreams {
		addrs[i] = o.Upstreams[i].listenAddress(o.BindAddress)
	}
	if tlsConfig.GetCertificate == nil {
		cert, err := selfSignedCertificate(addrs)
		if err != nil {
			return nil, err
		}
		tlsConfig.Certificates = []tls.Certificate{cert}
		log.Info("serving a self-signed certificate generated at start-up; give one with --diagnostics-cert-dir to let scrapers verify it")
	}

	// One review handler for every upstream: scope tells it, in the context, where each request goes next.
	reviewed, err := o.Diagnostics.Handler(ctx, cfg, log, http.HandlerFunc(resume))
	if err != nil {
		return nil, err
	}
	readHeader := cmp.Or(o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	idle := cmp.Or(o.IdleTimeout, DefaultIdleTimeout)
	limit := newConnLimit(cmp.Or(o.MaxConnections, DefaultMaxConnections))
	p.limit = limit
	for i := range o.Upstreams {
		u := &o.Upstreams[i]
		handler, err := upstreamHandler(u, reviewed, log)
		if err != nil {
			p.close()
			return nil, err
		}
		ln, err := net.Listen("tcp", addrs[i])
		if err != nil {
			p.close()
			return nil, fmt.Errorf("upstream %s: listen on %s: %w", u.Name, addrs[i], err)
		}
		// The cap counts TCP connections, before their TLS handshake.
		p.listeners = append(p.listeners, tls.NewListener(limit.listener(ln), tlsConfig))
		p.servers = append(p.servers, &http.Server{
			Handler: handler,
			// Also the TLS handshake's deadline: a connection that sends nothing is closed after it.
			ReadHeaderTimeout: readHeader,
			// Nothing is read from a request body; the response may take the upstream's whole timeout.
			ReadTimeout:    readHeader + 5*time.Second,
			WriteTimeout:   u.Timeout + 15*time.Second,
			IdleTimeout:    idle,
			MaxHeaderBytes: cmp.Or(o.Diagnostics.MaxHeaderBytes, diagnostics.DefaultMaxHeaderBytes),
			// TLS handshake failures and the like: scanners cause them all day, so at V(1).
			ErrorLog: stdlog.New(logWriter{log.V(1).WithValues("upstream", u.Name)}, "", 0),
		})
		log.Info("serving", "upstream", u.Name, "address", ln.Addr().String(), "url", u.URL.String(), "paths", u.Paths,
			"authorizedPaths", u.AuthorizedPaths(), "credentials", u.TokenFile != "")
		if u.AuthzPrefix == "" {
			log.Info("authz-prefix is empty: a get grant on these paths, made for kube-apiserver or any other upstream, opens this one too",
				"upstream", u.Name, "paths", u.Paths)
		}
	}
	return p, nil
}

// upstreamHandler is what u's listener serves: gate, then the review of u's authorized path, then the
// forwarder with the path the caller asked for.
func upstreamHandler(u *Upstream, reviewed http.Handler, log logr.Logger) (http.Handler, error) {
	fwd, err := newForwarder(u, log)
	if err != nil {
		return nil, err
	}
	return gate(u, scope(u, reviewed, fwd)), nil
}

// logWriter turns the standard library logger an http.Server writes to into logr lines.
type logWriter struct{ log logr.Logger }

func (w logWriter) Write(b []byte) (int, error) {
	w.log.Info("http server", "message", strings.TrimSpace(string(b)))
	return len(b), nil
}

// Addrs are the listeners' addresses, in upstream order.
func (p *Proxy) Addrs() []string {
	addrs := make([]string, len(p.listeners))
	for i, ln := range p.listeners {
		addrs[i] = ln.Addr().String()
	}
	return addrs
}

// Run serves until ctx is done, then shuts down gracefully within five seconds.
func (p *Proxy) Run(ctx context.Context) error {
	errs := make(chan error, len(p.servers))
	for i, s := range p.servers {
		go func() { errs <- s.Serve(p.listeners[i]) }()
	}
	// Connections refused at the cap are reported once a minute, not one line each: a flood would bury the log.
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	var reported int64
wait:
	for {
		select {
		case err := <-errs:
			p.close()
			return err
		case <-tick.C:
			if n := p.limit.refused.Load(); n > reported {
				p.log.Info("connections refused: the connection cap was reached", "refused", n-reported, "max", cap(p.limit.slots))
				reported = n
			}
		case <-ctx.Done():
			break wait
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	for _, s := range p.servers {
		err = errors.Join(err, s.Shutdown(shutdown))
	}
	return err
}

func (p *Proxy) close() {
	for _, ln := range p.listeners {
		_ = ln.Close()
	}
}

// selfSignedCertificate covers every listen host (IPs and names) and the node's hostname, as
// controller-runtime and kube-controller-manager do when given no certificate.
func selfSignedCertificate(addrs []string) (tls.Certificate, error) {
	var ips []net.IP
	var names []string
	if h, err := os.Hostname(); err == nil {
		names = append(names, h)
	}
	for _, a := range addrs {
		host, _, _ := net.SplitHostPort(a)
		if ip := net.ParseIP(host); ip != nil {
			if !ip.IsUnspecified() {
				ips = append(ips, ip)
			}
		} else if host != "" {
			names = append(names, host)
		}
	}
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey("diagkit-proxy", ips, names)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate a self-signed serving certificate: %w", err)
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}
