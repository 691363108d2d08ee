// SPDX-License-Identifier: Apache-2.0

package metricsproxy

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the server limits: what one connection may hold before it sends a request, and between
// requests. Prometheus keeps connections alive between scrapes (every 30 s or a minute by default), so the
// idle limit stays above a minute.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 90 * time.Second
	DefaultMaxConnections    = 256

	maxReadHeaderTimeout = 2 * time.Minute
)

// connLimit caps the connections open at once across every upstream's listener: one past the cap is closed
// as soon as it is accepted, before its TLS handshake, so a flood of idle connections costs file
// descriptors and goroutines up to the cap and no more. With the read-header timeout, an attacker must keep
// sending to keep a slot.
type connLimit struct {
	slots   chan struct{}
	refused atomic.Int64
}

func newConnLimit(max int) *connLimit { return &connLimit{slots: make(chan struct{}, max)} }

// listener wraps ln so that its connections count against the cap.
func (l *connLimit) listener(ln net.Listener) net.Listener {
	return &limitedListener{Listener: ln, limit: l}
}

type limitedListener struct {
	net.Listener
	limit *connLimit
}

func (ln *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case ln.limit.slots <- struct{}{}:
			return &limitedConn{Conn: c, release: func() { <-ln.limit.slots }}, nil
		default:
			ln.limit.refused.Add(1)
			_ = c.Close()
		}
	}
}

// limitedConn gives its slot back when closed, once.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
