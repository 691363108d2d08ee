// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// countingToken is a TokenReview stand-in: tokens starting with "good" are accepted, "down" fails as an
// unreachable API server, anything else is rejected. gate, when set, holds every review until closed.
type countingToken struct {
	calls atomic.Int32
	gate  chan struct{}
}

func (c *countingToken) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	c.calls.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	switch {
	case len(token) >= 4 && token[:4] == "good":
		return &authenticator.Response{User: &user.DefaultInfo{Name: token}}, true, nil
	case token == "down":
		return nil, false, &unavailableError{err: errors.New("connection refused")}
	default:
		return nil, false, nil
	}
}

func testObserver() *observer { return newObserver(prometheus.NewRegistry()) }

func testSettings() reviewSettings {
	s := (&Options{}).reviewSettings()
	s.timeout = time.Second
	return s
}

func TestTokenCache(t *testing.T) {
	t.Run("concurrent first uses of a token send one review", func(t *testing.T) {
		next := &countingToken{gate: make(chan struct{})}
		c, err := newTokenCache(next, testSettings(), newBudget(100, 100, 10), testObserver())
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var accepted atomic.Int32
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, ok, err := c.AuthenticateToken(context.Background(), "good-token"); ok && err == nil {
					accepted.Add(1)
				}
			}()
		}
		for next.calls.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // let the other 49 join the flight
		close(next.gate)
		wg.Wait()
		if n := next.calls.Load(); n != 1 {
			t.Errorf("%d reviews, want 1", n)
		}
		if accepted.Load() != 50 {
			t.Errorf("%d of 50 callers accepted", accepted.Load())
		}
	})

	t.Run("a rejected token is remembered, an unanswered one is not", func(t *testing.T) {
		next := &countingToken{}
		c, _ := newTokenCache(next, testSettings(), newBudget(100, 100, 10), testObserver())
		for i := 0; i < 3; i++ {
			if _, ok, err := c.AuthenticateToken(context.Background(), "garbage"); ok || err != nil {
				t.Fatalf("garbage: ok %v err %v", ok, err)
			}
		}
		if n := next.calls.Load(); n != 1 {
			t.Errorf("rejected token reviewed %d times, want 1", n)
		}
		for i := 0; i < 3; i++ {
			if _, _, err := c.AuthenticateToken(context.Background(), "down"); !errors.Is(err, errUnavailable) {
				t.Fatalf("unanswered review: err %v", err)
			}
		}
		if n := next.calls.Load(); n != 4 {
			t.Errorf("%d reviews after three unanswered attempts, want 4 (no caching of failures to ask)", n)
		}
	})

	t.Run("entries expire after their TTL", func(t *testing.T) {
		next := &countingToken{}
		s := testSettings()
		s.tokenSuccessTTL = 20 * time.Millisecond
		c, _ := newTokenCache(next, s, newBudget(100, 100, 10), testObserver())
		_, _, _ = c.AuthenticateToken(context.Background(), "good-a")
		_, _, _ = c.AuthenticateToken(context.Background(), "good-a")
		time.Sleep(50 * time.Millisecond)
		_, _, _ = c.AuthenticateToken(context.Background(), "good-a")
		if n := next.calls.Load(); n != 2 {
			t.Errorf("%d reviews, want 2 (one per TTL window)", n)
		}
	})

	t.Run("a flood of rejected tokens does not evict accepted ones", func(t *testing.T) {
		next := &countingToken{}
		s := testSettings()
		s.tokenCacheSize = 100
		c, _ := newTokenCache(next, s, newBudget(1e6, 1e6, 10), testObserver())
		_, _, _ = c.AuthenticateToken(context.Background(), "good-scraper")
		for i := 0; i < 1000; i++ {
			_, _, _ = c.AuthenticateToken(context.Background(), fmt.Sprintf("garbage-%d", i))
		}
		before := next.calls.Load()
		if _, ok, err := c.AuthenticateToken(context.Background(), "good-scraper"); !ok || err != nil {
			t.Fatalf("scraper: ok %v err %v", ok, err)
		}
		if next.calls.Load() != before {
			t.Error("the accepted scraper was evicted by rejected tokens and reviewed again")
		}
		if got := len(c.negative.Keys()); got > 10 {
			t.Errorf("%d rejected tokens kept, want at most a tenth of the cache size (10)", got)
		}
	})

	t.Run("a flood never locks out a valid token whose entry expires", func(t *testing.T) {
		next := &countingToken{}
		s := testSettings()
		s.tokenSuccessTTL = 20 * time.Millisecond
		// No refill during the test: only the burst of 5 and the reserve's 1 are there to spend.
		c, _ := newTokenCache(next, s, newBudget(0.001, 5, 10), testObserver())
		if _, ok, _ := c.AuthenticateToken(context.Background(), "good-scraper"); !ok {
			t.Fatal("scraper refused")
		}
		for i := 0; i < 100; i++ {
			_, _, _ = c.AuthenticateToken(context.Background(), fmt.Sprintf("garbage-%d", i))
		}
		if _, _, err := c.AuthenticateToken(context.Background(), "garbage-new"); !errors.Is(err, errOverBudget) {
			t.Fatalf("the flood did not exhaust the shared budget: %v", err)
		}
		time.Sleep(30 * time.Millisecond) // the scraper's entry expires mid-flood
		before := next.calls.Load()
		if _, ok, err := c.AuthenticateToken(context.Background(), "good-scraper"); !ok || err != nil {
			t.Fatalf("known-good scraper after its entry expired, during the flood: ok %v err %v", ok, err)
		}
		if next.calls.Load() != before+1 {
			t.Error("the scraper was served without being reviewed again: revocation would not take effect")
		}
		if _, _, err := c.AuthenticateToken(context.Background(), "garbage-newer"); !errors.Is(err, errOverBudget) {
			t.Errorf("garbage reached the reserve: %v", err)
		}
	})

	t.Run("a token rejected on refresh loses its reserve", func(t *testing.T) {
		next := &revocableToken{valid: map[string]bool{"scraper": true}}
		s := testSettings()
		s.tokenSuccessTTL = 10 * time.Millisecond
		c, _ := newTokenCache(next, s, newBudget(100, 100, 10), testObserver())
		if _, ok, _ := c.AuthenticateToken(context.Background(), "scraper"); !ok {
			t.Fatal("scraper refused")
		}
		next.valid["scraper"] = false // revoked
		time.Sleep(20 * time.Millisecond)
		if _, ok, _ := c.AuthenticateToken(context.Background(), "scraper"); ok {
			t.Error("a revoked token was accepted after its cache entry expired")
		}
		if _, known := c.known.Get(c.keyOf(nil, "scraper")); known {
			t.Error("a revoked token is still known-good")
		}
	})

	t.Run("beyond the budget reviews are refused, cached tokens still served", func(t *testing.T) {
		next := &countingToken{}
		c, _ := newTokenCache(next, testSettings(), newBudget(0.001, 5, 10), testObserver())
		if _, ok, _ := c.AuthenticateToken(context.Background(), "good-scraper"); !ok {
			t.Fatal("scraper refused")
		}
		var refused int
		for i := 0; i < 100; i++ {
			if _, _, err := c.AuthenticateToken(context.Background(), fmt.Sprintf("garbage-%d", i)); errors.Is(err, errOverBudget) {
				refused++
			}
		}
		// The scraper and four garbage tokens take the burst of 5; the reserve is for refreshing known-good
		// answers, which garbage never is.
		if n := next.calls.Load(); n != 5 {
			t.Errorf("%d reviews sent, want the burst of 5", n)
		}
		if refused != 96 {
			t.Errorf("%d refused, want 96", refused)
		}
		if _, ok, err := c.AuthenticateToken(context.Background(), "good-scraper"); !ok || err != nil {
			t.Errorf("cached scraper during the flood: ok %v err %v", ok, err)
		}
	})

	t.Run("token audiences are part of the key", func(t *testing.T) {
		next := &countingToken{}
		c, _ := newTokenCache(next, testSettings(), newBudget(100, 100, 10), testObserver())
		_, _, _ = c.AuthenticateToken(authenticator.WithAudiences(context.Background(), authenticator.Audiences{"a"}), "good-x")
		_, _, _ = c.AuthenticateToken(authenticator.WithAudiences(context.Background(), authenticator.Audiences{"b"}), "good-x")
		if n := next.calls.Load(); n != 2 {
			t.Errorf("%d reviews, want 2", n)
		}
	})
}

