// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	"k8s.io/apiserver/pkg/authentication/request/websocket"
	"k8s.io/apiserver/pkg/authentication/token/cache"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	webhooktoken "k8s.io/apiserver/plugin/pkg/authenticator/token/webhook"
	authenticationv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

// reviewSettings tune how the API server is asked. The TTLs are controller-runtime's, so that adopting
// diagkit does not change how often a manager sends reviews.
type reviewSettings struct {
	tokenSuccessTTL, tokenFailureTTL time.Duration
	allowTTL, denyTTL                time.Duration
	// timeout bounds one review request, below Prometheus' default 10s scrape timeout so that a hung API
	// server yields a 503 the scraper can see instead of a scrape timeout.
	timeout time.Duration
	backoff wait.Backoff
}

func defaultReviewSettings() reviewSettings {
	return reviewSettings{
		tokenSuccessTTL: time.Minute,
		tokenFailureTTL: time.Minute,
		allowTTL:        5 * time.Minute,
		denyTTL:         30 * time.Second,
		timeout:         5 * time.Second,
		// controller-runtime's retry schedule; only transient errors (reset connections, 429, 5xx) retry.
		backoff: wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5},
	}
}

// errUnavailable marks a review the API server did not answer: unreachable, timed out, or refused the
// manager's own request (for example when its ServiceAccount may not create tokenreviews).
var errUnavailable = errors.New("API server did not answer the review")

type unavailableError struct{ err error }

func (e *unavailableError) Error() string   { return fmt.Sprintf("%v: %v", errUnavailable, e.err) }
func (e *unavailableError) Unwrap() []error { return []error{errUnavailable, e.err} }

// newAuthenticator builds k8s.io/apiserver's delegating token authenticator (bearer header and websocket
// protocol, TokenReview, cache, system:authenticated group) as its DelegatingAuthenticatorConfig would,
// with one change: a token the API server reviewed and rejected is "not authenticated" (401, cached for
// tokenFailureTTL) instead of an error that the stock filter answers with 500 and never caches. Errors
// left over mean the API server could not be asked. Anonymous requests and client certificates are not
// accepted.
func newAuthenticator(cfg *rest.Config, s reviewSettings) (authenticator.Request, error) {
	client, err := authenticationv1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create TokenReview client: %w", err)
	}
	webhook, err := webhooktoken.NewFromInterface(client, nil, s.backoff, s.timeout, webhooktoken.AuthenticatorMetrics{
		RecordRequestTotal:   recordAnswer,
		RecordRequestLatency: func(context.Context, string, float64) {},
	})
	if err != nil {
		return nil, fmt.Errorf("create TokenReview authenticator: %w", err)
	}
	tokens := cache.New(rejectionIsUnauthenticated{webhook}, false, s.tokenSuccessTTL, s.tokenFailureTTL)
	return group.NewAuthenticatedGroupAdder(union.New(bearertoken.New(tokens), websocket.NewProtocolAuthenticator(tokens))), nil
}

// newAuthorizer builds k8s.io/apiserver's delegating SubjectAccessReview authorizer with its cache.
func newAuthorizer(cfg *rest.Config, s reviewSettings) (decider, error) {
	client, err := authorizationv1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create SubjectAccessReview client: %w", err)
	}
	backoff := s.backoff
	authz, err := authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: client,
		AllowCacheTTL:             s.allowTTL,
		DenyCacheTTL:              s.denyTTL,
		WebhookRetryBackoff:       &backoff,
	}.New()
	if err != nil {
		return nil, fmt.Errorf("create SubjectAccessReview authorizer: %w", err)
	}
	return authz, nil
}

// reviewClientConfig is the manager's rest.Config with a per-request timeout, so a hung API server
// cannot hold a scrape open.
func reviewClientConfig(cfg *rest.Config, s reviewSettings) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Timeout = s.timeout
	return c
}

// withoutBodyLogging keeps review requests out of the log. At verbosity 8 and above client-go logs request
// and response bodies, and a TokenReview's body is the caller's token; since client-go v0.32 it logs
// through the request context's logger, which this replaces with one that discards everything. (Older
// client-go logs through the global klog: see the package documentation.)
func withoutBodyLogging(ctx context.Context) context.Context {
	return klog.NewContext(ctx, logr.Discard())
}

// answerKey carries a *reviewAnswer from rejectionIsUnauthenticated down to recordAnswer.
type answerKey struct{}

// reviewAnswer records that the API server answered a TokenReview with a 2xx status.
type reviewAnswer struct{ answered atomic.Bool }

// recordAnswer is the webhook authenticator's per-request metrics hook: it receives the HTTP status code
// of every TokenReview call on the context of the AuthenticateToken call that made it.
func recordAnswer(ctx context.Context, code string) {
	if a, ok := ctx.Value(answerKey{}).(*reviewAnswer); ok && len(code) == 3 && strings.HasPrefix(code, "2") {
		a.answered.Store(true)
	}
}

// rejectionIsUnauthenticated tells a rejected token from an unanswered review. The webhook authenticator
// returns an error for both; only a review that reached the API server and came back 2xx is a rejection.
type rejectionIsUnauthenticated struct{ authenticator.Token }

func (r rejectionIsUnauthenticated) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	answer := &reviewAnswer{}
	resp, ok, err := r.Token.AuthenticateToken(withoutBodyLogging(context.WithValue(ctx, answerKey{}, answer)), token)
	switch {
	case err == nil:
		return resp, ok, nil
	case answer.answered.Load():
		return nil, false, nil
	default:
		return nil, false, &unavailableError{err: err}
	}
}
