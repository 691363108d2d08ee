// SPDX-License-Identifier: Apache-2.0

package metricsproxy

import (
	"context"
	"net/http"
	"net/url"
)

// pendingKey carries a *pending from scope, through the review, to resume.
type pendingKey struct{}

// pending is where a request goes once the review has allowed it.
type pending struct {
	forward http.Handler
	// path is the request path as gate matched it: what the upstream receives.
	path string
}

// scope hands review the request under the path to authorize — u's AuthzPrefix, then the request path —
// and, once review allows it and calls resume, hands next the request as it was asked. The review handler
// is shared by every upstream (one cache, one budget), so where to go next travels in the context.
func scope(u *Upstream, review, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := &pending{forward: next, path: r.URL.Path}
		r = r.WithContext(context.WithValue(r.Context(), pendingKey{}, p))
		// gate let through only an exact path without escapes, and the prefix is DNS labels: the
		// joined path needs no escaping either, so RawPath stays empty.
		r.URL = withPath(r.URL, u.AuthzPrefix+p.path)
		review.ServeHTTP(w, r)
	})
}

// resume is the review's next handler: it restores the path the caller asked for and forwards.
func resume(w http.ResponseWriter, r *http.Request) {
	p := r.Context().Value(pendingKey{}).(*pending)
	r = r.WithContext(r.Context())
	r.URL = withPath(r.URL, p.path)
	p.forward.ServeHTTP(w, r)
}

// withPath is a copy of u with another path: a request's shallow copy shares its URL.
func withPath(u *url.URL, path string) *url.URL {
	c := *u
	c.Path, c.RawPath = path, ""
	return &c
}