type countingDecider struct {
	calls atomic.Int32
	gate  chan struct{}
	err   error
}

func (d *countingDecider) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	d.calls.Add(1)
	if d.gate != nil {
		<-d.gate
	}
	if d.err != nil {
		return authorizer.DecisionNoOpinion, "", d.err
	}
	if a.GetPath() == "/metrics" {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "no rule", nil
}

func attrs(name, path string) authorizer.Attributes {
	return authorizer.AttributesRecord{User: &user.DefaultInfo{Name: name, Groups: []string{"g"}}, Verb: "get", Path: path}
}

func TestDecisionCache(t *testing.T) {
	t.Run("concurrent identical questions send one SubjectAccessReview", func(t *testing.T) {
		next := &countingDecider{gate: make(chan struct{})}
		c := newDecisionCache(next, testSettings(), newBudget(100, 100, 10), testObserver())
		var wg sync.WaitGroup
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, _ = c.Authorize(context.Background(), attrs("reader", "/metrics"))
			}()
		}
		for next.calls.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		close(next.gate)
		wg.Wait()
		if n := next.calls.Load(); n != 1 {
			t.Errorf("%d reviews, want 1", n)
		}
	})
	t.Run("different users, groups, verbs or paths are different questions", func(t *testing.T) {
		next := &countingDecider{}
		c := newDecisionCache(next, testSettings(), newBudget(100, 100, 10), testObserver())
		for _, a := range []authorizer.Attributes{
			attrs("a", "/metrics"), attrs("b", "/metrics"), attrs("a", "/debug/pprof/"),
			authorizer.AttributesRecord{User: &user.DefaultInfo{Name: "a", Groups: []string{"other"}}, Verb: "get", Path: "/metrics"},
			authorizer.AttributesRecord{User: &user.DefaultInfo{Name: "a", Groups: []string{"g"}}, Verb: "put", Path: "/metrics"},
			attrs("a", "/metrics"),
		} {
			_, _, _ = c.Authorize(context.Background(), a)
		}
		if n := next.calls.Load(); n != 5 {
			t.Errorf("%d reviews, want 5", n)
		}
	})
	t.Run("an unanswered review is an unavailable error and not cached", func(t *testing.T) {
		next := &countingDecider{err: errors.New("timeout")}
		c := newDecisionCache(next, testSettings(), newBudget(100, 100, 10), testObserver())
		for i := 0; i < 2; i++ {
			if _, _, err := c.Authorize(context.Background(), attrs("a", "/metrics")); !errors.Is(err, errUnavailable) {
				t.Fatalf("err %v", err)
			}
		}
		if n := next.calls.Load(); n != 2 {
			t.Errorf("%d reviews, want 2", n)
		}
	})
}

