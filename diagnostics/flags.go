// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	cliflag "k8s.io/component-base/cli/flag"
)

// Flag names, shared with diagkit's generator, kustomize components and tests. They are Cluster API's
// (sigs.k8s.io/cluster-api/util/flags, v1.8 and later), so manifests written for Cluster API work unchanged.
const (
	FlagDiagnosticsAddress  = "diagnostics-address"
	FlagInsecureDiagnostics = "insecure-diagnostics"
	FlagTLSMinVersion       = "tls-min-version"
	FlagTLSCipherSuites     = "tls-cipher-suites"
	FlagTLSCurvePreferences = "tls-curve-preferences"

	// diagkit's additions, absent from Cluster API; each is opt-in or keeps today's behaviour by default.
	FlagCertDir              = "diagnostics-cert-dir"
	FlagCertName             = "diagnostics-cert-name"
	FlagKeyName              = "diagnostics-key-name"
	FlagEnableHTTP2          = "diagnostics-enable-http2"
	FlagClientCAFile         = "diagnostics-client-ca-file"
	FlagTokenAudiences       = "diagnostics-token-audiences"
	FlagTokenCacheTTL        = "diagnostics-token-cache-ttl"
	FlagTokenFailureCacheTTL = "diagnostics-token-failure-cache-ttl"
	FlagAllowCacheTTL        = "diagnostics-allow-cache-ttl"
	FlagDenyCacheTTL         = "diagnostics-deny-cache-ttl"
	FlagReviewTimeout        = "diagnostics-review-timeout"
	FlagTokenCacheSize       = "diagnostics-token-cache-size"
	FlagDecisionCacheSize    = "diagnostics-decision-cache-size"
	FlagReviewQPS            = "diagnostics-review-qps"
	FlagReviewBurst          = "diagnostics-review-burst"
	FlagMaxInFlightReviews   = "diagnostics-max-inflight-reviews"
	FlagMaxProfileDuration   = "diagnostics-max-profile-duration"
	FlagMaxHeaderBytes       = "diagnostics-max-header-bytes"
)

// Defaults of the flags; the zero value of Options means the same.
const (
	DefaultDiagnosticsAddress = ":8443"
	DefaultTLSMinVersion      = "VersionTLS12"
	DefaultCertName           = "tls.crt"
	DefaultKeyName            = "tls.key"
)

// flagNames lists every flag AddFlags and AddGoFlags register, in registration order.
var flagNames = []string{
	FlagTLSMinVersion, FlagTLSCipherSuites, FlagTLSCurvePreferences, FlagDiagnosticsAddress, FlagInsecureDiagnostics,
	FlagCertDir, FlagCertName, FlagKeyName, FlagEnableHTTP2, FlagClientCAFile, FlagTokenAudiences,
	FlagTokenCacheTTL, FlagTokenFailureCacheTTL, FlagAllowCacheTTL, FlagDenyCacheTTL, FlagReviewTimeout,
	FlagTokenCacheSize, FlagDecisionCacheSize, FlagReviewQPS, FlagReviewBurst, FlagMaxInFlightReviews,
	FlagMaxProfileDuration, FlagMaxHeaderBytes,
}

