// SPDX-License-Identifier: Apache-2.0

package metricsproxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
)

// upstreamRecorder is a metrics server that remembers what reached it.
type upstreamRecorder struct {
	mu       sync.Mutex
	requests []*http.Request
	body     string
}

func (u *upstreamRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.requests = append(u.requests, r.Clone(r.Context()))
	u.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = io.WriteString(w, u.body)
}

func (u *upstreamRecorder) last(t *testing.T) *http.Request {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.requests) == 0 {
		t.Fatal("no request reached the upstream")
	}
	return u.requests[len(u.requests)-1]
}

func (u *upstreamRecorder) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.requests)
}

// forwarding builds gate → forwarder for an upstream at srv, with no review in between (unit scope: the
// reviews are the diagnostics package's, tested there and end to end in e2e).
func forwarding(t *testing.T, srv *httptest.Server, extra string) http.Handler {
	t.Helper()
	u, err := ParseUpstream("test,url=" + srv.URL + ",path=/metrics" + extra)
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := newForwarder(&u, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	return gate(&u, fwd)
}

func TestGateRefusesBeforeTheUpstream(t *testing.T) {
	rec := &upstreamRecorder{body: "up 1\n"}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	h := forwarding(t, srv, ",path=/metrics/slis")
	for _, tc := range []struct {
		method, target string
		want           int
	}{
		{http.MethodGet, "/configz", http.StatusNotFound},
		{http.MethodGet, "/metrics/", http.StatusNotFound},
		{http.MethodGet, "/metrics/../configz", http.StatusNotFound},
		{http.MethodGet, "/metric%73", http.StatusNotFound},
		{http.MethodGet, "/%6detrics", http.StatusNotFound},
		{http.MethodGet, "/metrics%2F..%2Fconfigz", http.StatusNotFound},
		{http.MethodGet, "/metrics/%2e%2e/configz", http.StatusNotFound},
		{http.MethodGet, "//metrics", http.StatusNotFound},
		// Each of these decodes or cleans to a served path: only the exact, unescaped form is served.
		{http.MethodGet, "/metrics%2Fslis", http.StatusNotFound},
		{http.MethodGet, "/metrics%2fslis", http.StatusNotFound},
		{http.MethodGet, "/metrics/slis/..", http.StatusNotFound},
		{http.MethodGet, "/metrics/slis/%2E%2E", http.StatusNotFound},
		{http.MethodGet, "/metrics/slis/%2e%2e", http.StatusNotFound},
		{http.MethodGet, "/metrics/.", http.StatusNotFound},
		{http.MethodGet, "/./metrics", http.StatusNotFound},
		{http.MethodGet, "/metrics/./slis", http.StatusNotFound},
		{http.MethodGet, "/metrics//slis", http.StatusNotFound},
		{http.MethodGet, "/metrics/slis/", http.StatusNotFound},
		{http.MethodGet, "/metrics%2Fslis?x=1", http.StatusNotFound},
		{http.MethodGet, "/debug/pprof/", http.StatusNotFound},
		{http.MethodGet, "/", http.StatusNotFound},
		{http.MethodPut, "/metrics", http.StatusMethodNotAllowed},
		{http.MethodPost, "/metrics", http.StatusMethodNotAllowed},
		{http.MethodHead, "/metrics", http.StatusMethodNotAllowed},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.target, nil))
		if w.Code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.target, w.Code, tc.want)
		}
	}
	if n := rec.count(); n != 0 {
		t.Errorf("%d refused requests reached the upstream", n)
	}
}

func TestForwardSendsOnlyWhatWasAuthorized(t *testing.T) {
	rec := &upstreamRecorder{body: "kubeproxy_sync_proxy_rules_last_timestamp_seconds 1\n"}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	h := forwarding(t, srv, "")

	req := httptest.NewRequest(http.MethodGet, "/metrics?debug=1&name[]=x", nil)
	req.Header.Set("Authorization", "Bearer caller-token")
	req.Header.Set("Cookie", "session=1")
	req.Header.Set("X-Remote-User", "system:admin")
	req.Header.Set("Impersonate-User", "system:admin")
	req.Header.Set("X-Forwarded-For", "10.1.1.1")
	req.Header.Set("Accept", "text/plain")
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "kubeproxy_sync_proxy_rules") {
		t.Fatalf("status %d body %q", w.Code, w.Body.String())
	}
	got := rec.last(t)
	if got.URL.RawQuery != "" || got.URL.Path != "/metrics" {
		t.Errorf("upstream saw %s, want /metrics without query", got.URL.RequestURI())
	}
	for _, h := range []string{"Authorization", "Cookie", "X-Remote-User", "Impersonate-User", "X-Forwarded-For"} {
		if v := got.Header.Get(h); v != "" {
			t.Errorf("upstream got %s: %q", h, v)
		}
	}
	for h, want := range map[string]string{"Accept": "text/plain", "Accept-Encoding": "gzip", "X-Prometheus-Scrape-Timeout-Seconds": "10"} {
		if v := got.Header.Get(h); v != want {
			t.Errorf("upstream got %s %q, want %q", h, v, want)
		}
	}
}