// TestDecisionKeyIsUnambiguous: identities that a separator-joined key would confuse get different keys,
// so a decision cached for one is never the answer for another (a client certificate with
// O=ops,pprof-readers must not reuse the decision of groups ops and pprof-readers).
func TestDecisionKeyIsUnambiguous(t *testing.T) {
	rec := func(u user.DefaultInfo) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{User: &u, Verb: "get", Path: "/debug/pprof/"}
	}
	pairs := []struct {
		name string
		a, b authorizer.AttributesRecord
	}{
		{"groups joined by a comma", rec(user.DefaultInfo{Name: "u", Groups: []string{"ops", "pprof-readers"}}), rec(user.DefaultInfo{Name: "u", Groups: []string{"ops,pprof-readers"}})},
		{"extra values joined by a comma", rec(user.DefaultInfo{Name: "u", Extra: map[string][]string{"k": {"a", "b"}}}), rec(user.DefaultInfo{Name: "u", Extra: map[string][]string{"k": {"a,b"}}})},
		{"extra entries joined by a semicolon", rec(user.DefaultInfo{Name: "u", Extra: map[string][]string{"a": {"x"}, "b": {"y"}}}), rec(user.DefaultInfo{Name: "u", Extra: map[string][]string{"a": {"x;b=y"}}})},
		{"extra key holding =", rec(user.DefaultInfo{Name: "u", Extra: map[string][]string{"a=b": {"c"}}}), rec(user.DefaultInfo{Name: "u", Extra: map[string][]string{"a": {"b=c"}}})},
		{"name holding the field separator", rec(user.DefaultInfo{Name: "a\x00b"}), rec(user.DefaultInfo{Name: "a", UID: "b"})},
		{"name and uid shifted", rec(user.DefaultInfo{Name: "ab", UID: "c"}), rec(user.DefaultInfo{Name: "a", UID: "bc"})},
		{"a group that is also the next field", rec(user.DefaultInfo{Name: "u", Groups: []string{"g"}}), rec(user.DefaultInfo{Name: "u", Extra: map[string][]string{"g": nil}})},
		{"no groups and one empty group", rec(user.DefaultInfo{Name: "u"}), rec(user.DefaultInfo{Name: "u", Groups: []string{""}})},
	}
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			if decisionKey(p.a) == decisionKey(p.b) {
				t.Errorf("two identities share the key %q", decisionKey(p.a))
			}
		})
	}
	t.Run("the order of groups and extras does not matter", func(t *testing.T) {
		a := rec(user.DefaultInfo{Name: "u", Groups: []string{"b", "a"}, Extra: map[string][]string{"y": {"1"}, "x": {"2"}}})
		b := rec(user.DefaultInfo{Name: "u", Groups: []string{"a", "b"}, Extra: map[string][]string{"x": {"2"}, "y": {"1"}}})
		if decisionKey(a) != decisionKey(b) {
			t.Error("the same identity gets two keys")
		}
	})
}

// revocableToken accepts the tokens valid says are valid, as the API server would until one is revoked.
type revocableToken struct{ valid map[string]bool }

func (r *revocableToken) AuthenticateToken(_ context.Context, token string) (*authenticator.Response, bool, error) {
	if !r.valid[token] {
		return nil, false, nil
	}
	return &authenticator.Response{User: &user.DefaultInfo{Name: token}}, true, nil
}
