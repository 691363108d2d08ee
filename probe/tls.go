// SPDX-License-Identifier: Apache-2.0

package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strings"
	"time"
)

// expiryWarning is how long before its expiry a certificate is reported: a silently expiring serving
// certificate is how scrapes break (metrics-server against kubelets, for one).
const expiryWarning = 30 * 24 * time.Hour

// tlsTarget says how to judge the endpoint's certificate.
type tlsTarget struct {
	address    string         // host:port dialled
	serverName string         // the name the certificate must be valid for; empty: not checked (port-forward)
	roots      *x509.CertPool // nil: the system roots
	rootsName  string         // for the report: "the system roots" or the CA file
}

// inspectTLS reports the protocol version, whether TLS below 1.2 is refused, and the certificate's
// validity period, issuer and names.
func inspectTLS(ctx context.Context, t tlsTarget, now time.Time, r *Report) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // the certificate is inspected below, not trusted
		ServerName:         t.serverName,
	}}
	conn, err := d.DialContext(ctx, "tcp", t.address)
	if err != nil {
		r.add(Result{Check: "tls-version", Status: Fail, Detail: fmt.Sprintf("no TLS handshake: %v", err)})
		return
	}
	state := conn.(*tls.Conn).ConnectionState()
	_ = conn.Close()
	if state.Version >= tls.VersionTLS12 {
		r.add(Result{Check: "tls-version", Status: Pass, Detail: "negotiated " + tls.VersionName(state.Version)})
	} else {
		r.add(Result{Check: "tls-version", Status: Fail, Detail: "negotiated " + tls.VersionName(state.Version) + ", below TLS 1.2"})
	}

	legacy := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // only the protocol version is under test
		MinVersion:         tls.VersionTLS10, MaxVersion: tls.VersionTLS11,
	}}
	if c, err := legacy.DialContext(ctx, "tcp", t.address); err == nil {
		_ = c.Close()
		r.add(Result{Check: "tls-legacy", Status: Fail, Detail: "a TLS 1.1 handshake succeeded"})
	} else {
		r.add(Result{Check: "tls-legacy", Status: Pass, Detail: "TLS 1.0 and 1.1 refused"})
	}

	certs := state.PeerCertificates
	leaf := certs[0]
	r.add(expiry(leaf, now))
	r.add(issuer(leaf, certs[1:], t))
	if t.serverName == "" {
		r.add(Result{Check: "certificate-name", Status: Info, Detail: "not checked: reached through port-forward; SANs " + sans(leaf)})
	} else if err := leaf.VerifyHostname(t.serverName); err != nil {
		r.add(Result{Check: "certificate-name", Status: Warn, Detail: fmt.Sprintf("not valid for %s (SANs %s): scrapers must skip verification or use another name", t.serverName, sans(leaf))})
	} else {
		r.add(Result{Check: "certificate-name", Status: Pass, Detail: "valid for " + t.serverName})
	}
}

func expiry(leaf *x509.Certificate, now time.Time) Result {
	res := Result{Check: "certificate-expiry"}
	left := leaf.NotAfter.Sub(now)
	switch {
	case now.After(leaf.NotAfter):
		res.Status, res.Detail = Fail, fmt.Sprintf("expired %s (%s ago)", leaf.NotAfter.UTC().Format(time.RFC3339), now.Sub(leaf.NotAfter).Round(time.Minute))
	case now.Before(leaf.NotBefore):
		res.Status, res.Detail = Fail, fmt.Sprintf("not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	case left < expiryWarning:
		res.Status, res.Detail = Warn, fmt.Sprintf("expires %s, in %s", leaf.NotAfter.UTC().Format(time.RFC3339), left.Round(time.Minute))
	default:
		res.Status, res.Detail = Pass, fmt.Sprintf("valid until %s (%d days)", leaf.NotAfter.UTC().Format(time.RFC3339), int(left.Hours()/24))
	}
	return res
}

// issuer verifies the chain at a moment inside the certificate's validity, so that an expired
// certificate is reported once, as expired, and its issuer still judged.
func issuer(leaf *x509.Certificate, intermediates []*x509.Certificate, t tlsTarget) Result {
	res := Result{Check: "certificate-issuer"}
	pool := x509.NewCertPool()
	for _, c := range intermediates {
		pool.AddCert(c)
	}
	at := leaf.NotBefore.Add(time.Second)
	_, err := leaf.Verify(x509.VerifyOptions{Roots: t.roots, Intermediates: pool, CurrentTime: at})
	// Self-signed, or signed by a CA the server sent along and made itself (client-go's self-signed pair,
	// which controller-runtime, kube-controller-manager and kube-scheduler generate at start-up).
	ownRoots := x509.NewCertPool()
	for _, c := range intermediates {
		if selfSigned(c) {
			ownRoots.AddCert(c)
		}
	}
	_, ownErr := leaf.Verify(x509.VerifyOptions{Roots: ownRoots, Intermediates: pool, CurrentTime: at})
	switch {
	case err == nil:
		res.Status, res.Detail = Pass, fmt.Sprintf("issued by %q, verified against %s", leaf.Issuer.String(), t.rootsName)
	case selfSigned(leaf):
		res.Status, res.Detail = Warn, fmt.Sprintf("self-signed (%q): scrapers cannot verify it and must skip verification", leaf.Subject.String())
	case ownErr == nil:
		res.Status, res.Detail = Warn, fmt.Sprintf("self-signed (issuer %q, sent by the server itself): scrapers cannot verify it and must skip verification", leaf.Issuer.String())
	default:
		res.Status, res.Detail = Warn, fmt.Sprintf("issued by %q, not verifiable against %s: pass the CA with --ca-file", leaf.Issuer.String(), t.rootsName)
	}
	return res
}

// selfSigned: issued by itself and signed with its own key (CA or not).
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

func sans(c *x509.Certificate) string {
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