func TestForwardPresentsTheProxysOwnToken(t *testing.T) {
	rec := &upstreamRecorder{body: "ok\n"}
	srv := httptest.NewTLSServer(rec)
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("proxy-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := forwarding(t, srv, ",insecure-skip-verify=true,token-file="+tokenFile)
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Authorization", "Bearer caller-token")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body.String())
	}
	if got := rec.last(t).Header.Get("Authorization"); got != "Bearer proxy-token" {
		t.Errorf("upstream got Authorization %q, want the proxy's own token", got)
	}
}

func TestForwardVerifiesUpstreamCertificates(t *testing.T) {
	srv := httptest.NewTLSServer(&upstreamRecorder{})
	defer srv.Close()
	h := forwarding(t, srv, "")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusBadGateway {
		t.Errorf("an unverifiable upstream certificate gave %d, want 502", w.Code)
	}
}

func TestForwardBoundsTheBody(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
		whole   bool
	}{
		{name: "exactly the limit", size: 1024, whole: true},
		{name: "declared too large", size: 1025},
		{name: "streamed too large", size: 4096, chunked: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				body := strings.Repeat("x", tc.size)
				if tc.chunked {
					// Flushing before the end sends no Content-Length: only the reader can notice.
					_, _ = io.WriteString(w, body[:10])
					w.(http.Flusher).Flush()
					_, _ = io.WriteString(w, body[10:])
					return
				}
				_, _ = io.WriteString(w, body)
			}))
			defer srv.Close()
			proxy := httptest.NewServer(forwarding(t, srv, ",max-body=1Ki"))
			defer proxy.Close()
			resp, err := http.Get(proxy.URL + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, readErr := io.ReadAll(resp.Body)
			resp.Body.Close()
			gotWhole := resp.StatusCode == http.StatusOK && readErr == nil && len(body) == tc.size
			if gotWhole != tc.whole {
				t.Errorf("status %d, read %d bytes (err %v); want whole body %v", resp.StatusCode, len(body), readErr, tc.whole)
			}
			if !tc.whole && len(body) > 1024 {
				t.Errorf("%d bytes passed a 1Ki limit", len(body))
			}
		})
	}
}

func TestForwardUpstreamDownIsAFast502(t *testing.T) {
	srv := httptest.NewServer(&upstreamRecorder{})
	h := forwarding(t, srv, "")
	srv.Close()
	start := time.Now()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusBadGateway {
		t.Errorf("status %d, want 502", w.Code)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v, want a refused connection to fail at once", d)
	}
}

func TestForwardTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	h := forwarding(t, srv, ",timeout=200ms")
	start := time.Now()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusBadGateway || time.Since(start) > 2*time.Second {
		t.Errorf("status %d after %v; want 502 after about 200ms", w.Code, time.Since(start))
	}
}

func TestAddFlagsHidesAndRefusesTheEndpointFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--insecure-diagnostics"},
		{"--diagnostics-address=:9443"},
	} {
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		var o Options
		if err := o.AddFlags(fs); err != nil {
			t.Fatal(err)
		}
		if err := fs.Parse(append([]string{"--bind-address=10.0.0.1", "--upstream=etcd"}, args...)); err != nil {
			t.Fatal(err)
		}
		if err := o.Validate(); err == nil {
			t.Errorf("%v accepted", args)
		}
		name := strings.SplitN(strings.TrimPrefix(args[0], "--"), "=", 2)[0]
		if f := fs.Lookup(name); f == nil || !f.Hidden {
			t.Errorf("--%s is not hidden", name)
		}
	}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	var o Options
	_ = o.AddFlags(fs)
	if err := fs.Parse([]string{"--bind-address=10.0.0.1", "--upstream=etcd", "--upstream=kube-proxy", "--diagnostics-token-audiences=scrape"}); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil || len(o.Upstreams) != 2 || o.Diagnostics.TokenAudiences[0] != "scrape" {
		t.Errorf("err %v, upstreams %d, audiences %v", err, len(o.Upstreams), o.Diagnostics.TokenAudiences)
	}
}

func TestForwardReusesConnections(t *testing.T) {
	var mu sync.Mutex
	opened := 0
	srv := httptest.NewUnstartedServer(&upstreamRecorder{body: "up 1\n"})
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			opened++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()
	h := forwarding(t, srv, "")
	for range 20 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if opened != 1 {
		t.Errorf("20 sequential scrapes opened %d upstream connections, want 1", opened)
	}
}
