// SPDX-License-Identifier: Apache-2.0

package metricsproxy

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ServiceAccountTokenFile is where a pod's ServiceAccount token is mounted; kube-controller-manager and
// kube-scheduler are called with it.
const ServiceAccountTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// Defaults toward an upstream.
const (
	// DefaultTimeout bounds one forwarded request, body included. It is above Prometheus' default scrape
	// timeout (10s), so the scraper gives up first and sees its own timeout, not a cut body.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxBodyBytes bounds one upstream response; a kube-controller-manager's metrics are a few MB.
	DefaultMaxBodyBytes = 64 << 20
)

// Upstream is one proxied component.
type Upstream struct {
	// Name identifies the upstream in logs and errors.
	Name string
	// Listen is the proxy's address for this upstream. Empty means the --bind-address host and the port of URL.
	Listen string
	// URL is the upstream's scheme and address; its path is ignored (the request path is forwarded).
	URL *url.URL
	// Paths are served (exact match); every other path is 404 without a review or an upstream request.
	Paths []string
	// AuthzPrefix goes before the request path in the SubjectAccessReview, so that a grant opens one
	// component: get on /kube-scheduler/metrics, not on /metrics, which kube-apiserver and every other
	// upstream share. The upstream still receives the request path alone. Empty authorizes the request path
	// itself, so one /metrics grant opens every upstream configured that way (and kube-apiserver's
	// /metrics). ParseUpstream sets /NAME unless authz-prefix= is given.
	AuthzPrefix string
	// TokenFile, when set, holds the bearer token the proxy presents to the upstream (its own, never the
	// caller's). It is re-read periodically, so projected tokens rotate.
	TokenFile string
	// CAFile verifies an https upstream; empty means the system roots.
	CAFile string
	// ServerName is the name expected in an https upstream's certificate; empty means URL's host.
	ServerName string
	// InsecureSkipVerify skips verifying an https upstream's certificate, for components serving a
	// self-signed certificate generated at start-up (kubeadm's kube-controller-manager and kube-scheduler).
	InsecureSkipVerify bool
	// Timeout bounds one forwarded request, body included.
	Timeout time.Duration
	// MaxBodyBytes bounds one upstream response body.
	MaxBodyBytes int64
}

