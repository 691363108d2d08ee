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
	"strconv"
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

// budget bounds the reviews sent to the API server, whatever callers do: token buckets for the rate and
// semaphores for the reviews in flight. They refuse at once instead of queueing, so a flood of unknown
// tokens cannot build a backlog; callers answered from a cache never touch them.
//
// Answers that were positive before (a scraper's token or decision whose cache entry expired) are
// re-reviewed on a reserve of a quarter of the budget, on top of it: a flood of garbage tokens, which can
// never become known-good, exhausts only the budget itself, so valid callers keep being reviewed — and
// revocation keeps taking effect at the cache lifetimes — for as long as the flood lasts, and the flood
// still costs the API server at most the budget.
type budget struct {
	shared, reserved pool
}

// pool is a token bucket and a semaphore: the budget, or its reserve.
type pool struct {
	rate     flowcontrol.RateLimiter
	inFlight chan struct{}
}

func newBudget(qps float32, burst, maxInFlight int) *budget {
	return &budget{
		shared:   newPool(qps, burst, maxInFlight),
		reserved: newPool(qps/4, atLeastOne(burst/4), atLeastOne(maxInFlight/4)),
	}
}

// atLeastOne keeps a small budget's reserve usable (this module's go 1.20 has no built-in max).
func atLeastOne(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

func newPool(qps float32, burst, maxInFlight int) pool {
	return pool{rate: flowcontrol.NewTokenBucketRateLimiter(qps, burst), inFlight: make(chan struct{}, maxInFlight)}
}

// acquire takes room for one review, from the reserve first when known says the question was
// answered positively before; release must follow with the pool it returns.
func (b *budget) acquire(known bool) (*pool, error) {
	if known && b.reserved.tryAcquire() {
		return &b.reserved, nil
	}
	if b.shared.tryAcquire() {
		return &b.shared, nil
	}
	return nil, errOverBudget
}

func (p *pool) tryAcquire() bool {
	select {
	case p.inFlight <- struct{}{}:
	default:
		return false
	}
	if !p.rate.TryAccept() {
		<-p.inFlight
		return false
	}
	return true
}

func (p *pool) release() { <-p.inFlight }

// reviewCache remembers the API server's answers and asks it as little as possible: one review for
// concurrent identical questions (singleflight), none while an answer is cached, none beyond the budget.
// Positive and negative answers live in separate size-capped LRU caches, so a flood of negative answers
// can never evict a positive one. Errors (unanswered reviews) are never cached.
type reviewCache struct {
	positive, negative *cache.LRUExpireCache
	// known remembers, for knownFor past an answer's expiry, which questions were answered positively:
	// their refresh draws on the budget's reserve.
	known                    *cache.LRUExpireCache
	positiveTTL, negativeTTL time.Duration
	timeout                  time.Duration
	budget                   *budget
	group                    singleflight.Group
	obs                      *observer
	review                   string // label for the review latency metric
}

func newReviewCache(review string, size int, positiveTTL, negativeTTL, timeout time.Duration, b *budget, obs *observer) *reviewCache {
	return &reviewCache{
		positive:    cache.NewLRUExpireCache(size),
		negative:    cache.NewLRUExpireCache(negativeCacheSize(size)),
		known:       cache.NewLRUExpireCache(size),
		positiveTTL: positiveTTL,
		negativeTTL: negativeTTL,
		timeout:     timeout,
		budget:      b,
		obs:         obs,
		review:      review,
	}
}

// knownFor is how many positive-answer lifetimes a question stays known-good after its answer: a
// scraper that pauses for a while still refreshes on the reserve.
const knownFor = 10

// negativeCacheSize keeps negative answers to a tenth of the cache: enough to absorb a client retrying,
// small enough that a flood costs little memory.
func negativeCacheSize(size int) int {
	if size < 100 {
		return size
	}
	return size / 10
}

// get returns the cached answer for key, or asks ask once for all concurrent callers. ask gets a context
// detached from the first caller's request (which may end before the review does), bounded by the review
// timeout, and reports whether its answer is positive.
func (c *reviewCache) get(ctx context.Context, key string, ask func(context.Context) (answer interface{}, positive bool, err error)) (interface{}, error) {
	if v, ok := c.lookup(key); ok {
		return v, nil
	}
	v, err, _ := c.group.Do(key, func() (interface{}, error) {
		if v, ok := c.lookup(key); ok {
			return v, nil
		}
		_, known := c.known.Get(key)
		p, err := c.budget.acquire(known)
		if err != nil {
			return nil, err
		}
		defer p.release()
		rctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		start := time.Now()
		answer, positive, err := ask(rctx)
		c.obs.reviewed(c.review, start)
		if err != nil {
			return nil, err
		}
		if positive {
			c.positive.Add(key, answer, c.positiveTTL)
			c.known.Add(key, struct{}{}, knownFor*c.positiveTTL)
		} else {
			c.negative.Add(key, answer, c.negativeTTL)
			c.known.Remove(key)
		}
		return answer, nil
	})
	return v, err
}

func (c *reviewCache) lookup(key string) (interface{}, bool) {
	if v, ok := c.positive.Get(key); ok {
		return v, true
	}
	return c.negative.Get(key)
}

// tokenCache is the reviewCache for TokenReviews. Keys are an HMAC of the token under a per-process random
// key, so the cache holds no token and its keys are useless outside this process.
type tokenCache struct {
	*reviewCache
	next    authenticator.Token
	hmacKey []byte
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
		reviewCache: newReviewCache("tokenreview", s.tokenCacheSize, s.tokenSuccessTTL, s.tokenFailureTTL, s.timeout, b, obs),
		next:        next,
		hmacKey:     key,
	}, nil
}

