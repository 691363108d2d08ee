// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

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

	// diagkit's additions, absent from Cluster API; each is opt-in.
	FlagCertDir  = "diagnostics-cert-dir"
	FlagCertName = "diagnostics-cert-name"
	FlagKeyName  = "diagnostics-key-name"
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
	FlagCertDir, FlagCertName, FlagKeyName,
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
			"reloaded when they change. If empty, a self-signed certificate is generated at start-up. Ignored with --insecure-diagnostics."
	case FlagCertName:
		return "File name of the serving certificate in --diagnostics-cert-dir."
	case FlagKeyName:
		return "File name of the serving key in --diagnostics-cert-dir."
	}
	return ""
}

// AddFlags registers the diagnostics flags on a pflag FlagSet (cobra, Cluster API style main.go files).
//
// It registers nothing and returns an error naming the flags if any of them is already defined, where
// pflag itself would panic; a repository with its own --tls-min-version must choose which one to keep.
func (o *Options) AddFlags(fs *pflag.FlagSet) error {
	if err := checkUnused(func(name string) bool { return fs.Lookup(name) != nil }); err != nil {
		return err
	}
	o.setDefaults()
	fs.StringVar(&o.TLSMinVersion, FlagTLSMinVersion, o.TLSMinVersion, usage(FlagTLSMinVersion))
	fs.StringSliceVar(&o.TLSCipherSuites, FlagTLSCipherSuites, o.TLSCipherSuites, usage(FlagTLSCipherSuites))
	fs.Int32SliceVar(&o.TLSCurvePreferences, FlagTLSCurvePreferences, o.TLSCurvePreferences, usage(FlagTLSCurvePreferences))
	fs.StringVar(&o.Address, FlagDiagnosticsAddress, o.Address, usage(FlagDiagnosticsAddress))
	fs.BoolVar(&o.Insecure, FlagInsecureDiagnostics, o.Insecure, usage(FlagInsecureDiagnostics))
	fs.StringVar(&o.CertDir, FlagCertDir, o.CertDir, usage(FlagCertDir))
	fs.StringVar(&o.CertName, FlagCertName, o.CertName, usage(FlagCertName))
	fs.StringVar(&o.KeyName, FlagKeyName, o.KeyName, usage(FlagKeyName))
	return nil
}

// AddGoFlags registers the same flags on a standard library FlagSet (kubebuilder style main.go files).
// List flags accept comma-separated values and may be repeated, as with pflag.
func (o *Options) AddGoFlags(fs *flag.FlagSet) error {
	if err := checkUnused(func(name string) bool { return fs.Lookup(name) != nil }); err != nil {
		return err
	}
	o.setDefaults()
	fs.StringVar(&o.TLSMinVersion, FlagTLSMinVersion, o.TLSMinVersion, usage(FlagTLSMinVersion))
	fs.Var(&stringList{values: &o.TLSCipherSuites}, FlagTLSCipherSuites, usage(FlagTLSCipherSuites))
	fs.Var(&int32List{values: &o.TLSCurvePreferences}, FlagTLSCurvePreferences, usage(FlagTLSCurvePreferences))
	fs.StringVar(&o.Address, FlagDiagnosticsAddress, o.Address, usage(FlagDiagnosticsAddress))
	fs.BoolVar(&o.Insecure, FlagInsecureDiagnostics, o.Insecure, usage(FlagInsecureDiagnostics))
	fs.StringVar(&o.CertDir, FlagCertDir, o.CertDir, usage(FlagCertDir))
	fs.StringVar(&o.CertName, FlagCertName, o.CertName, usage(FlagCertName))
	fs.StringVar(&o.KeyName, FlagKeyName, o.KeyName, usage(FlagKeyName))
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