// Presets are the Kubernetes components the proxy knows: their localhost-only metrics listeners as
// kubeadm configures them.
var Presets = map[string]Upstream{
	// Both serve a self-signed certificate generated in memory unless given --tls-cert-file, so they cannot
	// be verified; the hop stays on the node's loopback. They authorize the proxy's own token.
	"kube-controller-manager": {URL: mustURL("https://127.0.0.1:10257"), Paths: []string{"/metrics", "/metrics/slis"},
		TokenFile: ServiceAccountTokenFile, InsecureSkipVerify: true},
	"kube-scheduler": {URL: mustURL("https://127.0.0.1:10259"), Paths: []string{"/metrics", "/metrics/resources", "/metrics/slis"},
		TokenFile: ServiceAccountTokenFile, InsecureSkipVerify: true},
	// Plain HTTP without any authentication: the proxy is the only check, and sends no credentials.
	"kube-proxy": {URL: mustURL("http://127.0.0.1:10249"), Paths: []string{"/metrics"}},
	"etcd":       {URL: mustURL("http://127.0.0.1:2381"), Paths: []string{"/metrics"}},
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// presetNames lists the presets, sorted, for help and errors.
func presetNames() []string {
	names := make([]string, 0, len(Presets))
	for n := range Presets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// upstreamKeys are the keys ParseUpstream accepts after the name.
var upstreamKeys = []string{"listen", "url", "path", "authz-prefix", "token-file", "ca-file", "server-name", "insecure-skip-verify", "timeout", "max-body"}

// UpstreamUsage documents the --upstream value.
var UpstreamUsage = "An upstream to proxy, repeatable: NAME[,KEY=VALUE...]. NAME is a preset (" +
	strings.Join(presetNames(), ", ") + ") or any name with url=. Keys: " +
	"listen=HOST:PORT (default: --bind-address and the upstream's port), url=http(s)://HOST:PORT, " +
	"path=/PATH (repeatable; replaces the preset's paths), authz-prefix=/PREFIX (the SubjectAccessReview asks about " +
	"get on PREFIX then the request path; default /NAME, so a grant opens one component: /kube-scheduler/metrics, or " +
	"/kube-scheduler/* for all its paths; empty asks about the request path alone, so that a get on /metrics, as " +
	"granted for kube-apiserver's, opens this upstream too), token-file=FILE (the proxy's own token, sent upstream; " +
	"token-file= sends none), ca-file=FILE, server-name=NAME, insecure-skip-verify=true|false, " +
	"timeout=DURATION (default 30s), max-body=QUANTITY (default 64Mi)."

// ParseUpstream reads one --upstream value: a preset name or a new name, then comma-separated key=value
// pairs overriding or completing it. Keys are listed in UpstreamUsage; path may repeat.
func ParseUpstream(spec string) (Upstream, error) {
	fields := strings.Split(spec, ",")
	name := strings.TrimSpace(fields[0])
	if name == "" || strings.Contains(name, "=") {
		return Upstream{}, fmt.Errorf("upstream %q: expected a name first (a preset: %s, or your own with url=)", spec, strings.Join(presetNames(), ", "))
	}
	u, preset := Presets[name]
	u.Name = name
	u.Paths = slices.Clone(u.Paths)
	// Scoped to the component unless authz-prefix= says otherwise: a grant must name what it opens.
	u.AuthzPrefix = "/" + name
	pathsSet := false
	for _, f := range fields[1:] {
		key, value, ok := strings.Cut(f, "=")
		key = strings.TrimSpace(key)
		if !ok {
			return Upstream{}, fmt.Errorf("upstream %s: expected KEY=VALUE, found %q", name, f)
		}
		var err error
		switch key {
		case "listen":
			u.Listen = value
		case "url":
			u.URL, err = url.Parse(value)
		case "path":
			if !pathsSet {
				u.Paths, pathsSet = nil, true
			}
			u.Paths = append(u.Paths, value)
		case "authz-prefix":
			u.AuthzPrefix = value
		case "token-file":
			u.TokenFile = value
		case "ca-file":
			u.CAFile = value
		case "server-name":
			u.ServerName = value
		case "insecure-skip-verify":
			u.InsecureSkipVerify, err = strconv.ParseBool(value)
		case "timeout":
			u.Timeout, err = time.ParseDuration(value)
		case "max-body":
			var q resource.Quantity
			if q, err = resource.ParseQuantity(value); err == nil {
				u.MaxBodyBytes = q.Value()
			}
		default:
			return Upstream{}, fmt.Errorf("upstream %s: unknown key %q, expected one of %s", name, key, strings.Join(upstreamKeys, ", "))
		}
		if err != nil {
			return Upstream{}, fmt.Errorf("upstream %s: %s=%q: %w", name, key, value, err)
		}
	}
	if !preset && u.URL == nil {
		return Upstream{}, fmt.Errorf("upstream %s: not a preset (%s), so url= is required", name, strings.Join(presetNames(), ", "))
	}
	if u.Timeout == 0 {
		u.Timeout = DefaultTimeout
	}
	if u.MaxBodyBytes == 0 {
		u.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return u, u.validate()
}

// validate reports every problem of a parsed upstream.
func (u *Upstream) validate() error {
	var errs []error
	switch {
	case u.URL.Scheme != "http" && u.URL.Scheme != "https":
		errs = append(errs, fmt.Errorf("url=%s: expected an http or https URL", u.URL))
	case u.URL.Port() == "":
		errs = append(errs, fmt.Errorf("url=%s: expected an explicit port", u.URL))
	}
	if u.URL.RawQuery != "" || u.URL.User != nil {
		errs = append(errs, fmt.Errorf("url=%s: expected no query and no user information", u.URL))
	}
	if u.Listen != "" {
		if _, _, err := net.SplitHostPort(u.Listen); err != nil {
			errs = append(errs, fmt.Errorf("listen=%s: expected HOST:PORT: %w", u.Listen, err))
		}
	}
	if len(u.Paths) == 0 {
		errs = append(errs, errors.New("expected at least one path="))
	}
	for _, p := range u.Paths {
		// Exact, clean, absolute paths only: what is authorized is exactly what is forwarded.
		if !strings.HasPrefix(p, "/") || path.Clean(p) != p || strings.ContainsAny(p, "?#%*") {
			errs = append(errs, fmt.Errorf("path=%s: expected a clean absolute path without query, escapes or wildcards", p))
		}
	}
	if err := validateAuthzPrefix(u.AuthzPrefix); err != nil {
		errs = append(errs, err)
	}
	if u.URL.Scheme == "http" && (u.CAFile != "" || u.ServerName != "" || u.InsecureSkipVerify) {
		errs = append(errs, fmt.Errorf("url=%s: TLS settings given for a plain-HTTP upstream", u.URL))
	}
	if u.URL.Scheme == "http" && u.TokenFile != "" && !isLoopback(u.URL.Hostname()) {
		errs = append(errs, fmt.Errorf("token-file=%s: the proxy's token would cross the network in clear text to %s", u.TokenFile, u.URL.Host))
	}
	if u.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout=%s: expected a positive duration", u.Timeout))
	}
	if u.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("max-body=%d: expected a positive size", u.MaxBodyBytes))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("upstream %s: %w", u.Name, err)
	}
	return nil
}