// usage holds each flag's help text. It is Cluster API's text word for word (including its missing space
// after "with"), so `--help` reads the same in every provider.
func usage(name string) string {
	switch name {
	case FlagTLSMinVersion:
		return "The minimum TLS version in use by the webhook server and metrics server (the latter only if --insecure-diagnostics is not set to true).\n" +
			fmt.Sprintf("Possible values are %s.", strings.Join(cliflag.TLSPossibleVersions(), ", "))
	case FlagTLSCipherSuites:
		return "Comma-separated list of cipher suites for the webhook server and metrics server (the latter only if --insecure-diagnostics is not set to true). " +
			"If omitted, the default Go cipher suites will be used. \n" +
			"Preferred values: " + strings.Join(cliflag.PreferredTLSCipherNames(), ", ") + ". \n" +
			"Insecure values: " + strings.Join(cliflag.InsecureTLSCipherNames(), ", ") + "."
	case FlagTLSCurvePreferences:
		return "Comma-separated list of numeric Go crypto/tls CurveID values, as the allowed key exchange mechanisms " +
			"for the webhook server and metrics server (the latter only if --insecure-diagnostics is not set to true). " +
			"The supported values depend on the Go version used. " +
			"See https://pkg.go.dev/crypto/tls#CurveID for values supported for each Go version. " +
			"The order of the list is ignored, and key exchange mechanisms are chosen by Go from this list " +
			"using an internal preference order. If omitted, the default Go curves will be used."
	case FlagDiagnosticsAddress:
		return "The address the diagnostics endpoint binds to. Per default metrics are served via https and with" +
			"authentication/authorization. To serve via http and without authentication/authorization set --insecure-diagnostics. " +
			"If --insecure-diagnostics is not set the diagnostics endpoint also serves pprof endpoints and an endpoint to change the log level."
	case FlagInsecureDiagnostics:
		return "Enable insecure diagnostics serving. For more details see the description of --diagnostics-address."
	case FlagCertDir:
		return "Directory holding the diagnostics endpoint's serving certificate and key (for example a mounted cert-manager Secret); " +
			"picked up when they appear and reloaded when they change, with no self-signed fallback. If empty, a self-signed certificate is generated at start-up. " +
			"Ignored with --insecure-diagnostics."
	case FlagCertName:
		return "File name of the serving certificate in --diagnostics-cert-dir."
	case FlagKeyName:
		return "File name of the serving key in --diagnostics-cert-dir."
	case FlagEnableHTTP2:
		return "Offer HTTP/2 on the diagnostics endpoint. Off by default: HTTP/2 stream handling is reachable before authentication."
	case FlagClientCAFile:
		return "PEM file of CAs whose client certificates authenticate callers (CommonName is the user, Organizations the groups), " +
			"authorized like tokens. The server requests but does not require a certificate; reloaded when it changes. Ignored with --insecure-diagnostics."
	case FlagTokenAudiences:
		return "Comma-separated audiences; if set, only tokens issued for one of them are accepted."
	case FlagTokenCacheTTL:
		return "How long an accepted token is remembered before it is reviewed again."
	case FlagTokenFailureCacheTTL:
		return "How long a rejected token is remembered before it is reviewed again."
	case FlagAllowCacheTTL:
		return "How long an allowed request is remembered before it is authorized again."
	case FlagDenyCacheTTL:
		return "How long a denied request is remembered before it is authorized again."
	case FlagReviewTimeout:
		return "Time limit for one TokenReview or SubjectAccessReview, retries included; a request that cannot be decided in time gets 503."
	case FlagTokenCacheSize:
		return "Most accepted tokens remembered; a tenth as many rejected tokens are remembered separately."
	case FlagDecisionCacheSize:
		return "Most allowed requests remembered; a tenth as many denied requests are remembered separately."
	case FlagReviewQPS:
		return "Sustained reviews per second sent to the API server; requests beyond the budget that no cache answers get 503."
	case FlagReviewBurst:
		return "Reviews that may be sent at once above --diagnostics-review-qps."
	case FlagMaxInFlightReviews:
		return "Reviews that may wait for the API server at the same time."
	case FlagMaxProfileDuration:
		return "Longest CPU profile or execution trace /debug/pprof/profile and /debug/pprof/trace take (their seconds= parameter); a longer one gets 400."
	case FlagMaxHeaderBytes:
		return "Largest request line and headers accepted, in bytes; a larger request gets 431 before any review, so an oversized token never reaches the API server."
	}
	return ""
}

