// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"errors"
	"fmt"
	"os"
	"time"

	certutil "k8s.io/client-go/util/cert"
)

// Defaults of the review settings. The cache lifetimes are controller-runtime's, so adopting diagkit does
// not change how often a manager asks the API server.
const (
	DefaultTokenCacheTTL        = time.Minute
	DefaultTokenFailureCacheTTL = time.Minute
	DefaultAllowCacheTTL        = 5 * time.Minute
	DefaultDenyCacheTTL         = 30 * time.Second
	// DefaultReviewTimeout is below Prometheus' default 10s scrape timeout, so that a hung API server yields
	// a 503 the scraper can see instead of a scrape timeout.
	DefaultReviewTimeout      = 5 * time.Second
	DefaultTokenCacheSize     = 10000
	DefaultDecisionCacheSize  = 8192
	DefaultReviewQPS          = 20
	DefaultReviewBurst        = 100
	DefaultMaxInFlightReviews = 10

	maxReviewTimeout = time.Minute

	// DefaultMaxProfileDuration is twice pprof's own 30s default; maxProfileDuration what the flag accepts.
	DefaultMaxProfileDuration = time.Minute
	maxProfileDuration        = 10 * time.Minute

	// DefaultMaxHeaderBytes leaves room for an OIDC token with many groups (a ServiceAccount token is about
	// 1 KiB) and is 32 times below what controller-runtime's server accepts; minMaxHeaderBytes is the least
	// the flag accepts, below which a ServiceAccount token would not fit.
	DefaultMaxHeaderBytes = 32 << 10
	minMaxHeaderBytes     = 4 << 10
)

func orDuration(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// reviewSettings resolves the zero values of the review options to their defaults.
func (o *Options) reviewSettings() reviewSettings {
	qps := o.ReviewQPS
	if qps == 0 {
		qps = DefaultReviewQPS
	}
	return reviewSettings{
		tokenSuccessTTL:   orDuration(o.TokenCacheTTL, DefaultTokenCacheTTL),
		tokenFailureTTL:   orDuration(o.TokenFailureCacheTTL, DefaultTokenFailureCacheTTL),
		allowTTL:          orDuration(o.AllowCacheTTL, DefaultAllowCacheTTL),
		denyTTL:           orDuration(o.DenyCacheTTL, DefaultDenyCacheTTL),
		timeout:           orDuration(o.ReviewTimeout, DefaultReviewTimeout),
		tokenCacheSize:    orInt(o.TokenCacheSize, DefaultTokenCacheSize),
		decisionCacheSize: orInt(o.DecisionCacheSize, DefaultDecisionCacheSize),
		qps:               float32(qps),
		burst:             orInt(o.ReviewBurst, DefaultReviewBurst),
		maxInFlight:       orInt(o.MaxInFlightReviews, DefaultMaxInFlightReviews),
		maxHeaderBytes:    orInt(o.MaxHeaderBytes, DefaultMaxHeaderBytes),
		audiences:         o.TokenAudiences,
		clientCAFile:      o.ClientCAFile,
		backoff:           defaultBackoff(),
	}
}

func (o *Options) validateReview() error {
	var errs []error
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{
		{FlagTokenCacheTTL, o.TokenCacheTTL}, {FlagTokenFailureCacheTTL, o.TokenFailureCacheTTL},
		{FlagAllowCacheTTL, o.AllowCacheTTL}, {FlagDenyCacheTTL, o.DenyCacheTTL},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("--%s: expected a duration of zero (the default) or more, found %s", d.flag, d.v))
		}
	}
	if o.MaxProfileDuration < 0 || o.MaxProfileDuration > maxProfileDuration {
		errs = append(errs, fmt.Errorf("--%s: expected a duration up to %s, found %s", FlagMaxProfileDuration, maxProfileDuration, o.MaxProfileDuration))
	}
	if o.MaxHeaderBytes != 0 && o.MaxHeaderBytes < minMaxHeaderBytes {
		errs = append(errs, fmt.Errorf("--%s: expected zero (the default) or at least %d bytes, found %d", FlagMaxHeaderBytes, minMaxHeaderBytes, o.MaxHeaderBytes))
	}
	if o.ReviewTimeout < 0 || o.ReviewTimeout > maxReviewTimeout {
		errs = append(errs, fmt.Errorf("--%s: expected a duration up to %s, found %s", FlagReviewTimeout, maxReviewTimeout, o.ReviewTimeout))
	}
	for _, n := range []struct {
		flag string
		v    int
	}{
		{FlagTokenCacheSize, o.TokenCacheSize}, {FlagDecisionCacheSize, o.DecisionCacheSize},
		{FlagReviewBurst, o.ReviewBurst}, {FlagMaxInFlightReviews, o.MaxInFlightReviews},
	} {
		if n.v < 0 {
			errs = append(errs, fmt.Errorf("--%s: expected zero (the default) or more, found %d", n.flag, n.v))
		}
	}
	if o.ReviewQPS < 0 {
		errs = append(errs, fmt.Errorf("--%s: expected zero (the default) or more, found %g", FlagReviewQPS, o.ReviewQPS))
	}
	for _, a := range o.TokenAudiences {
		if a == "" {
			errs = append(errs, fmt.Errorf("--%s: expected non-empty audiences", FlagTokenAudiences))
		}
	}
	return errors.Join(errs...)
}

// validateClientCA checks that the client CA file holds at least one certificate; later changes to the
// file are picked up while running.
func (o *Options) validateClientCA() error {
	if o.ClientCAFile == "" {
		return nil
	}
	pem, err := os.ReadFile(o.ClientCAFile)
	if err != nil {
		return fmt.Errorf("--%s: %w", FlagClientCAFile, err)
	}
	if _, err := certutil.ParseCertsPEM(pem); err != nil {
		return fmt.Errorf("--%s: %s: expected PEM certificates: %w", FlagClientCAFile, o.ClientCAFile, err)
	}
	return nil
}
