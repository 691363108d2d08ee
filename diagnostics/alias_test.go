// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"bytes"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// kubebuilderAliases are the aliases a retrofit of the kubebuilder v4 scaffold registers.
var kubebuilderAliases = []Alias{
	DeprecatedAlias("metrics-bind-address", FlagDiagnosticsAddress),
	DeprecatedNegation("metrics-secure", FlagInsecureDiagnostics),
	DeprecatedAlias("metrics-cert-path", FlagCertDir),
}

// TestAliasesSetTheDiagnosticsFlags: a manifest that still passes the old flags starts, and they mean what
// they meant.
func TestAliasesSetTheDiagnosticsFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want func(o Options) bool
	}{
		{"the old address flag sets the diagnostics address", []string{"--metrics-bind-address=:9443"},
			func(o Options) bool { return o.Address == ":9443" && !o.Insecure }},
		{"--metrics-secure=false is --insecure-diagnostics", []string{"--metrics-secure=false"},
			func(o Options) bool { return o.Insecure }},
		{"--metrics-secure alone keeps the endpoint secure", []string{"--metrics-secure"},
			func(o Options) bool { return !o.Insecure }},
		{"--metrics-secure=true keeps it secure after --insecure-diagnostics", []string{"--insecure-diagnostics", "--metrics-secure=true"},
			func(o Options) bool { return !o.Insecure }},
		{"the old certificate directory", []string{"--metrics-cert-path=/certs"},
			func(o Options) bool { return o.CertDir == "/certs" }},
		{"without the old flags, the defaults", nil,
			func(o Options) bool { return o.Address == DefaultDiagnosticsAddress && !o.Insecure && o.CertDir == "" }},
	}
	for _, tt := range tests {
		for lib, parse := range map[string]func(o *Options) error{
			"pflag": func(o *Options) error {
				fs := pflag.NewFlagSet("manager", pflag.ContinueOnError)
				fs.SetOutput(io.Discard)
				if err := o.AddFlags(fs, kubebuilderAliases...); err != nil {
					return err
				}
				return fs.Parse(tt.args)
			},
			"flag": func(o *Options) error {
				fs := flag.NewFlagSet("manager", flag.ContinueOnError)
				fs.SetOutput(io.Discard)
				if err := o.AddGoFlags(fs, kubebuilderAliases...); err != nil {
					return err
				}
				return fs.Parse(tt.args)
			},
		} {
			t.Run(lib+": "+tt.name, func(t *testing.T) {
				var o Options
				if err := parse(&o); err != nil {
					t.Fatal(err)
				}
				if !tt.want(o) {
					t.Errorf("after %q: Address %q, Insecure %v, CertDir %q", tt.args, o.Address, o.Insecure, o.CertDir)
				}
			})
		}
	}
}

// TestAliasesAreDeprecated: pflag hides them and warns on use; the standard library's usage says so.
func TestAliasesAreDeprecated(t *testing.T) {
	fs := pflag.NewFlagSet("manager", pflag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	var o Options
	if err := o.AddFlags(fs, kubebuilderAliases...); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(fs.FlagUsages(), "metrics-bind-address") {
		t.Error("--help lists the deprecated --metrics-bind-address")
	}
	if err := fs.Parse([]string{"--metrics-bind-address=:9443"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "deprecated, use --diagnostics-address") {
		t.Errorf("no deprecation warning on use: %q", out.String())
	}

	gfs := flag.NewFlagSet("manager", flag.ContinueOnError)
	if err := (&Options{}).AddGoFlags(gfs, kubebuilderAliases...); err != nil {
		t.Fatal(err)
	}
	if u := gfs.Lookup("metrics-secure").Usage; !strings.Contains(u, "Deprecated: use --insecure-diagnostics with the opposite value") {
		t.Errorf("usage of --metrics-secure: %q", u)
	}
}

func TestAliasesAreChecked(t *testing.T) {
	tests := []struct {
		name    string
		aliases []Alias
		defined string
		wantErr string
	}{
		{"an alias of an unknown flag", []Alias{DeprecatedAlias("metrics-addr", "metrics-address")}, "", "--metrics-address is not a diagnostics flag"},
		{"a negated string flag", []Alias{DeprecatedNegation("metrics-addr", FlagDiagnosticsAddress)}, "", "only a boolean flag can be negated"},
		{"an alias named like a diagnostics flag", []Alias{DeprecatedAlias(FlagCertDir, FlagDiagnosticsAddress)}, "", "is a diagnostics flag or given twice"},
		{"the same alias twice", []Alias{DeprecatedAlias("a", FlagCertDir), DeprecatedAlias("a", FlagCertName)}, "", "given twice"},
		{"an alias the manager still defines", []Alias{DeprecatedAlias("metrics-bind-address", FlagDiagnosticsAddress)}, "metrics-bind-address", "already defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("manager", pflag.ContinueOnError)
			if tt.defined != "" {
				fs.String(tt.defined, "", "")
			}
			err := (&Options{}).AddFlags(fs, tt.aliases...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if fs.Lookup(FlagDiagnosticsAddress) != nil {
				t.Error("flags were registered despite the error")
			}
		})
	}
}