// scalarFlags is what *pflag.FlagSet and *flag.FlagSet have in common: their scalar flags are declared alike.
type scalarFlags interface {
	StringVar(p *string, name, value, usage string)
	BoolVar(p *bool, name string, value bool, usage string)
	DurationVar(p *time.Duration, name string, value time.Duration, usage string)
	IntVar(p *int, name string, value int, usage string)
	Float64Var(p *float64, name string, value float64, usage string)
}

// addScalarFlags registers every flag but the lists, whose types differ between the two packages.
func (o *Options) addScalarFlags(fs scalarFlags) {
	fs.StringVar(&o.TLSMinVersion, FlagTLSMinVersion, o.TLSMinVersion, usage(FlagTLSMinVersion))
	fs.StringVar(&o.Address, FlagDiagnosticsAddress, o.Address, usage(FlagDiagnosticsAddress))
	fs.BoolVar(&o.Insecure, FlagInsecureDiagnostics, o.Insecure, usage(FlagInsecureDiagnostics))
	fs.StringVar(&o.CertDir, FlagCertDir, o.CertDir, usage(FlagCertDir))
	fs.StringVar(&o.CertName, FlagCertName, o.CertName, usage(FlagCertName))
	fs.StringVar(&o.KeyName, FlagKeyName, o.KeyName, usage(FlagKeyName))
	fs.BoolVar(&o.EnableHTTP2, FlagEnableHTTP2, o.EnableHTTP2, usage(FlagEnableHTTP2))
	fs.StringVar(&o.ClientCAFile, FlagClientCAFile, o.ClientCAFile, usage(FlagClientCAFile))
	fs.DurationVar(&o.TokenCacheTTL, FlagTokenCacheTTL, o.TokenCacheTTL, usage(FlagTokenCacheTTL))
	fs.DurationVar(&o.TokenFailureCacheTTL, FlagTokenFailureCacheTTL, o.TokenFailureCacheTTL, usage(FlagTokenFailureCacheTTL))
	fs.DurationVar(&o.AllowCacheTTL, FlagAllowCacheTTL, o.AllowCacheTTL, usage(FlagAllowCacheTTL))
	fs.DurationVar(&o.DenyCacheTTL, FlagDenyCacheTTL, o.DenyCacheTTL, usage(FlagDenyCacheTTL))
	fs.DurationVar(&o.ReviewTimeout, FlagReviewTimeout, o.ReviewTimeout, usage(FlagReviewTimeout))
	fs.IntVar(&o.TokenCacheSize, FlagTokenCacheSize, o.TokenCacheSize, usage(FlagTokenCacheSize))
	fs.IntVar(&o.DecisionCacheSize, FlagDecisionCacheSize, o.DecisionCacheSize, usage(FlagDecisionCacheSize))
	fs.Float64Var(&o.ReviewQPS, FlagReviewQPS, o.ReviewQPS, usage(FlagReviewQPS))
	fs.IntVar(&o.ReviewBurst, FlagReviewBurst, o.ReviewBurst, usage(FlagReviewBurst))
	fs.IntVar(&o.MaxInFlightReviews, FlagMaxInFlightReviews, o.MaxInFlightReviews, usage(FlagMaxInFlightReviews))
	fs.DurationVar(&o.MaxProfileDuration, FlagMaxProfileDuration, o.MaxProfileDuration, usage(FlagMaxProfileDuration))
	fs.IntVar(&o.MaxHeaderBytes, FlagMaxHeaderBytes, o.MaxHeaderBytes, usage(FlagMaxHeaderBytes))
}

