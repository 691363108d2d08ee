// SPDX-License-Identifier: Apache-2.0

package metricsproxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/client-go/rest"

	"github.com/diagkit/diagkit/diagnostics"
)

// fakeAPIServer answers TokenReviews (every token is valid and is the user's name) and SubjectAccessReviews
// for non-resource URLs as RBAC matches nonResourceURLs: a grant is the exact path, or a prefix ending in *.
// It records the paths it was asked about.
type fakeAPIServer struct {
	grants map[string][]string // user → granted paths, verb get

	mu    sync.Mutex
	asked []string
}

func (f *fakeAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var answer any
	switch r.URL.Path {
	case "/apis/authentication.k8s.io/v1/tokenreviews":
		var tr authenticationv1.TokenReview
		if err := json.NewDecoder(r.Body).Decode(&tr); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{Username: tr.Spec.Token}}
		answer = &tr
	case "/apis/authorization.k8s.io/v1/subjectaccessreviews":
		var sar authorizationv1.SubjectAccessReview
		if err := json.NewDecoder(r.Body).Decode(&sar); err != nil || sar.Spec.NonResourceAttributes == nil {
			http.Error(w, "expected a non-resource SubjectAccessReview", http.StatusBadRequest)
			return
		}
		a := sar.Spec.NonResourceAttributes
		f.mu.Lock()
		f.asked = append(f.asked, a.Path)
		f.mu.Unlock()
		for _, g := range f.grants[sar.Spec.User] {
			prefix, wildcard := strings.CutSuffix(g, "*")
			if a.Verb == "get" && (g == a.Path || wildcard && strings.HasPrefix(a.Path, prefix)) {
				sar.Status.Allowed = true
			}
		}
		answer = &sar
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(answer)
}

// askedSince returns the paths asked about after the first n.
func (f *fakeAPIServer) askedSince(n int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.asked[n:])
}

// proxied serves each spec, completed with the address of an upstream recorder, as the proxy's listener for
// it would: gate, the diagnostics package's review against api, the forwarder.
func proxied(t *testing.T, api *fakeAPIServer, specs ...string) (map[string]http.Handler, *upstreamRecorder) {
	t.Helper()
	apiServer := httptest.NewServer(api)
	t.Cleanup(apiServer.Close)
	var o diagnostics.Options
	reviewed, err := o.Handler(t.Context(), &rest.Config{Host: apiServer.URL}, logr.Discard(), http.HandlerFunc(resume))
	if err != nil {
		t.Fatal(err)
	}
	rec := &upstreamRecorder{body: "up 1\n"}
	upstream := httptest.NewTLSServer(rec)
	t.Cleanup(upstream.Close)
	handlers := map[string]http.Handler{}
	for _, spec := range specs {
		u, err := ParseUpstream(spec + ",url=" + upstream.URL + ",insecure-skip-verify=true,token-file=")
		if err != nil {
			t.Fatal(err)
		}
		if handlers[u.Name], err = upstreamHandler(&u, reviewed, logr.Discard()); err != nil {
			t.Fatal(err)
		}
	}
	return handlers, rec
}

func TestSubjectAccessReviewPath(t *testing.T) {
	api := &fakeAPIServer{grants: map[string][]string{"admin": {"*"}}}
	h, rec := proxied(t, api, "kube-scheduler", "kube-controller-manager,authz-prefix=/control-plane/kcm",
		"etcd,authz-prefix=", "app,path=/metrics,path=/custom/metrics")
	for _, tc := range []struct {
		name, upstream, path, wantAsked string
	}{
		{"a preset is authorized under its name", "kube-scheduler", "/metrics", "/kube-scheduler/metrics"},
		{"every path of it", "kube-scheduler", "/metrics/resources", "/kube-scheduler/metrics/resources"},
		{"an upstream of one's own, under its name", "app", "/custom/metrics", "/app/custom/metrics"},
		{"authz-prefix replaces the name", "kube-controller-manager", "/metrics/slis", "/control-plane/kcm/metrics/slis"},
		{"an empty authz-prefix authorizes the path alone", "etcd", "/metrics", "/metrics"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(api.askedSince(0))
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			req.Header.Set("Authorization", "Bearer admin")
			w := httptest.NewRecorder()
			h[tc.upstream].ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body.String())
			}
			// Every case asks about a path of its own, so none is answered from the decision cache.
			if got, want := api.askedSince(before), []string{tc.wantAsked}; !slices.Equal(got, want) {
				t.Errorf("SubjectAccessReviews asked about %v, want %v", got, want)
			}
			if got := rec.last(t).URL.Path; got != tc.path {
				t.Errorf("upstream got %s, want the path asked for, %s", got, tc.path)
			}
		})
	}
}