// sharedRoots are first path segments that already mean something to RBAC: kube-apiserver's own
// non-resource URLs, which default ClusterRoles grant with a trailing * (system:discovery gives every
// authenticated user /api/*, /apis/* and /openapi/*; system:monitoring /healthz/*, /livez/*, /readyz/*), and the
// diagnostics endpoints' (/metrics, /debug/pprof/*). A prefix under one of them would be opened by grants
// made for something else.
var sharedRoots = []string{"api", "apis", "debug", "healthz", "livez", "logs", "metrics", "openapi", "readyz", "version"}

// validateAuthzPrefix accepts an empty prefix or /SEGMENT[/SEGMENT...] of DNS labels. Labels exclude
// the characters RBAC or a path would read otherwise (*, %, dots), so that the path a grant names is
// exactly the one reviewed.
func validateAuthzPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	rest, absolute := strings.CutPrefix(prefix, "/")
	segments := strings.Split(rest, "/")
	for _, s := range segments {
		if !absolute || len(validation.IsDNS1123Label(s)) > 0 {
			return fmt.Errorf("authz-prefix=%s: expected empty or /NAME[/NAME...] of lower-case DNS labels, such as /kube-scheduler "+
				"(the default is / and the upstream's name; give authz-prefix= when the name is not a DNS label)", prefix)
		}
	}
	if slices.Contains(sharedRoots, segments[0]) {
		return fmt.Errorf("authz-prefix=%s: /%s/ is kube-apiserver's or the diagnostics endpoint's, and grants for those would open this upstream; "+
			"choose another prefix (or name) outside %s", prefix, segments[0], strings.Join(sharedRoots, ", "))
	}
	return nil
}

// AuthorizedPaths are the non-resource URLs the SubjectAccessReviews ask about, one per path: what a
// scraper needs get on.
func (u *Upstream) AuthorizedPaths() []string {
	paths := make([]string, len(u.Paths))
	for i, p := range u.Paths {
		paths[i] = u.AuthzPrefix + p
	}
	return paths
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// listenAddress is where the proxy serves this upstream: Listen, or bindHost and the upstream's port.
func (u *Upstream) listenAddress(bindHost string) string {
	if u.Listen != "" {
		return u.Listen
	}
	return net.JoinHostPort(bindHost, u.URL.Port())
}
