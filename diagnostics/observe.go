// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/util/flowcontrol"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Outcomes counted by diagkit_diagnostics_authentication_total{result} and _authorization_total{decision}.
const (
	resultAuthenticated   = "authenticated"
	resultUnauthenticated = "unauthenticated"
	resultAllowed         = "allowed"
	resultDenied          = "denied"
	resultUnavailable     = "unavailable"
	resultOverBudget      = "over_budget"
)

// observer makes the filter's decisions visible: counters and review latencies on controller-runtime's
// registry, which the manager serves on /metrics (k8s.io/apiserver records its own into a registry nobody
// scrapes), and a log line per refusal at default verbosity, rate-limited so a flood cannot flood the log.
// Nothing it records contains a token.
type observer struct {
	authentication *prometheus.CounterVec
	authorization  *prometheus.CounterVec
	reviewDuration *prometheus.HistogramVec
	certExpiry     prometheus.Gauge

	// The counters the request path increments, resolved once: no label hashing per request.
	authnBy, authzBy map[string]prometheus.Counter

	refusals   *refusals
	logLimit   flowcontrol.RateLimiter
	suppressed atomic.Int64
}

var (
	sharedObserver     *observer
	sharedObserverOnce sync.Once
)

// defaultObserver is registered once per process on controller-runtime's registry.
func defaultObserver() *observer {
	sharedObserverOnce.Do(func() { sharedObserver = newObserver(ctrlmetrics.Registry) })
	return sharedObserver
}

func newObserver(reg prometheus.Registerer) *observer {
	o := &observer{
		authentication: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "diagkit_diagnostics_authentication_total",
			Help: "Requests to the diagnostics endpoint by authentication result: authenticated, unauthenticated, unavailable (the API server did not answer) or over_budget.",
		}, []string{"result"}),
		authorization: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "diagkit_diagnostics_authorization_total",
			Help: "Authenticated requests to the diagnostics endpoint by decision: allowed, denied, unavailable or over_budget.",
		}, []string{"decision"}),
		reviewDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "diagkit_diagnostics_review_duration_seconds",
			Help:    "Duration of the TokenReviews and SubjectAccessReviews sent to the API server (cache hits send none).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"review"}),
		certExpiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "diagkit_diagnostics_serving_certificate_expiry_timestamp_seconds",
			Help: "When the certificate served from --diagnostics-cert-dir expires, as a Unix time; absent without one.",
		}),
		// One refusal line per second on average, bursts of 10; the next line says how many were dropped.
		logLimit: flowcontrol.NewTokenBucketRateLimiter(1, 10),
		refusals: newRefusals(time.Now),
	}
	o.authentication = registerOrReuse(reg, o.authentication)
	o.authorization = registerOrReuse(reg, o.authorization)
	o.reviewDuration = registerOrReuse(reg, o.reviewDuration)
	o.authnBy, o.authzBy = map[string]prometheus.Counter{}, map[string]prometheus.Counter{}
	for _, r := range []string{resultAuthenticated, resultUnauthenticated, resultUnavailable, resultOverBudget} {
		o.authnBy[r] = o.authentication.WithLabelValues(r)
	}
	for _, r := range []string{resultAllowed, resultDenied, resultUnavailable, resultOverBudget} {
		o.authzBy[r] = o.authorization.WithLabelValues(r)
	}
	return o
}

// registerCertExpiry registers the expiry gauge, only when a certificate is served from files.
func (o *observer) registerCertExpiry(reg prometheus.Registerer) prometheus.Gauge {
	o.certExpiry = registerOrReuse(reg, o.certExpiry)
	return o.certExpiry
}

// registerOrReuse registers c, or returns the collector already registered under its name (a second
// metrics server in the same process, or tests).
func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

func (o *observer) reviewed(review string, start time.Time) {
	o.reviewDuration.WithLabelValues(review).Observe(time.Since(start).Seconds())
}

// refused logs a refusal the first time its kind (status, user, verb, path, reason) is seen in an
// interval, and otherwise counts it: a misconfigured scraper or a flood of one kind makes one line per
// interval, the next of which says how many were not logged ("repeated"). The counters stay exact. Lines of
// different kinds share a rate limit ("suppressedSinceLastLine" counts what it dropped), so many identities
// cannot flood the log either. The path is not repeated: controller-runtime's logger for the filter already
// carries it.
func (o *observer) refused(log logr.Logger, status int, user, verb, path, reason string) {
	if reason == "" {
		reason = "no RBAC rule allows it"
	}
	repeated, log1 := o.refusals.see(refusalKey{status: status, user: user, verb: verb, path: path, reason: reason})
	if !log1 {
		return
	}
	if !o.logLimit.TryAccept() {
		o.suppressed.Add(1)
		return
	}
	kv := []interface{}{"status", status, "verb", verb, "reason", reason}
	if user != "" {
		kv = append(kv, "user", user)
	}
	if repeated > 0 {
		kv = append(kv, "repeated", repeated)
	}
	if n := o.suppressed.Swap(0); n > 0 {
		kv = append(kv, "suppressedSinceLastLine", n)
	}
	log.Info("Refused diagnostics request", kv...)
}

// refusalInterval is how often one kind of refusal is logged; maxRefusalKinds bounds what is remembered.
const (
	refusalInterval = time.Minute
	maxRefusalKinds = 1024
)

type refusalKey struct {
	status                   int
	user, verb, path, reason string
}

type refusalSeen struct {
	logged   time.Time
	repeated int64
}

// refusals remembers when each kind of refusal was last logged and how often it recurred since.
type refusals struct {
	mu    sync.Mutex
	now   func() time.Time
	kinds map[refusalKey]*refusalSeen
}

func newRefusals(now func() time.Time) *refusals {
	return &refusals{now: now, kinds: map[refusalKey]*refusalSeen{}}
}

// see records one refusal of kind k. It says whether to log it and, if so, how many of the same kind were
// not logged since its previous line.
func (r *refusals) see(k refusalKey) (repeated int64, log bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if s, ok := r.kinds[k]; ok {
		if now.Sub(s.logged) < refusalInterval {
			s.repeated++
			return 0, false
		}
		repeated, s.logged, s.repeated = s.repeated, now, 0
		return repeated, true
	}
	if len(r.kinds) >= maxRefusalKinds {
		// Forget the kinds whose interval is over (their next refusal is logged anyway); if every kind is
		// recent, forget them all rather than grow: at worst a kind is logged twice in an interval.
		for key, s := range r.kinds {
			if now.Sub(s.logged) >= refusalInterval {
				delete(r.kinds, key)
			}
		}
		if len(r.kinds) >= maxRefusalKinds {
			r.kinds = map[refusalKey]*refusalSeen{}
		}
	}
	r.kinds[k] = &refusalSeen{logged: now}
	return 0, true
}
