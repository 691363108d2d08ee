// SPDX-License-Identifier: Apache-2.0

package metricsproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/transport"
	certutil "k8s.io/client-go/util/cert"
)

// forwardedHeaders are the only request headers an upstream sees. Everything else — the caller's
// Authorization, cookies, X-Remote-User and other identity headers an upstream might trust — stays here.
var forwardedHeaders = []string{"Accept", "Accept-Encoding", "User-Agent", "X-Prometheus-Scrape-Timeout-Seconds"}

// errBodyTooLarge ends a response the upstream made larger than MaxBodyBytes.
var errBodyTooLarge = errors.New("upstream response exceeds max-body")

// gate serves only u's paths and the GET method, before anything else looks at the request: other paths
// are 404 and other methods 405 without a review or an upstream request. A path written with escapes
// (/metric%73, %2F) is 404 too, and so is one with dot segments or doubled slashes (only clean paths are
// listed): the path authorized (after the upstream's authz-prefix) and the path forwarded are the same bytes.
func gate(u *Upstream, next http.Handler) http.Handler {
	paths := make(map[string]bool, len(u.Paths))
	for _, p := range u.Paths {
		paths[p] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !paths[r.URL.Path] || r.URL.RawPath != "" || r.URL.EscapedPath() != r.URL.Path {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// newForwarder returns the handler that sends an authorized request to u.
func newForwarder(u *Upstream, log logr.Logger) (http.Handler, error) {
	rt, err := upstreamTransport(u)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", u.Name, err)
	}
	log = log.WithValues("upstream", u.Name)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = u.URL.Scheme, u.URL.Host
			// Exactly the path gate matched and the filter authorized (after AuthzPrefix), never the raw form
			// it arrived in.
			pr.Out.URL.Path, pr.Out.URL.RawPath = pr.In.URL.Path, ""
			// The path was matched exactly by gate and authorized as is; the query is not part of what was
			// authorized, so it is not forwarded.
			pr.Out.URL.RawQuery, pr.Out.URL.ForceQuery = "", false
			pr.Out.Host = ""
			pr.Out.Header = make(http.Header, len(forwardedHeaders))
			for _, h := range forwardedHeaders {
				if v := pr.In.Header.Values(h); len(v) > 0 {
					pr.Out.Header[h] = v
				}
			}
		},
		Transport:  rt,
		BufferPool: copyBuffers,
		ModifyResponse: func(resp *http.Response) error {
			if resp.ContentLength > u.MaxBodyBytes {
				return fmt.Errorf("%w: Content-Length %d", errBodyTooLarge, resp.ContentLength)
			}
			resp.Body = &boundedBody{ReadCloser: resp.Body, left: u.MaxBodyBytes}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// Never the request's headers: only where it went and why it failed.
			log.Info("upstream request failed", "path", r.URL.Path, "error", err.Error())
			http.Error(w, "Bad Gateway: the upstream did not answer", http.StatusBadGateway)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), u.Timeout)
		defer cancel()
		rp.ServeHTTP(w, r.WithContext(ctx))
	}), nil
}

// upstreamTransport reuses connections to u, bounds connecting, the TLS handshake and waiting for the
// response head, verifies u's certificate unless told not to, and adds the proxy's own token when u
// authenticates callers.
func upstreamTransport(u *Upstream) (http.RoundTripper, error) {
	t := &http.Transport{
		// Never an environment proxy: upstreams are on this node.
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: u.Timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		// The caller's Accept-Encoding is forwarded and the body passed through as the upstream sent it.
		DisableCompression: true,
	}
	if u.URL.Scheme == "https" {
		c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.ServerName, InsecureSkipVerify: u.InsecureSkipVerify} //nolint:gosec // opt-in per upstream, documented
		if u.CAFile != "" {
			pool, err := certutil.NewPool(u.CAFile)
			if err != nil {
				return nil, fmt.Errorf("ca-file=%s: %w", u.CAFile, err)
			}
			c.RootCAs = pool
		}
		t.TLSClientConfig = c
	}
	if u.TokenFile == "" {
		return t, nil
	}
	rt, err := transport.NewBearerAuthWithRefreshRoundTripper("", u.TokenFile, t)
	if err != nil {
		return nil, fmt.Errorf("token-file=%s: %w", u.TokenFile, err)
	}
	return rt, nil
}

// copyBuffers reuses the 32 KiB buffers the reverse proxy copies bodies through: a scrape of a few
// hundred KB otherwise allocates one per request.
var copyBuffers = &bufferPool{pool: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}

type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte  { return *p.pool.Get().(*[]byte) }
func (p *bufferPool) Put(b []byte) { p.pool.Put(&b) }

// boundedBody fails a read that would go past left bytes.
type boundedBody struct {
	io.ReadCloser
	left int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Probe for one more byte: a body of exactly the limit is fine.
		var one [1]byte
		n, err := b.ReadCloser.Read(one[:])
		if n > 0 {
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}
