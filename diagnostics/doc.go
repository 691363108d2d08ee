// SPDX-License-Identifier: Apache-2.0

// Package diagnostics serves a controller-runtime manager's metrics and debug endpoints the way Cluster
// API's own controllers do ("diagnostics"), for managers that do not depend on Cluster API.
//
// By default the endpoint listens on :8443 over HTTPS. Every request is authenticated with a TokenReview
// and authorized with a SubjectAccessReview for the request's non-resource path and lower-cased HTTP
// method, so the ClusterRoles documented in the Cluster API book work unchanged. Besides /metrics, the
// secure endpoint serves /debug/pprof/* and PUT /debug/flags/v (the klog verbosity, 0 to 7). With
// --insecure-diagnostics it serves /metrics only, over plain HTTP, to anyone who can reach it.
//
// Use it from main.go:
//
//	var diagnosticsOptions diagnostics.Options
//	if err := diagnosticsOptions.AddFlags(pflag.CommandLine); err != nil { ... }    // or AddGoFlags(flag.CommandLine)
//	...
//	metricsOptions, tlsOptions, err := diagnosticsOptions.ServerOptions()
//	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
//		Metrics:       metricsOptions,
//		WebhookServer: webhook.NewServer(webhook.Options{TLSOpts: tlsOptions}),
//	})
//
// Metrics options built before diagkit (the kubebuilder v4 scaffold's secure options, a helper's result) go
// through Apply instead of ServerOptions: it keeps every other field and lays the diagnostics address, HTTPS,
// filter, TLS and debug handlers over them; the webhook server then takes TLSOptions. AddFlags and AddGoFlags
// accept deprecated aliases (DeprecatedAlias, DeprecatedNegation) for flags the manager had before, so
// manifests that still pass --metrics-bind-address or --metrics-secure keep starting.
//
// A server of one's own (not controller-runtime's metrics server) gets the same checks from Handler and the
// same TLS settings from ServingTLSConfig; diagkit's node metrics proxy is built that way. Requests whose
// line and headers exceed MaxHeaderBytes get 431 before any review.
//
// The manager's ServiceAccount needs create on tokenreviews (authentication.k8s.io) and
// subjectaccessreviews (authorization.k8s.io); a scraper needs get on the non-resource URL /metrics.
//
// Compared with Cluster API's util/flags, every difference refuses more clearly or asks the API server
// less, never serves more: a token the API server rejects gets 401 (not 500) and is remembered; an API
// server that cannot be asked yields 503 with Retry-After (not 500) within the review timeout; concurrent
// identical reviews are coalesced, both caches are bounded, and a review budget caps what a flood of
// unknown tokens costs the API server; unknown pprof paths are 404 before any review; HTTP/2 is off unless
// asked for. Opt-in additions, all flags prefixed --diagnostics-: client certificates, token audiences,
// serving certificates from files (picked up late, reloaded, no self-signed fallback), cache lifetimes,
// timeout and budget. Decisions are counted on controller-runtime's registry and refusals logged,
// rate-limited. FollowZap makes PUT /debug/flags/v work for zap-based managers too. See
// docs/diagnostics-filter.md in the repository.
//
// Tokens never reach a log: the filter logs no header, and the review requests carry a discarding logger,
// because client-go logs request bodies (a TokenReview's body is the caller's token) at verbosity 8 and
// above. client-go older than v0.32 logs them through the global klog instead, which this package cannot
// silence, so PUT /debug/flags/v accepts levels 0 to MaxVerbosity (7) only; keep the -v flag below 8 too.
//
// This is a separate Go module whose requirements are kept at the oldest versions that work
// (controller-runtime v0.16), so that importing it never forces a controller-runtime upgrade.
package diagnostics
