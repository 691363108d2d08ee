// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

const secretToken = "s3cr3t-t0ken-never-logged"

// fakeReviews stands in for the API server: which token is whose, and what each user may do.
type fakeReviews struct {
	authenticated int               // requests authentication was asked about
	tokens        map[string]string // token -> user name
	allowed       map[string]bool   // "user verb path"
	authnErr      error
	authzErr      error
	seen          []authorizer.Attributes
}

func (f *fakeReviews) AuthenticateRequest(req *http.Request) (*authenticator.Response, bool, error) {
	f.authenticated++
	if f.authnErr != nil {
		return nil, false, f.authnErr
	}
	token := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
	name, ok := f.tokens[token]
	if !ok {
		return nil, false, nil
	}
	return &authenticator.Response{User: &user.DefaultInfo{Name: name}}, true, nil
}

func (f *fakeReviews) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	f.seen = append(f.seen, a)
	if f.authzErr != nil {
		return authorizer.DecisionNoOpinion, "", f.authzErr
	}
	if f.allowed[a.GetUser().GetName()+" "+a.GetVerb()+" "+a.GetPath()] {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "no RBAC rule", nil
}

func TestFilterDecisions(t *testing.T) {
	tests := []struct {
		name       string
		reviews    fakeReviews
		method     string
		path       string
		token      string
		wantStatus int
		wantHeader map[string]string
	}{
		{name: "anonymous caller is refused with 401", method: http.MethodGet, path: "/metrics",
			wantStatus: http.StatusUnauthorized, wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="diagnostics"`}},
		{name: "unknown token is refused with 401", method: http.MethodGet, path: "/metrics", token: "garbage",
			wantStatus: http.StatusUnauthorized},
		{name: "malformed credentials are refused with 401, not 500", method: http.MethodGet, path: "/metrics", token: secretToken,
			reviews: fakeReviews{authnErr: errors.New("invalid bearer token")}, wantStatus: http.StatusUnauthorized},
		{name: "unanswered TokenReview is refused with 503 and Retry-After", method: http.MethodGet, path: "/metrics", token: secretToken,
			reviews:    fakeReviews{authnErr: &unavailableError{err: errors.New("connection refused")}},
			wantStatus: http.StatusServiceUnavailable, wantHeader: map[string]string{"Retry-After": "5"}},
		{name: "caller without RBAC is refused with 403", method: http.MethodGet, path: "/metrics", token: secretToken,
			reviews: fakeReviews{tokens: map[string]string{secretToken: "reader"}}, wantStatus: http.StatusForbidden},
		{name: "unanswered SubjectAccessReview is refused with 503", method: http.MethodGet, path: "/metrics", token: secretToken,
			reviews:    fakeReviews{tokens: map[string]string{secretToken: "reader"}, authzErr: errors.New("timeout")},
			wantStatus: http.StatusServiceUnavailable, wantHeader: map[string]string{"Retry-After": "5"}},
		{name: "caller allowed to get /metrics is served", method: http.MethodGet, path: "/metrics", token: secretToken,
			reviews:    fakeReviews{tokens: map[string]string{secretToken: "reader"}, allowed: map[string]bool{"reader get /metrics": true}},
			wantStatus: http.StatusOK},
		{name: "verb is the lower-cased HTTP method", method: http.MethodPut, path: "/debug/flags/v", token: secretToken,
			reviews:    fakeReviews{tokens: map[string]string{secretToken: "reader"}, allowed: map[string]bool{"reader get /debug/flags/v": true}},
			wantStatus: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := funcr.New(func(prefix, args string) { logs.WriteString(prefix + args + "\n") }, funcr.Options{Verbosity: 10})
			served := false
			f := &filter{authn: &tt.reviews, authz: &tt.reviews, maxHeaderBytes: DefaultMaxHeaderBytes, obs: testObserver(), log: log,
				next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served = true })}

			req := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			f.ServeHTTP(rec, req)

			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d (body %q)", rec.Code, tt.wantStatus, rec.Body)
			}
			if served != (tt.wantStatus == http.StatusOK) {
				t.Errorf("handler served = %v with status %d", served, rec.Code)
			}
			for k, v := range tt.wantHeader {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if strings.Contains(logs.String(), tt.token) && tt.token != "" {
				t.Errorf("the token reached the log:\n%s", logs.String())
			}
			for _, a := range tt.reviews.seen {
				if a.IsResourceRequest() || a.GetPath() != tt.path || a.GetVerb() != strings.ToLower(tt.method) {
					t.Errorf("authorized %+v; want non-resource %s %s", a, strings.ToLower(tt.method), tt.path)
				}
			}
		})
	}
}

// fakeWebhook mimics the webhook token authenticator: it reports each TokenReview's HTTP status through
// the metrics hook, then returns the given result.
type fakeWebhook struct {
	statusCodes []string
	ok          bool
	err         error
}

func (f fakeWebhook) AuthenticateToken(ctx context.Context, _ string) (*authenticator.Response, bool, error) {
	for _, code := range f.statusCodes {
		recordAnswer(ctx, code)
	}
	if f.ok {
		return &authenticator.Response{User: &user.DefaultInfo{Name: "reader"}}, true, nil
	}
	return nil, false, f.err
}

func TestRejectionIsUnauthenticated(t *testing.T) {
	tests := []struct {
		name            string
		webhook         fakeWebhook
		wantOK          bool
		wantUnavailable bool
	}{
		{name: "accepted token authenticates", webhook: fakeWebhook{statusCodes: []string{"201"}, ok: true}, wantOK: true},
		{name: "token the API server rejected is unauthenticated, not an error",
			webhook: fakeWebhook{statusCodes: []string{"201"}, err: errors.New("token has expired")}},
		{name: "review answered after a retry counts as answered",
			webhook: fakeWebhook{statusCodes: []string{"<error>", "201"}, err: errors.New("invalid bearer token")}},
		{name: "connection failure is unavailable", webhook: fakeWebhook{statusCodes: []string{"<error>"}, err: errors.New("connection refused")},
			wantUnavailable: true},
		{name: "manager not allowed to create tokenreviews is unavailable",
			webhook: fakeWebhook{statusCodes: []string{"403"}, err: errors.New("forbidden")}, wantUnavailable: true},
		{name: "no call at all is unavailable", webhook: fakeWebhook{err: errors.New("rate limiter: context deadline")}, wantUnavailable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ok, err := rejectionIsUnauthenticated{tt.webhook}.AuthenticateToken(context.Background(), secretToken)
			if ok != tt.wantOK {
				t.Errorf("ok = %v, want %v", ok, tt.wantOK)
			}
			if got := errors.Is(err, errUnavailable); got != tt.wantUnavailable {
				t.Errorf("err = %v; unavailable = %v, want %v", err, got, tt.wantUnavailable)
			}
			if !tt.wantUnavailable && err != nil {
				t.Errorf("unexpected error %v", err)
			}
		})
	}
}

func TestUnknownPprofPathsAreNotReviewed(t *testing.T) {
	reviews := &fakeReviews{tokens: map[string]string{secretToken: "debugger"}, allowed: map[string]bool{}}
	f := &filter{authn: reviews, authz: reviews, maxHeaderBytes: DefaultMaxHeaderBytes, obs: testObserver(), log: logr.Discard(),
		next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	for path, want := range map[string]int{
		"/debug/pprof/":          http.StatusForbidden,
		"/debug/pprof/heap":      http.StatusForbidden,
		"/debug/pprof/goroutine": http.StatusForbidden,
		"/debug/pprof/profile":   http.StatusForbidden,
		"/debug/pprof/p42":       http.StatusNotFound,
		"/debug/pprof/heap/x":    http.StatusNotFound,
		"/metrics":               http.StatusForbidden,
	} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+secretToken)
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("%s: status %d, want %d", path, rec.Code, want)
		}
	}
	for _, a := range reviews.seen {
		if a.GetPath() == "/debug/pprof/p42" || a.GetPath() == "/debug/pprof/heap/x" {
			t.Errorf("unknown path %s was reviewed", a.GetPath())
		}
	}
}

// TestOversizedHeadersAreNotReviewed: a request line and header block over the limit gets 431 and costs no
// review, so an attacker cannot make the manager post a megabyte-sized "token" to the API server; one at the
// limit is reviewed as usual.
func TestOversizedHeadersAreNotReviewed(t *testing.T) {
	const limit = 8 << 10
	base := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	base.Header.Set("Authorization", "Bearer "+secretToken)
	fixed := headerBytes(base) - len(secretToken)
	tests := []struct {
		name         string
		token        string
		extra        http.Header
		wantStatus   int
		wantReviewed bool
	}{
		{name: "a token that fills the limit exactly", token: secretToken + strings.Repeat("x", limit-fixed-len(secretToken)), wantStatus: http.StatusUnauthorized, wantReviewed: true},
		{name: "one byte over", token: secretToken + strings.Repeat("x", limit-fixed-len(secretToken)+1), wantStatus: http.StatusRequestHeaderFieldsTooLarge},
		{name: "a megabyte token", token: strings.Repeat("x", 1<<20), wantStatus: http.StatusRequestHeaderFieldsTooLarge},
		{name: "a valid token with padding headers over the limit", token: secretToken,
			extra: http.Header{"X-Pad-1": {strings.Repeat("p", limit/2)}, "X-Pad-2": {strings.Repeat("p", limit/2)}}, wantStatus: http.StatusRequestHeaderFieldsTooLarge},
		{name: "a valid token", token: secretToken, wantStatus: http.StatusOK, wantReviewed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reviews := &fakeReviews{tokens: map[string]string{secretToken: "reader"}, allowed: map[string]bool{"reader get /metrics": true}}
			var lines []string
			log := funcr.New(func(_, args string) { lines = append(lines, args) }, funcr.Options{})
			f := &filter{authn: reviews, authz: reviews, maxHeaderBytes: limit, obs: testObserver(), log: log,
				next: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			req.Header.Set("Authorization", "Bearer "+tt.token)
			for k, v := range tt.extra {
				req.Header[k] = v
			}
			rec := httptest.NewRecorder()
			f.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d (header block %d bytes, limit %d)", rec.Code, tt.wantStatus, headerBytes(req), limit)
			}
			if got := reviews.authenticated > 0; got != tt.wantReviewed {
				t.Errorf("reviewed: %v, want %v", got, tt.wantReviewed)
			}
			if strings.Contains(rec.Body.String(), "xxxx") || strings.Contains(strings.Join(lines, "\n"), "xxxx") {
				t.Error("the oversized token is echoed in the response or the log")
			}
		})
	}
}

func TestDecisionsAreVisible(t *testing.T) {
	reg := prometheus.NewRegistry()
	obs := newObserver(reg)
	var lines []string
	log := funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{})
	reviews := &fakeReviews{tokens: map[string]string{secretToken: "reader"}, allowed: map[string]bool{"reader get /metrics": true}}
	f := &filter{authn: reviews, authz: reviews, maxHeaderBytes: DefaultMaxHeaderBytes, obs: obs, log: log, next: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	send := func(token, path string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		f.ServeHTTP(httptest.NewRecorder(), req)
	}
	send(secretToken, "/metrics")
	send(secretToken, "/debug/pprof/")
	send("", "/metrics")
	for i := 0; i < 1000; i++ {
		send("garbage-"+secretToken, "/metrics")
	}

	want := map[string]float64{
		`authentication{result="authenticated"}`:   2,
		`authentication{result="unauthenticated"}`: 1001,
		`authorization{decision="allowed"}`:        1,
		`authorization{decision="denied"}`:         1,
	}
	for series, n := range want {
		name, label, _ := strings.Cut(strings.TrimSuffix(series, "}"), "{")
		key, value, _ := strings.Cut(label, "=")
		vec := obs.authentication
		if name == "authorization" {
			vec = obs.authorization
		}
		if got := testutil.ToFloat64(vec.WithLabelValues(strings.Trim(value, `"`))); got != n {
			t.Errorf("%s (%s) = %v, want %v", series, key, got, n)
		}
	}
	if len(lines) < 3 || len(lines) > 12 {
		t.Errorf("%d refusal lines for 1002 refusals, want a handful (rate-limited)", len(lines))
	}
	all := strings.Join(lines, "\n")
	if strings.Contains(all, secretToken) {
		t.Error("a token reached the log")
	}
	for _, want := range []string{`"status"=403`, `"user"="reader"`, `"reason"="no credentials"`, `"reason"="credentials rejected"`} {
		if !strings.Contains(all, want) {
			t.Errorf("no refusal line with %s in:\n%s", want, all)
		}
	}
}
