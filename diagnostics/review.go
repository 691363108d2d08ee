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
	x509request "k8s.io/apiserver/pkg/authentication/request/x509"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	webhooktoken "k8s.io/apiserver/plugin/pkg/authenticator/token/webhook"
	authenticationv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

// reviewSettings are the resolved review options (see Options and review_options.go).
type reviewSettings struct {
	tokenSuccessTTL, tokenFailureTTL  time.Duration
	allowTTL, denyTTL                 time.Duration
	timeout                           time.Duration
	tokenCacheSize, decisionCacheSize int
	qps                               float32
	burst, maxInFlight                int
	maxHeaderBytes                    int
	audiences                         []string
	clientCAFile                      string
	backoff                           wait.Backoff
}

// defaultBackoff is controller-runtime's retry schedule; only transient errors (reset connections, 429,
// 5xx) are retried, and always within the review timeout.
func defaultBackoff() wait.Backoff {
	return wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}
}

// errUnavailable marks a review the API server did not answer: unreachable, timed out, refused the
// manager's own request (for example when its ServiceAccount may not create tokenreviews), or not sent
// because the review budget was exhausted.
var errUnavailable = errors.New("API server did not answer the review")

type unavailableError struct{ err error }

func (e *unavailableError) Error() string   { return fmt.Sprintf("%v: %v", errUnavailable, e.err) }
func (e *unavailableError) Unwrap() []error { return []error{errUnavailable, e.err} }

// reviewers are the authenticator and authorizer built for one metrics server.
type reviewers struct {
	authn authenticator.Request
	authz decider
	obs   *observer
}

// newReviewers builds, from k8s.io/apiserver pieces as its DelegatingAuthenticatorConfig and
// DelegatingAuthorizerConfig assemble them, with diagkit's changes:
//
//	bearer header | websocket protocol -> tokenCache -> rejectionIsUnauthenticated -> TokenReview webhook
//	client certificate (optional)      -> x509 authenticator with a reloaded CA bundle
//	authorization                      -> decisionCache -> SubjectAccessReview webhook (its own cache off)
//
// Both caches are bounded, coalesce concurrent identical reviews and share one review budget. Anonymous
// requests and front-proxy headers are not accepted. ctx bounds the CA file watcher.
func newReviewers(ctx context.Context, cfg *rest.Config, s reviewSettings) (*reviewers, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = s.timeout
	// The budget, not client-go's blocking limiter, decides how many reviews are sent.
	cfg.QPS, cfg.Burst, cfg.RateLimiter = -1, 0, nil
	b := newBudget(s.qps, s.burst, s.maxInFlight)
	obs := defaultObserver()

	authnClient, err := authenticationv1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create TokenReview client: %w", err)
	}
	webhook, err := webhooktoken.NewFromInterface(authnClient, s.audiences, s.backoff, s.timeout, webhooktoken.AuthenticatorMetrics{
		RecordRequestTotal:   recordAnswer,
		RecordRequestLatency: func(context.Context, string, float64) {},
	})
	if err != nil {
		return nil, fmt.Errorf("create TokenReview authenticator: %w", err)
	}
	tokens, err := newTokenCache(rejectionIsUnauthenticated{webhook}, s, b, obs)
	if err != nil {
		return nil, err
	}
	authenticators := []authenticator.Request{bearertoken.New(tokens), websocket.NewProtocolAuthenticator(tokens)}
	if s.clientCAFile != "" {
		ca, err := dynamiccertificates.NewDynamicCAContentFromFile("diagnostics-client-ca", s.clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", FlagClientCAFile, err)
		}
		go ca.Run(ctx, 1)
		// First, as kube-apiserver orders them: a verified certificate needs no TokenReview.
		authenticators = append([]authenticator.Request{x509request.NewDynamic(ca.VerifyOptions, x509request.CommonNameUserConversion)}, authenticators...)
	}

	authzClient, err := authorizationv1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create SubjectAccessReview client: %w", err)
	}
	backoff := s.backoff
	webhookAuthz, err := authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: authzClient,
		WebhookRetryBackoff:       &backoff,
		// TTLs of zero: decisionCache does the caching, bounded and coalesced.
	}.New()
	if err != nil {
		return nil, fmt.Errorf("create SubjectAccessReview authorizer: %w", err)
	}
	return &reviewers{
		authn: group.NewAuthenticatedGroupAdder(union.New(authenticators...)),
		authz: newDecisionCache(webhookAuthz, s, b, obs),
		obs:   obs,
	}, nil
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
// returns an error for both; only a review that reached the API server and came back 2xx is a rejection,
// which becomes "not authenticated" (401, cached); anything else is marked errUnavailable (503, not cached).
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
