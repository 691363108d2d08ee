// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// servingCert serves the certificate and key files of a cert dir, for tls.Config.GetCertificate. Unlike
// controller-runtime's, which looks for the files once at start-up and silently falls back to a
// self-signed certificate, it picks up files that appear later and refuses handshakes until they do;
// it reloads them when they change, keeping the previous pair while a new one is half-written.
type servingCert struct {
	certFile, keyFile string
	checkEvery        time.Duration
	expiry            prometheus.Gauge

	mu        sync.Mutex
	cert      *tls.Certificate
	stamp     string // what the files looked like when cert was loaded
	checkedAt time.Time
}

// errNoServingCert is returned to the TLS stack before the files exist: the handshake fails, nothing is
// served with a certificate no scraper could verify.
var errNoServingCert = errors.New("the serving certificate files do not exist yet")

func newServingCert(dir, certName, keyName string, expiry prometheus.Gauge) *servingCert {
	return &servingCert{
		certFile:   filepath.Join(dir, certName),
		keyFile:    filepath.Join(dir, keyName),
		checkEvery: time.Second,
		expiry:     expiry,
	}
}

// GetCertificate returns the current pair, looking at the files at most once per checkEvery.
func (s *servingCert) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cert == nil || time.Since(s.checkedAt) >= s.checkEvery {
		s.checkedAt = time.Now()
		if err := s.reload(); err != nil && s.cert == nil {
			return nil, err
		}
	}
	return s.cert, nil
}

// reload loads the files if they changed since the last load.
func (s *servingCert) reload() error {
	stamp, err := fileStamp(s.certFile, s.keyFile)
	if err != nil {
		return errNoServingCert
	}
	if stamp == s.stamp {
		return nil
	}
	pair, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("load serving certificate: %w", err) // e.g. caught between writing the two files
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return fmt.Errorf("parse serving certificate: %w", err)
	}
	pair.Leaf = leaf
	s.cert, s.stamp = &pair, stamp
	s.expiry.Set(float64(leaf.NotAfter.Unix()))
	return nil
}

// fileStamp identifies the files' current contents cheaply. Kubernetes updates a mounted Secret by
// swapping a symlink, which changes the modification time seen through it.
func fileStamp(files ...string) (string, error) {
	var stamp string
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		stamp += fmt.Sprintf("%s:%d:%d;", f, fi.Size(), fi.ModTime().UnixNano())
	}
	return stamp, nil
}
