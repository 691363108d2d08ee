// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/util/flowcontrol"
)

// errOverBudget refuses a review the budget has no room for. It is a kind of unavailability: the caller
// is told to come back later, and nothing is cached.
var errOverBudget = fmt.Errorf("%w: review budget exhausted", errUnavailable)

// budget bounds the reviews sent to the API server, whatever callers do: a token bucket for the rate and
// a semaphore for the reviews in flight. Both refuse at once instead of queueing, so a flood of unknown
// tokens cannot build a backlog; callers answered from a cache never touch it.
type budget struct {
	rate     flowcontrol.RateLimiter
	inFlight chan struct{}
}

func newBudget(qps float32, burst, maxInFlight int) *budget {
	return &budget{rate: flowcontrol.NewTokenBucketRateLimiter(qps, burst), inFlight: make(chan struct{}, maxInFlight)}
}

// acquire takes room for one review; release must follow when it returns nil.
func (b *budget) acquire() error {
	select {
	case b.inFlight <- struct{}{}:
	default:
		return errOverBudget
	}
	if !b.rate.TryAccept() {
		<-b.inFlight
		return errOverBudget
	}
	return nil
}

func (b *budget) release() { <-b.inFlight }

// tokenCache answers repeated tokens from memory and sends one TokenReview for concurrent first uses of a
// token. Accepted and rejected tokens live in separate size-capped LRU caches, so a flood of rejected
// tokens can never evict a scraper that was accepted. Keys are an HMAC of the token under a per-process
// random key, so the cache holds no token and its keys are useless outside this process.
type tokenCache struct {
	next                   authenticator.Token
	accepted, rejected     *cache.LRUExpireCache
	acceptedTTL, rejectTTL time.Duration
	timeout                time.Duration
	budget                 *budget
	group                  singleflight.Group
	hmacKey                []byte
	obs                    *observer
}

type tokenResult struct {
	resp *authenticator.Response
	ok   bool
}

func newTokenCache(next authenticator.Token, s reviewSettings, b *budget, obs *observer) (*tokenCache, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("create token cache key: %w", err)
	}
	return &tokenCache{
		next:        next,
		accepted:    cache.NewLRUExpireCache(s.tokenCacheSize),
		rejected:    cache.NewLRUExpireCache(rejectedCacheSize(s.tokenCacheSize)),
		acceptedTTL: s.tokenSuccessTTL,
		rejectTTL:   s.tokenFailureTTL,
		timeout:     s.timeout,
		budget:      b,
		hmacKey:     key,
		obs:         obs,
	}, nil
}

// rejectedCacheSize keeps rejections to a tenth of the cache: enough to absorb a client retrying a bad
// token, small enough that a flood costs little memory.
func rejectedCacheSize(size int) int {
	if size < 100 {
		return size
	}
	return size / 10
}

func (c *tokenCache) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	auds, _ := authenticator.AudiencesFrom(ctx)
	key := c.keyOf(auds, token)
	if r, ok := c.lookup(key); ok {
		return r.resp, r.ok, nil
	}
	v, err, _ := c.group.Do(key, func() (interface{}, error) {
		if r, ok := c.lookup(key); ok {
			return r, nil
		}
		if err := c.budget.acquire(); err != nil {
			return nil, err
		}
		defer c.budget.release()
		// Detached from the first caller's request, which may end before the review does; the timeout
		// still bounds it, and the audiences the request asked for still apply.
		rctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		if auds != nil {
			rctx = authenticator.WithAudiences(rctx, auds)
		}
		start := time.Now()
		resp, ok, err := c.next.AuthenticateToken(rctx, token)
		c.obs.reviewed("tokenreview", start)
		if err != nil {
			return nil, err // unanswered: never cached
		}
		r := tokenResult{resp: resp, ok: ok}
		if ok {
			c.accepted.Add(key, r, c.acceptedTTL)
		} else {
			c.rejected.Add(key, r, c.rejectTTL)
		}
		return r, nil
	})
	if err != nil {
		return nil, false, err
	}
	r := v.(tokenResult)
	return r.resp, r.ok, nil
}

