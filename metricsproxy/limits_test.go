// SPDX-License-Identifier: Apache-2.0

package metricsproxy

import (
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
)

// startProxy runs a proxy with one upstream on a free loopback port and returns its address.
func startProxy(t *testing.T, o *Options) string {
	t.Helper()
	api := httptest.NewServer(&fakeAPIServer{})
	t.Cleanup(api.Close)
	upstream := httptest.NewServer(&upstreamRecorder{body: "up 1\n"})
	t.Cleanup(upstream.Close)
	o.UpstreamSpecs = []string{"sample,url=" + upstream.URL + ",path=/metrics,listen=127.0.0.1:0"}
	p, err := New(t.Context(), o, &rest.Config{Host: api.URL}, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.Run(t.Context()) }()
	return p.Addrs()[0]
}

// closedWithin dials addr, sends nothing, and reports how long the server took to close the connection (or
// that it had not after wait).
func closedWithin(t *testing.T, c net.Conn, wait time.Duration) (time.Duration, bool) {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(wait))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return 0, false
	}
	return time.Since(start), err != nil
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSilentConnectionsAreClosedAfterTheHeaderTimeout: a connection that opens and sends nothing (no TLS
// hello, no request) holds a slot for --read-header-timeout, not controller-runtime's 32 s.
func TestSilentConnectionsAreClosedAfterTheHeaderTimeout(t *testing.T) {
	addr := startProxy(t, &Options{ReadHeaderTimeout: 300 * time.Millisecond})
	took, closed := closedWithin(t, dial(t, addr), 5*time.Second)
	if !closed || took > 3*time.Second {
		t.Fatalf("a silent connection was closed: %v, after %s; want closed after about 300ms", closed, took)
	}
}

// TestConnectionsBeyondTheCapAreClosedAtOnce: past --max-connections, a connection is closed as soon as it
// is accepted, before its TLS handshake; a slot given back takes the next one.
func TestConnectionsBeyondTheCapAreClosedAtOnce(t *testing.T) {
	addr := startProxy(t, &Options{ReadHeaderTimeout: 10 * time.Second, MaxConnections: 2})
	held := []net.Conn{dial(t, addr), dial(t, addr)}
	time.Sleep(100 * time.Millisecond) // let the server accept both
	if took, closed := closedWithin(t, dial(t, addr), 2*time.Second); !closed {
		t.Fatal("a third connection was kept beyond --max-connections=2")
	} else if took > time.Second {
		t.Errorf("the third connection was closed after %s, want at once", took)
	}
	for _, c := range held {
		if _, closed := closedWithin(t, c, 100*time.Millisecond); closed {
			t.Fatal("a connection within the cap was closed")
		}
	}
	held[0].Close()
	time.Sleep(100 * time.Millisecond)
	if _, closed := closedWithin(t, dial(t, addr), 500*time.Millisecond); closed {
		t.Error("a connection was refused after a slot was given back")
	}
}

func TestConnLimitReleasesOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	l := newConnLimit(1)
	limited := l.listener(ln)
	go func() {
		c, _ := net.Dial("tcp", ln.Addr().String())
		if c != nil {
			defer c.Close()
			_, _ = io.Copy(io.Discard, c)
		}
	}()
	c, err := limited.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close() // a second Close must not free a slot it no longer holds
	if len(l.slots) != 0 {
		t.Fatalf("%d slots taken after close, want 0", len(l.slots))
	}
}

func TestServerLimitsAreValidated(t *testing.T) {
	for _, tt := range []struct {
		o    Options
		want string
	}{
		{Options{ReadHeaderTimeout: time.Hour}, "--read-header-timeout"},
		{Options{IdleTimeout: -time.Second}, "--idle-timeout"},
		{Options{MaxConnections: -1}, "--max-connections"},
	} {
		tt.o.UpstreamSpecs = []string{"kube-scheduler"}
		tt.o.BindAddress = "127.0.0.1"
		if err := tt.o.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate() = %v, want an error naming %s", err, tt.want)
		}
	}
}