func TestGrantsAreScopedToAComponent(t *testing.T) {
	api := &fakeAPIServer{grants: map[string][]string{
		// As kube-prometheus grants its Prometheus, for kube-apiserver's metrics.
		"metrics-reader":   {"/metrics", "/metrics/slis"},
		"scheduler-reader": {"/kube-scheduler/*"},
		"kcm-exact":        {"/kube-controller-manager/metrics"},
	}}
	h, rec := proxied(t, api, "kube-scheduler", "kube-controller-manager", "etcd,authz-prefix=")
	for _, tc := range []struct {
		name, user, upstream, path string
		want                       int
		// wantNamed is the path a 403 names: the one to grant.
		wantNamed string
	}{
		{"a /metrics grant opens no component", "metrics-reader", "kube-scheduler", "/metrics", http.StatusForbidden, "/kube-scheduler/metrics"},
		{"nor any of its paths", "metrics-reader", "kube-controller-manager", "/metrics/slis", http.StatusForbidden, "/kube-controller-manager/metrics/slis"},
		{"a component's /NAME/* grant opens it", "scheduler-reader", "kube-scheduler", "/metrics", http.StatusOK, ""},
		{"with every path it serves", "scheduler-reader", "kube-scheduler", "/metrics/slis", http.StatusOK, ""},
		{"and no other component", "scheduler-reader", "kube-controller-manager", "/metrics", http.StatusForbidden, "/kube-controller-manager/metrics"},
		{"an exact grant opens its path", "kcm-exact", "kube-controller-manager", "/metrics", http.StatusOK, ""},
		{"and no other path", "kcm-exact", "kube-controller-manager", "/metrics/slis", http.StatusForbidden, "/kube-controller-manager/metrics/slis"},
		{"an empty authz-prefix is opened by a /metrics grant", "metrics-reader", "etcd", "/metrics", http.StatusOK, ""},
		{"and not by a component's grant", "scheduler-reader", "etcd", "/metrics", http.StatusForbidden, "/metrics"},
		{"an escaped path is 404 before any review", "scheduler-reader", "kube-scheduler", "/metrics%2Fslis", http.StatusNotFound, ""},
		{"so is one with dot segments", "scheduler-reader", "kube-scheduler", "/metrics/slis/..", http.StatusNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, asked := rec.count(), len(api.askedSince(0))
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			req.Header.Set("Authorization", "Bearer "+tc.user)
			w := httptest.NewRecorder()
			h[tc.upstream].ServeHTTP(w, req)
			if w.Code != tc.want {
				t.Fatalf("%s GET %s on %s: %d, want %d: %s", tc.user, tc.path, tc.upstream, w.Code, tc.want, w.Body.String())
			}
			if tc.want == http.StatusNotFound {
				if got := api.askedSince(asked); len(got) > 0 {
					t.Errorf("SubjectAccessReviews asked about %v", got)
				}
			}
			if tc.want != http.StatusOK {
				if want := "may not get " + tc.wantNamed + "\n"; tc.want == http.StatusForbidden && !strings.HasSuffix(w.Body.String(), want) {
					t.Errorf("refusal %q does not end in %q", w.Body.String(), want)
				}
				if rec.count() != before {
					t.Error("a refused request reached the upstream")
				}
				return
			}
			if got := rec.last(t).URL.Path; got != tc.path {
				t.Errorf("upstream got %s, want %s", got, tc.path)
			}
		})
	}
}