// AddFlags registers the diagnostics flags on a pflag FlagSet (cobra, Cluster API style main.go files).
//
// It registers nothing and returns an error naming the flags if any of them is already defined, where
// pflag itself would panic; a repository with its own --tls-min-version must choose which one to keep.
//
// Aliases keep flags the manager had before (--metrics-bind-address) as deprecated names of diagnostics
// flags; pflag hides them from --help and warns when they are used.
func (o *Options) AddFlags(fs *pflag.FlagSet, aliases ...Alias) error {
	defined := func(name string) bool { return fs.Lookup(name) != nil }
	if err := checkUnused(defined); err != nil {
		return err
	}
	if err := checkAliases(aliases, defined, isBoolFlag); err != nil {
		return fmt.Errorf("register diagnostics flags: %w", err)
	}
	o.setDefaults()
	o.addScalarFlags(fs)
	fs.StringSliceVar(&o.TLSCipherSuites, FlagTLSCipherSuites, o.TLSCipherSuites, usage(FlagTLSCipherSuites))
	fs.Int32SliceVar(&o.TLSCurvePreferences, FlagTLSCurvePreferences, o.TLSCurvePreferences, usage(FlagTLSCurvePreferences))
	fs.StringSliceVar(&o.TokenAudiences, FlagTokenAudiences, o.TokenAudiences, usage(FlagTokenAudiences))
	return addPflagAliases(fs, aliases)
}

// isBoolFlag reports whether a diagnostics flag is boolean.
func isBoolFlag(name string) bool { return name == FlagInsecureDiagnostics || name == FlagEnableHTTP2 }

// AddGoFlags registers the same flags on a standard library FlagSet (kubebuilder style main.go files).
// List flags accept comma-separated values and may be repeated, as with pflag.
// Aliases are as for AddFlags; their usage says they are deprecated.
func (o *Options) AddGoFlags(fs *flag.FlagSet, aliases ...Alias) error {
	defined := func(name string) bool { return fs.Lookup(name) != nil }
	if err := checkUnused(defined); err != nil {
		return err
	}
	if err := checkAliases(aliases, defined, isBoolFlag); err != nil {
		return fmt.Errorf("register diagnostics flags: %w", err)
	}
	o.setDefaults()
	o.addScalarFlags(fs)
	fs.Var(&stringList{values: &o.TLSCipherSuites}, FlagTLSCipherSuites, usage(FlagTLSCipherSuites))
	fs.Var(&int32List{values: &o.TLSCurvePreferences}, FlagTLSCurvePreferences, usage(FlagTLSCurvePreferences))
	fs.Var(&stringList{values: &o.TokenAudiences}, FlagTokenAudiences, usage(FlagTokenAudiences))
	addGoAliases(fs, aliases)
	return nil
}

// checkUnused returns an error naming every diagnostics flag that defined reports as already registered.
func checkUnused(defined func(name string) bool) error {
	var taken []string
	for _, name := range flagNames {
		if defined(name) {
			taken = append(taken, "--"+name)
		}
	}
	if len(taken) > 0 {
		return fmt.Errorf("register diagnostics flags: %s already defined; remove the existing definition or set Options fields directly", strings.Join(taken, ", "))
	}
	return nil
}

// stringList is a flag.Value with pflag's string-slice semantics: the first Set replaces the default,
// later ones append, and each value may itself be a comma-separated list.
type stringList struct {
	values *[]string
	set    bool
}

func (l *stringList) String() string {
	if l.values == nil {
		return ""
	}
	return strings.Join(*l.values, ",")
}

func (l *stringList) Set(value string) error {
	if !l.set {
		*l.values = nil
		l.set = true
	}
	for _, v := range strings.Split(value, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l.values = append(*l.values, v)
		}
	}
	return nil
}

// int32List is stringList for numbers, as pflag's Int32Slice.
type int32List struct {
	values *[]int32
	set    bool
}

func (l *int32List) String() string {
	if l.values == nil {
		return ""
	}
	s := make([]string, 0, len(*l.values))
	for _, v := range *l.values {
		s = append(s, strconv.FormatInt(int64(v), 10))
	}
	return strings.Join(s, ",")
}

func (l *int32List) Set(value string) error {
	var parsed []int32
	for _, v := range strings.Split(value, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return fmt.Errorf("expected a comma-separated list of integers, found %q", v)
		}
		parsed = append(parsed, int32(n))
	}
	if !l.set {
		*l.values = nil
		l.set = true
	}
	*l.values = append(*l.values, parsed...)
	return nil
}