func (c *tokenCache) lookup(key string) (tokenResult, bool) {
	if v, ok := c.accepted.Get(key); ok {
		return v.(tokenResult), true
	}
	if v, ok := c.rejected.Get(key); ok {
		return v.(tokenResult), true
	}
	return tokenResult{}, false
}

func (c *tokenCache) keyOf(auds authenticator.Audiences, token string) string {
	h := hmac.New(sha256.New, c.hmacKey)
	for _, a := range auds {
		h.Write([]byte(a))
		h.Write([]byte{0})
	}
	h.Write([]byte{0})
	h.Write([]byte(token))
	return hex.EncodeToString(h.Sum(nil))
}

// decisionCache answers repeated authorization questions from memory and sends one SubjectAccessReview for
// concurrent identical questions (the stock webhook authorizer caches answers but sends one review per
// concurrent caller). Allowed and denied answers live in separate size-capped LRU caches.
type decisionCache struct {
	next              decider
	allowed, denied   *cache.LRUExpireCache
	allowTTL, denyTTL time.Duration
	timeout           time.Duration
	budget            *budget
	group             singleflight.Group
	obs               *observer
}

type decision struct {
	decision authorizer.Decision
	reason   string
}

func newDecisionCache(next decider, s reviewSettings, b *budget, obs *observer) *decisionCache {
	return &decisionCache{
		next:     next,
		allowed:  cache.NewLRUExpireCache(s.decisionCacheSize),
		denied:   cache.NewLRUExpireCache(rejectedCacheSize(s.decisionCacheSize)),
		allowTTL: s.allowTTL,
		denyTTL:  s.denyTTL,
		timeout:  s.timeout,
		budget:   b,
		obs:      obs,
	}
}

func (c *decisionCache) Authorize(ctx context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	key := decisionKey(a)
	if d, ok := c.lookup(key); ok {
		return d.decision, d.reason, nil
	}
	v, err, _ := c.group.Do(key, func() (interface{}, error) {
		if d, ok := c.lookup(key); ok {
			return d, nil
		}
		if err := c.budget.acquire(); err != nil {
			return nil, err
		}
		defer c.budget.release()
		rctx, cancel := context.WithTimeout(withoutBodyLogging(context.Background()), c.timeout)
		defer cancel()
		start := time.Now()
		dec, reason, err := c.next.Authorize(rctx, a)
		c.obs.reviewed("subjectaccessreview", start)
		if err != nil {
			return nil, &unavailableError{err: err}
		}
		d := decision{decision: dec, reason: reason}
		if dec == authorizer.DecisionAllow {
			c.allowed.Add(key, d, c.allowTTL)
		} else {
			c.denied.Add(key, d, c.denyTTL)
		}
		return d, nil
	})
	if err != nil {
		return authorizer.DecisionNoOpinion, "", err
	}
	d := v.(decision)
	return d.decision, d.reason, nil
}

func (c *decisionCache) lookup(key string) (decision, bool) {
	if v, ok := c.allowed.Get(key); ok {
		return v.(decision), true
	}
	if v, ok := c.denied.Get(key); ok {
		return v.(decision), true
	}
	return decision{}, false
}

// decisionKey is everything a SubjectAccessReview for a non-resource request is made of.
func decisionKey(a authorizer.Attributes) string {
	u := a.GetUser()
	groups := append([]string(nil), u.GetGroups()...)
	sort.Strings(groups)
	var extra []string
	for k, vs := range u.GetExtra() {
		extra = append(extra, k+"="+strings.Join(vs, ","))
	}
	sort.Strings(extra)
	return strings.Join([]string{u.GetName(), u.GetUID(), strings.Join(groups, ","), strings.Join(extra, ";"),
		a.GetVerb(), a.GetPath()}, "\x00")
}

// isOverBudget tells a budget refusal from an API server that did not answer.
func isOverBudget(err error) bool { return errors.Is(err, errOverBudget) }
