// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/spf13/pflag"
)

func TestAddFlagsRegistersEveryFlag(t *testing.T) {
	var o Options
	fs := pflag.NewFlagSet("manager", pflag.ContinueOnError)
	if err := o.AddFlags(fs); err != nil {
		t.Fatalf("AddFlags: %v", err)
	}
	want := map[string]struct{ typ, def string }{
		FlagDiagnosticsAddress:   {"string", ":8443"},
		FlagInsecureDiagnostics:  {"bool", "false"},
		FlagTLSMinVersion:        {"string", "VersionTLS12"},
		FlagTLSCipherSuites:      {"stringSlice", "[]"},
		FlagTLSCurvePreferences:  {"int32Slice", "[]"},
		FlagCertDir:              {"string", ""},
		FlagCertName:             {"string", "tls.crt"},
		FlagKeyName:              {"string", "tls.key"},
		FlagClientCAFile:         {"string", ""},
		FlagEnableHTTP2:          {"bool", "false"},
		FlagTokenAudiences:       {"stringSlice", "[]"},
		FlagTokenCacheTTL:        {"duration", "1m0s"},
		FlagTokenFailureCacheTTL: {"duration", "1m0s"},
		FlagAllowCacheTTL:        {"duration", "5m0s"},
		FlagDenyCacheTTL:         {"duration", "30s"},
		FlagReviewTimeout:        {"duration", "5s"},
		FlagTokenCacheSize:       {"int", "10000"},
		FlagDecisionCacheSize:    {"int", "8192"},
		FlagReviewQPS:            {"float64", "20"},
		FlagReviewBurst:          {"int", "100"},
		FlagMaxInFlightReviews:   {"int", "10"},
		FlagMaxProfileDuration:   {"duration", "1m0s"},
		FlagMaxHeaderBytes:       {"int", "32768"},
	}
	got := map[string]struct{ typ, def string }{}
	fs.VisitAll(func(f *pflag.Flag) { got[f.Name] = struct{ typ, def string }{f.Value.Type(), f.DefValue} })
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(struct{ typ, def string }{})); diff != "" {
		t.Errorf("registered flags differ (-want +got):\n%s", diff)
	}
}

func TestFlagsParse(t *testing.T) {
	args := []string{
		"--diagnostics-address=127.0.0.1:9443", "--insecure-diagnostics",
		"--tls-min-version=VersionTLS13",
		"--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
		"--tls-curve-preferences=29,23",
		"--diagnostics-cert-dir=/certs", "--diagnostics-key-name=key.pem",
		"--diagnostics-token-audiences=prometheus,metrics", "--diagnostics-allow-cache-ttl=10s", "--diagnostics-review-qps=2.5",
		"--diagnostics-max-profile-duration=2m", "--diagnostics-max-header-bytes=8192",
	}
	want := Options{
		Address: "127.0.0.1:9443", Insecure: true, TLSMinVersion: "VersionTLS13",
		TLSCipherSuites:     []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
		TLSCurvePreferences: []int32{29, 23},
		CertDir:             "/certs", CertName: "tls.crt", KeyName: "key.pem",
		TokenAudiences: []string{"prometheus", "metrics"}, AllowCacheTTL: 10 * time.Second, ReviewQPS: 2.5,
		TokenCacheTTL: time.Minute, TokenFailureCacheTTL: time.Minute, DenyCacheTTL: 30 * time.Second,
		ReviewTimeout: 5 * time.Second, TokenCacheSize: 10000, DecisionCacheSize: 8192, ReviewBurst: 100, MaxInFlightReviews: 10,
		MaxProfileDuration: 2 * time.Minute, MaxHeaderBytes: 8192,
	}
	parsers := map[string]func(*Options) error{
		"pflag": func(o *Options) error {
			fs := pflag.NewFlagSet("manager", pflag.ContinueOnError)
			if err := o.AddFlags(fs); err != nil {
				return err
			}
			return fs.Parse(args)
		},
		"standard library flag": func(o *Options) error {
			fs := flag.NewFlagSet("manager", flag.ContinueOnError)
			if err := o.AddGoFlags(fs); err != nil {
				return err
			}
			return fs.Parse(args)
		},
	}
	for name, parse := range parsers {
		t.Run(name, func(t *testing.T) {
			var o Options
			if err := parse(&o); err != nil {
				t.Fatalf("parse: %v", err)
			}
			if diff := cmp.Diff(want, o, cmpopts.IgnoreUnexported(Options{})); diff != "" {
				t.Errorf("options differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGoFlagsDefaultsMatchPflag(t *testing.T) {
	var po, gotOpts Options
	pfs := pflag.NewFlagSet("p", pflag.ContinueOnError)
	gfs := flag.NewFlagSet("g", flag.ContinueOnError)
	if err := po.AddFlags(pfs); err != nil {
		t.Fatal(err)
	}
	if err := gotOpts.AddGoFlags(gfs); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(po, gotOpts, cmpopts.IgnoreUnexported(Options{})); diff != "" {
		t.Errorf("defaults differ (-pflag +flag):\n%s", diff)
	}
	gfs.VisitAll(func(f *flag.Flag) {
		if pf := pfs.Lookup(f.Name); pf == nil || pf.Usage != f.Usage {
			t.Errorf("--%s: help differs between pflag and flag", f.Name)
		}
	})
}

func TestGoFlagsRejectBadCurveList(t *testing.T) {
	var o Options
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := o.AddGoFlags(fs); err != nil {
		t.Fatal(err)
	}
	err := fs.Parse([]string{"--tls-curve-preferences=29,x25519"})
	if err == nil || !strings.Contains(err.Error(), `found "x25519"`) {
		t.Fatalf("expected an error naming the bad value, got %v", err)
	}
}

func TestAddFlagsRefusesDuplicates(t *testing.T) {
	t.Run("pflag: an existing flag is named and nothing is registered", func(t *testing.T) {
		fs := pflag.NewFlagSet("manager", pflag.ContinueOnError)
		fs.String("tls-min-version", "", "the repository's own flag")
		var o Options
		err := o.AddFlags(fs) // pflag itself would panic here
		if err == nil || !strings.Contains(err.Error(), "--tls-min-version already defined") {
			t.Fatalf("expected an error naming --tls-min-version, got %v", err)
		}
		if fs.Lookup(FlagDiagnosticsAddress) != nil {
			t.Error("--diagnostics-address was registered although AddFlags failed")
		}
	})
	t.Run("standard library flag: registering twice names every flag", func(t *testing.T) {
		fs := flag.NewFlagSet("manager", flag.ContinueOnError)
		var o Options
		if err := o.AddGoFlags(fs); err != nil {
			t.Fatal(err)
		}
		err := o.AddGoFlags(fs)
		if err == nil {
			t.Fatal("second AddGoFlags succeeded")
		}
		for _, name := range flagNames {
			if !strings.Contains(err.Error(), "--"+name) {
				t.Errorf("error %q does not name --%s", err, name)
			}
		}
	})
}
