// SPDX-License-Identifier: Apache-2.0

package framework

import (
	"fmt"
	"net"
	"sync"
)

// FaultMode is how a FaultProxy treats connections.
type FaultMode int

const (
	// Pass forwards bytes both ways.
	Pass FaultMode = iota
	// Refuse closes every connection at once, as a stopped API server does.
	Refuse
	// Hang accepts connections and keeps them open but forwards nothing, on new and established
	// connections alike, as a hung API server or a black-holing network does.
	Hang
	// Reset answers every new connection with a TCP reset.
	Reset
)

// FaultProxy is a loopback TCP proxy between a client and the API server that can be told to fail.
// It only listens on and connects to loopback addresses.
type FaultProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	mode  FaultMode
	conns map[net.Conn]struct{}
}

// NewFaultProxy listens on a free 127.0.0.1 port and forwards to target (host:port on loopback).
func NewFaultProxy(target string) (*FaultProxy, error) {
	host, _, err := net.SplitHostPort(target)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		return nil, fmt.Errorf("fault proxy target %q: only loopback targets are allowed", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	p := &FaultProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	return p, nil
}

// Addr is where clients connect.
func (p *FaultProxy) Addr() string { return p.ln.Addr().String() }

// SetMode switches the behaviour. Entering Hang keeps established connections open and silent (the case
// that held controller-runtime's filter for 45 s); entering Refuse or Reset closes them; going back to Pass
// closes what was held, as a healed network would, so clients reconnect instead of reading stale bytes.
func (p *FaultProxy) SetMode(m FaultMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m == Refuse || m == Reset || (m == Pass && p.mode != Pass) {
		for c := range p.conns {
			if tc, ok := c.(*net.TCPConn); ok && m == Reset {
				_ = tc.SetLinger(0)
			}
			c.Close()
		}
		p.conns = map[net.Conn]struct{}{}
	}
	p.mode = m
}

// Close stops the proxy and closes every connection.
func (p *FaultProxy) Close() error {
	p.SetMode(Refuse)
	return p.ln.Close()
}

func (p *FaultProxy) track(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[c] = struct{}{}
}

func (p *FaultProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		switch mode {
		case Refuse:
			c.Close()
		case Reset:
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // close with RST
			}
			c.Close()
		case Hang:
			p.track(c) // held open, nothing forwarded
		case Pass:
			go p.forward(c)
		}
	}
}

func (p *FaultProxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.track(c)
	p.track(up)
	copyAndClose := func(dst, src net.Conn) {
		defer dst.Close()
		defer src.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				p.mu.Lock()
				hung := p.mode == Hang
				p.mu.Unlock()
				if !hung { // in Hang mode established connections go silent too
					if _, werr := dst.Write(buf[:n]); werr != nil {
						return
					}
				}
			}
			if err != nil {
				return
			}
		}
	}
	go copyAndClose(up, c)
	go copyAndClose(c, up)
}
