// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/pprof"
	"strings"

	"github.com/go-logr/logr"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// retryAfterSeconds is sent with 503 so that a scraper backs off instead of hammering an API server that
// is already in trouble.
const retryAfterSeconds = "5"

// newFilterProvider returns a metricsserver FilterProvider whose filter authenticates and authorizes every
// request to every diagnostics path. controller-runtime calls it once, with the manager's rest.Config; the
// reviews use their own client and budget, so they cannot slow the manager's own API calls.
func newFilterProvider(s reviewSettings) func(*rest.Config, *http.Client) (metricsserver.Filter, error) {
	return func(cfg *rest.Config, _ *http.Client) (metricsserver.Filter, error) {
		// The provider gets no context; the CA file watcher lives as long as the process, like the server.
		r, err := newReviewers(context.Background(), cfg, s)
		if err != nil {
			return nil, err
		}
		return func(log logr.Logger, next http.Handler) (http.Handler, error) {
			return &filter{authn: r.authn, authz: r.authz, audiences: s.audiences, maxHeaderBytes: s.maxHeaderBytes, obs: r.obs, log: log, next: next}, nil
		}, nil
	}
}

// filter serves a request only when the API server says who the caller is and that the caller may use
// the request's verb on its path. Every other outcome is a refusal: there is no anonymous access, no
// always-allowed path, and no decision made without the API server (fail closed).
type filter struct {
	authn authenticator.Request
	authz decider
	// audiences, when set, are the only ones a token may have been issued for.
	audiences authenticator.Audiences
	// maxHeaderBytes bounds the request line and headers, checked before any review.
	maxHeaderBytes int
	obs            *observer
	log            logr.Logger
	next           http.Handler
}

func (f *filter) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	// The pprof index is a subtree handler: without this, every made-up path under it would cost a
	// SubjectAccessReview of its own before pprof answers 404.
	if !knownPprofPath(req.URL.Path) {
		http.NotFound(w, req)
		return
	}
	verb := strings.ToLower(req.Method)
	if headerBytes(req) > f.maxHeaderBytes {
		f.obs.refused(f.log, http.StatusRequestHeaderFieldsTooLarge, "", verb, req.URL.Path, fmt.Sprintf("request line and headers over the %d-byte limit", f.maxHeaderBytes))
		http.Error(w, fmt.Sprintf("Request Header Fields Too Large: at most %d bytes of request line and headers", f.maxHeaderBytes), http.StatusRequestHeaderFieldsTooLarge)
		return
	}
	// Read before authentication, which strips the Authorization header on success so the token never
	// reaches a handler. Nothing below logs a header or a token.
	presented := req.Header.Get("Authorization") != "" || (req.TLS != nil && len(req.TLS.PeerCertificates) > 0)
	if len(f.audiences) > 0 {
		req = req.WithContext(authenticator.WithAudiences(req.Context(), f.audiences))
	}
	res, ok, err := f.authn.AuthenticateRequest(req)
	switch {
	case err != nil && errors.Is(err, errUnavailable):
		f.obs.authnBy[unavailableResult(err)].Inc()
		f.obs.refused(f.log, http.StatusServiceUnavailable, "", verb, req.URL.Path, "cannot authenticate: "+err.Error())
		unavailable(w)
		return
	case err != nil || !ok:
		// A malformed Authorization header or a token the API server rejected: the caller has no identity.
		f.obs.authnBy[resultUnauthenticated].Inc()
		reason := "no credentials"
		if presented {
			reason = "credentials rejected"
		}
		f.obs.refused(f.log, http.StatusUnauthorized, "", verb, req.URL.Path, reason)
		w.Header().Set("WWW-Authenticate", `Bearer realm="diagnostics"`)
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	f.obs.authnBy[resultAuthenticated].Inc()

	// Non-resource attributes with the lower-cased HTTP method as verb, as kube-apiserver itself
	// authorizes /metrics: ClusterRoles granting get on /metrics or put on /debug/flags/v apply unchanged.
	attrs := authorizer.AttributesRecord{User: res.User, Verb: verb, Path: req.URL.Path, ResourceRequest: false}
	decision, reason, err := f.authz.Authorize(req.Context(), attrs)
	user := res.User.GetName()
	switch {
	case err != nil:
		f.obs.authzBy[unavailableResult(err)].Inc()
		f.obs.refused(f.log, http.StatusServiceUnavailable, user, verb, req.URL.Path, "cannot authorize: "+err.Error())
		unavailable(w)
		return
	case decision != authorizer.DecisionAllow:
		f.obs.authzBy[resultDenied].Inc()
		f.obs.refused(f.log, http.StatusForbidden, user, verb, req.URL.Path, reason)
		http.Error(w, fmt.Sprintf("Forbidden: user %q may not %s %s", user, verb, req.URL.Path), http.StatusForbidden)
		return
	}
	f.obs.authzBy[resultAllowed].Inc()
	f.next.ServeHTTP(w, req)
}

// headerBytes is the size of req's request line and header block as sent in HTTP/1.1, as http.Server's
// MaxHeaderBytes counts it (without the final blank line).
func headerBytes(req *http.Request) int {
	n := len(req.Method) + len(req.RequestURI) + len(req.Proto) + 4 // two spaces, CRLF
	if req.Host != "" {
		n += len("Host: \r\n") + len(req.Host) // Go moves the Host header into req.Host
	}
	for name, values := range req.Header {
		for _, v := range values {
			n += len(name) + len(v) + 4 // ": " and CRLF
		}
	}
	return n
}

func unavailableResult(err error) string {
	if isOverBudget(err) {
		return resultOverBudget
	}
	return resultUnavailable
}

// knownPprofPath is false for paths under /debug/pprof/ that net/http/pprof does not serve.
func knownPprofPath(path string) bool {
	name, under := strings.CutPrefix(path, "/debug/pprof/")
	if !under {
		return true
	}
	switch name {
	case "", "cmdline", "profile", "symbol", "trace":
		return true
	}
	return pprof.Lookup(name) != nil
}

// decider is the part of authorizer.Authorizer the filter uses; the full interface grew in newer
// k8s.io/apiserver releases.
type decider interface {
	Authorize(ctx context.Context, a authorizer.Attributes) (authorizer.Decision, string, error)
}

// unavailable answers a request that could not be decided. It is never served: the caller may retry.
func unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", retryAfterSeconds)
	http.Error(w, "Service Unavailable: the API server could not verify the request", http.StatusServiceUnavailable)
}