func (c *tokenCache) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	auds, _ := authenticator.AudiencesFrom(ctx)
	// Detached from the request but for the audiences it asks for.
	detached := context.Background()
	if auds != nil {
		detached = authenticator.WithAudiences(detached, auds)
	}
	v, err := c.get(detached, c.keyOf(auds, token), func(rctx context.Context) (interface{}, bool, error) {
		resp, ok, err := c.next.AuthenticateToken(rctx, token)
		return tokenResult{resp: resp, ok: ok}, ok, err
	})
	if err != nil {
		return nil, false, err
	}
	r := v.(tokenResult)
	return r.resp, r.ok, nil
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

// decisionCache is the reviewCache for SubjectAccessReviews (the stock webhook authorizer caches answers
// but sends one review per concurrent caller).
type decisionCache struct {
	*reviewCache
	next decider
}

type decision struct {
	decision authorizer.Decision
	reason   string
}

func newDecisionCache(next decider, s reviewSettings, b *budget, obs *observer) *decisionCache {
	return &decisionCache{
		reviewCache: newReviewCache("subjectaccessreview", s.decisionCacheSize, s.allowTTL, s.denyTTL, s.timeout, b, obs),
		next:        next,
	}
}

func (c *decisionCache) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	v, err := c.get(withoutBodyLogging(context.Background()), decisionKey(a), func(rctx context.Context) (interface{}, bool, error) {
		dec, reason, err := c.next.Authorize(rctx, a)
		if err != nil {
			return nil, false, &unavailableError{err: err}
		}
		return decision{decision: dec, reason: reason}, dec == authorizer.DecisionAllow, nil
	})
	if err != nil {
		return authorizer.DecisionNoOpinion, "", err
	}
	d := v.(decision)
	return d.decision, d.reason, nil
}

// decisionKey is everything a SubjectAccessReview for a non-resource request is made of, encoded so that
// two different requests never share a key: every string is length-prefixed and every list counted, so
// groups ["a", "b"] and ["a,b"] (or a user name holding a separator) cannot collide — a collision would
// answer one identity with another's cached decision.
func decisionKey(a authorizer.Attributes) string {
	u := a.GetUser()
	groups := u.GetGroups()
	if !sort.StringsAreSorted(groups) {
		groups = append([]string(nil), groups...)
		sort.Strings(groups)
	}
	extra := u.GetExtra()
	var keys []string
	if len(extra) > 0 {
		keys = make([]string, 0, len(extra))
		for k := range extra {
			keys = append(keys, k)
		}
		sort.Strings(keys)
	}
	// Sized up front: the key is computed for every request, cached or not.
	size := len(u.GetName()) + len(u.GetUID()) + len(a.GetVerb()) + len(a.GetPath()) + 64
	for _, g := range groups {
		size += len(g) + 4
	}
	for _, k := range keys {
		size += len(k) + 8
		for _, v := range extra[k] {
			size += len(v) + 4
		}
	}
	b := make([]byte, 0, size)
	field := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	list := func(ss []string) {
		b = strconv.AppendInt(b, int64(len(ss)), 10)
		b = append(b, '#')
		for _, s := range ss {
			field(s)
		}
	}
	field(u.GetName())
	field(u.GetUID())
	list(groups)
	b = strconv.AppendInt(b, int64(len(keys)), 10)
	b = append(b, '#')
	for _, k := range keys {
		field(k)
		list(extra[k])
	}
	field(a.GetVerb())
	field(a.GetPath())
	return string(b)
}

// isOverBudget tells a budget refusal from an API server that did not answer.
func isOverBudget(err error) bool { return errors.Is(err, errOverBudget) }
