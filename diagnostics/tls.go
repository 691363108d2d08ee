// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"strings"

	cliflag "k8s.io/component-base/cli/flag"
)

// tlsOptions turns the TLS flags into tls.Config mutators, joining the errors of every invalid flag.
func (o *Options) tlsOptions() ([]func(*tls.Config), error) {
	var errs []error
	minVersionName := o.TLSMinVersion
	if minVersionName == "" {
		minVersionName = DefaultTLSMinVersion
	}
	minVersion, err := cliflag.TLSVersion(minVersionName)
	if err != nil {
		errs = append(errs, fmt.Errorf("--%s: expected one of %s, found %q", FlagTLSMinVersion,
			strings.Join(cliflag.TLSPossibleVersions(), ", "), minVersionName))
	}
	suites, err := cliflag.TLSCipherSuites(o.TLSCipherSuites)
	if err != nil {
		errs = append(errs, fmt.Errorf("--%s: %w", FlagTLSCipherSuites, err))
	}
	curves, err := curvePreferences(o.TLSCurvePreferences)
	if err != nil {
		errs = append(errs, fmt.Errorf("--%s: %w", FlagTLSCurvePreferences, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	opts := []func(*tls.Config){func(c *tls.Config) { c.MinVersion = minVersion }}
	if len(suites) == 0 {
		suites = DefaultTLSCipherSuites()
	}
	opts = append(opts, func(c *tls.Config) { c.CipherSuites = suites })
	if len(curves) > 0 {
		opts = append(opts, func(c *tls.Config) { c.CurvePreferences = curves })
	}
	return opts, nil
}

// DefaultTLSCipherSuites are the TLS 1.2 cipher suites offered when --tls-cipher-suites is not given:
// Go's secure defaults less the CBC ones, i.e. the AEAD suites (AES-GCM, ChaCha20-Poly1305) with ECDHE
// key exchange. TLS 1.3's suites are all AEAD and not configurable. --tls-cipher-suites still overrides
// this, which is the one place diagkit's options differ from Cluster API's for the same arguments.
func DefaultTLSCipherSuites() []uint16 {
	var ids []uint16
	for _, s := range tls.CipherSuites() {
		if strings.HasPrefix(s.Name, "TLS_ECDHE_") && (strings.Contains(s.Name, "_GCM_") || strings.Contains(s.Name, "CHACHA20_POLY1305")) {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// curvePreferences checks CurveID values the way Cluster API does (through component-base, which has no
// such helper at this module's minimum version): in range, no duplicates, known to this Go release.
func curvePreferences(ids []int32) ([]tls.CurveID, error) {
	seen := make(map[int32]bool, len(ids))
	var curves []tls.CurveID
	for _, id := range ids {
		switch {
		case id <= 0 || id > math.MaxUint16:
			return nil, fmt.Errorf("expected a CurveID between 1 and %d, found %d", math.MaxUint16, id)
		case seen[id]:
			return nil, fmt.Errorf("curve %d is listed twice", id)
		case strings.HasPrefix(tls.CurveID(id).String(), "CurveID("):
			return nil, fmt.Errorf("curve %d is not supported by this Go release", id)
		}
		seen[id] = true
		curves = append(curves, tls.CurveID(id))
	}
	return curves, nil
}
