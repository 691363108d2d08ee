// SPDX-License-Identifier: Apache-2.0

package gosource

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diagkit/diagkit/diagnostics"
	"github.com/diagkit/diagkit/generator/edit"
)

const header = `package main

import (
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

var setupLog = ctrl.Log

func main() {
	var metricsAddr string
	flag.StringVar(&metricsAddr, "metrics-addr", ":8080", "metrics")
	flag.Parse()
`

func TestAnalyzeRejectsWhatItCannotCarryOver(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"options from a helper that does not get the flag's variable",
			"\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: metricsOptions()})\n",
			"main.go:17: expected metrics server options built from the bind address flag's variable, passed to metricsOptions as an argument, found metricsOptions()"},
		{"wrapped options whose address no flag sets",
			"\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: server.Options{SecureServing: true}})\n",
			"main.go:17: expected metrics server options whose BindAddress is set from a flag in main, found server.Options{SecureServing: true}"},
		// Found by FuzzPatch: reading the missing type panicked.
		{"a metrics literal without its type",
			"\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: {}})\n",
			"main.go:17: expected metricsserver.Options{…}, found a literal without its type"},
		{"controller-runtime before v0.16",
			"\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{MetricsBindAddress: metricsAddr})\n",
			"main.go:17: expected a Metrics: field in ctrl.Options (controller-runtime ≥ v0.16), found MetricsBindAddress"},
		// No Metrics at all is controller-runtime's plain-HTTP default, retrofitted where the command parses
		// its flags; with two parses (or none) there is no one place to register them.
		{"no Metrics field and flags parsed twice",
			"\tflag.Parse()\n\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{})\n",
			"refused: main.go:18: the options have no Metrics, so controller-runtime serves /metrics over plain HTTP on :8080, all interfaces; 2 flag.Parse() or pflag.Parse() statements"},
		// The flag's variable reaches the manager's function as a parameter: it is followed through one call.
		{"a parameter passed by two calls",
			"\tsetup(metricsAddr)\n\tsetup(metricsAddr)\n}\n\nfunc setup(metricsAddr string) {\n" +
				"\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: server.Options{BindAddress: metricsAddr}})\n",
			"main.go:21: expected one call of setup passing the flag's variable as metricsAddr, found 2"},
		{"a parameter passed something other than a variable",
			"\tsetup(metricsAddr + \"\")\n}\n\nfunc setup(metricsAddr string) {\n" +
				"\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: server.Options{BindAddress: metricsAddr}})\n",
			`main.go:17: expected the flag's variable passed as metricsAddr to setup, found metricsAddr + ""`},
		{"a bind address not set by a flag",
			"\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: server.Options{BindAddress: \":9090\"}})\n",
			`main.go:17: expected a variable or field set by a flag, found ":9090"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := header + tt.body + "\t_, _ = mgr, err\n\tos.Exit(0)\n}\n"
			f, err := ParseSource("main.go", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			calls := FindManagerCall(f)
			if len(calls) != 1 {
				t.Fatalf("found %d manager calls", len(calls))
			}
			_, err = Analyze(&Package{Dir: ".", Files: []*File{f}}, f, calls[0])
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// A zap-based manager gets FollowZap before its logger is built, so PUT /debug/flags/v sets the zap level;
// a logger built another way is left alone.
func TestPatchFollowsZap(t *testing.T) {
	const zapHeader = `package main

import (
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

var setupLog = ctrl.Log

func main() {
	var metricsAddr string
	flag.StringVar(&metricsAddr, "metrics-addr", ":8080", "metrics")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
`
	manager := "\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: server.Options{BindAddress: metricsAddr}})\n" +
		"\tif err != nil {\n\t\tsetupLog.Error(err, \"unable to start manager\")\n\t\tos.Exit(1)\n\t}\n\t_ = mgr\n}\n"
	tests := []struct {
		name, logger string
		want         []string // in this order in the output
		absent       string
	}{
		{"flag options are followed", "\tctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))\n",
			[]string{"diagnosticsOptions.FollowZap(&opts)\n\tctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))"}, ""},
		{"development mode becomes options", "\tctrl.SetLogger(zap.New(zap.UseDevMode(true)))\n",
			[]string{"zapOptions := zap.Options{Development: true}\n\tdiagnosticsOptions.FollowZap(&zapOptions)\n\tctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOptions)))"}, ""},
		{"other shapes are left", "\tctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr)))\n", nil, "FollowZap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := analyzeSource(t, "main.go", zapHeader+tt.logger+manager)
			if err != nil {
				t.Fatal(err)
			}
			changes, err := Patch(m, Diagkit, MarkersCollected)
			if err != nil {
				t.Fatal(err)
			}
			out := string(changes[0].After)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.absent != "" && strings.Contains(out, tt.absent) {
				t.Errorf("output has %q:\n%s", tt.absent, out)
			}
		})
	}
}

// TestPatchWrapsOptionsBuiltBeyondBindAddress: metrics options with more than a bind address are wrapped in
// diagnosticsOptions.Apply, whatever fields they carry and however many statements build them; the old
// flags stay as deprecated aliases, and the kubebuilder v4 scaffold's --metrics-secure and stock filter go.
func TestPatchWrapsOptionsBuiltBeyondBindAddress(t *testing.T) {
	const head = `package main

import (
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	"sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

var setupLog = ctrl.Log

func main() {
	var metricsAddr string
	var secureMetrics bool
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "metrics")
	flag.BoolVar(&secureMetrics, "metrics-secure", true, "https")
	flag.Parse()
	_ = filters.WithAuthenticationAndAuthorization
`
	const helperFunc = "\nfunc metricsOptions(addr string, secure bool) server.Options {\n\treturn server.Options{BindAddress: addr, SecureServing: secure}\n}\n"
	const tail = "\tif err != nil {\n\t\tsetupLog.Error(err, \"unable to start manager\")\n\t\tos.Exit(1)\n\t}\n\t_ = mgr\n}\n"
	tests := []struct {
		name, body string
		want       []string
		absent     []string
	}{
		{"an inline literal with more fields",
			"\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: server.Options{BindAddress: metricsAddr, SecureServing: secureMetrics}})\n",
			[]string{
				"metricsOptions, err := diagnosticsOptions.Apply(server.Options{BindAddress: diagnosticsOptions.Address, SecureServing: !diagnosticsOptions.Insecure})",
				"ctrl.Options{Metrics: metricsOptions,",
				`diagnostics.DeprecatedAlias("metrics-bind-address", diagnostics.FlagDiagnosticsAddress)`,
				`diagnostics.DeprecatedNegation("metrics-secure", diagnostics.FlagInsecureDiagnostics)`,
			},
			[]string{"var secureMetrics", `"metrics-secure", true`}},
		{"a variable completed in several statements, the stock filter under --metrics-secure",
			"\topts := server.Options{SecureServing: secureMetrics}\n\topts.BindAddress = metricsAddr\n" +
				"\tif secureMetrics && len(os.Args) > 0 {\n\t\topts.FilterProvider = filters.WithAuthenticationAndAuthorization\n\t}\n" +
				"\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: opts})\n",
			[]string{
				"opts.BindAddress = diagnosticsOptions.Address",
				"metricsOptions, err := diagnosticsOptions.Apply(opts)",
				"ctrl.Options{Metrics: metricsOptions,",
			},
			[]string{"if secureMetrics", "opts.FilterProvider"}},
		{"a helper building them from the flag's variable",
			"\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: metricsOptions(metricsAddr, secureMetrics)})\n",
			[]string{
				// The helper keeps its name: the variable takes another.
				"diagnosticsMetricsOptions, err := diagnosticsOptions.Apply(metricsOptions(diagnosticsOptions.Address, !diagnosticsOptions.Insecure))",
				"ctrl.Options{Metrics: diagnosticsMetricsOptions,",
			},
			nil},
		{"ctrl.Options completed after the literal",
			"\topts := ctrl.Options{}\n\topts.Metrics = server.Options{BindAddress: metricsAddr}\n" +
				"\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), opts)\n",
			[]string{
				"metricsOptions, err := diagnosticsOptions.Apply(server.Options{BindAddress: diagnosticsOptions.Address})\n\tif err != nil {",
				"opts.Metrics = metricsOptions\n",
			},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := head + tt.body + tail
			if strings.Contains(tt.body, "metricsOptions(") {
				src += helperFunc
			}
			m, err := analyzeSource(t, "main.go", src)
			if err != nil {
				t.Fatal(err)
			}
			if !m.Wrap {
				t.Fatal("not wrapped")
			}
			changes, err := Patch(m, Diagkit, MarkersCollected)
			if err != nil {
				t.Fatal(err)
			}
			out := string(changes[0].After)
			again, err := ParseSource("main.go", changes[0].After)
			if err != nil {
				t.Fatalf("the output does not parse: %v\n%s", err, out)
			}
			if m2, err := Analyze(&Package{Dir: ".", Files: []*File{again}}, again, FindManagerCall(again)[0]); err != nil || !m2.Retrofitted {
				t.Errorf("the output is not seen as retrofitted (a second run would patch again): %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(out, a) {
					t.Errorf("output still has %q:\n%s", a, out)
				}
			}
		})
	}
}

// TestPatchManagerInACobraClosure: a package-level command's RunE closure creating the manager is patched
// like a function, its errors returned as it returns them, and the markers go before the command's
// declaration, where controller-gen collects them.
func TestPatchManagerInACobraClosure(t *testing.T) {
	const src = `package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

var metricsAddr string

// serverCommand runs the manager.
var serverCommand = &cobra.Command{
	Use: "server",
	RunE: func(cmd *cobra.Command, _ []string) error {
		mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: server.Options{BindAddress: metricsAddr}})
		if err != nil {
			return fmt.Errorf("unable to start manager: %w", err)
		}
		return mgr.Start(cmd.Context())
	},
}

func init() {
	serverCommand.Flags().StringVar(&metricsAddr, "metrics-bind-address", ":8080", "metrics")
}
`
	m, err := analyzeSource(t, "cmd/server.go", src)
	if err != nil {
		t.Fatal(err)
	}
	if m.Func.Name.Name != "serverCommand.RunE" {
		t.Errorf("the closure is called %q", m.Func.Name.Name)
	}
	changes, err := Patch(m, Diagkit, AddMarkers)
	if err != nil {
		t.Fatal(err)
	}
	out := string(changes[0].After)
	for _, want := range []string{
		"// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create\n\n// serverCommand runs the manager.\nvar serverCommand",
		"metricsOptions, tlsOptions, err := diagnosticsOptions.ServerOptions()\n\t\tif err != nil {\n\t\t\treturn fmt.Errorf(\"invalid diagnostics flags: %w\", err)\n\t\t}",
		"if err := diagnosticsOptions.AddFlags(serverCommand.Flags(),\n\t\tdiagnostics.DeprecatedAlias(\"metrics-bind-address\", diagnostics.FlagDiagnosticsAddress),\n\t); err != nil {",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := ParseSource("cmd/server.go", changes[0].After); err != nil {
		t.Errorf("the output does not parse: %v", err)
	}
}

// TestConfigFileAddressIsRefused: a bind address read from a configuration type (no flag sets it) is refused
// with exit 3 and what to do by hand, not reported as a broken repository.
func TestConfigFileAddressIsRefused(t *testing.T) {
	const src = `package main

import (
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"
)

type config struct {
	Metrics struct {
		BindAddress string ` + "`json:\"bindAddress\"`" + `
	} ` + "`json:\"metrics\"`" + `
}

func main() {
	cfg := config{}
	cfg.Metrics.BindAddress = ":8080"
	data, _ := os.ReadFile("/etc/manager/config.yaml")
	_ = yaml.Unmarshal(data, &cfg)
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: server.Options{BindAddress: cfg.Metrics.BindAddress}})
	_, _ = mgr, err
}
`
	_, err := analyzeSource(t, "main.go", src)
	if !errors.Is(err, edit.ErrRefused) {
		t.Fatalf("got %v, want a refusal (exit 3)", err)
	}
	for _, want := range []string{"main.go:22:", "cfg.Metrics.BindAddress, which no flag sets", "diagnosticsOptions.Apply"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q lacks %q", err, want)
		}
	}
}

// TestSharedBindAddressIsRefused: one variable registered by several commands, each creating a manager
// (External Secrets' shape), is refused with exit 3 and every registration named.
func TestSharedBindAddressIsRefused(t *testing.T) {
	const src = `package main

import (
	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

var metricsAddr string

var rootCmd = &cobra.Command{Use: "controller"}
var webhookCmd = &cobra.Command{Use: "webhook"}

func run() {
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: server.Options{BindAddress: metricsAddr}})
	_, _ = mgr, err
}

func init() {
	rootCmd.Flags().StringVar(&metricsAddr, "metrics-addr", ":8080", "metrics")
	webhookCmd.Flags().StringVar(&metricsAddr, "metrics-addr", ":8080", "metrics")
}
`
	_, err := analyzeSource(t, "main.go", src)
	if !errors.Is(err, edit.ErrRefused) || !strings.Contains(err.Error(), "main.go:20, main.go:21") {
		t.Errorf("got %v, want a refusal naming both registrations", err)
	}
}

// TestOtherUsesOfTheOldVariableFollow: KEDA turns its metrics off with `metricsAddr = "0"` before the
// options literal; the retrofit makes it the diagnostics address (where "0" turns the endpoint off too)
// instead of leaving a variable that no longer exists.
func TestOtherUsesOfTheOldVariableFollow(t *testing.T) {
	out := patchedSource(t, header+"\tif len(os.Args) > 5 {\n\t\tmetricsAddr = \"0\"\n\t}\n"+managerTail)
	if !strings.Contains(out, "diagnosticsOptions.Address = \"0\"") || strings.Contains(out, "metricsAddr") {
		t.Errorf("the other use of metricsAddr does not follow:\n%s", out)
	}
}

// managerTail ends header's main: the manager from the flag's variable, its error check, and the brace.
const managerTail = "\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: server.Options{BindAddress: metricsAddr}})\n" +
	"\tif err != nil {\n\t\tsetupLog.Error(err, \"unable to start manager\")\n\t\tos.Exit(1)\n\t}\n\t_ = mgr\n}\n"

// patchedSource retrofits src (one file, its package's only one) with the diagkit backend and returns the result.
func patchedSource(t *testing.T, src string) string {
	t.Helper()
	m, err := analyzeSource(t, "main.go", src)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := Patch(m, Diagkit, MarkersCollected)
	if err != nil {
		t.Fatal(err)
	}
	return string(changes[0].After)
}

// analyzeSource parses one file holding one ctrl.NewManager call, as its package's only file, and analyses it.
func analyzeSource(t *testing.T, path, src string) (*Manager, error) {
	t.Helper()
	f, err := ParseSource(path, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return Analyze(&Package{Dir: filepath.Dir(path), Files: []*File{f}}, f, FindManagerCall(f)[0])
}

// TestChecksOfThePassedFlagSeeTheNewOne: JobSet keeps its configuration file's address unless
// flagsSet["metrics-bind-address"] says the flag was passed; after the retrofit the manifest passes
// --diagnostics-address, which the check must see too, or the file silently wins. Only boolean positions
// are rewritten: elsewhere the map's values may be anything.
func TestChecksOfThePassedFlagSeeTheNewOne(t *testing.T) {
	tests := []struct {
		name, check, want string
	}{
		{"negated, as JobSet writes it", `if !flagsSet["metrics-addr"] {`,
			`if !(flagsSet["metrics-addr"] || flagsSet["diagnostics-address"]) {`},
		{"an if condition", `if flagsSet["metrics-addr"] {`,
			`if flagsSet["metrics-addr"] || flagsSet["diagnostics-address"] {`}, // gofmt drops the parentheses
		{"an operand of &&", `if len(os.Args) > 9 && !flagsSet["metrics-addr"] {`,
			`if len(os.Args) > 9 && !(flagsSet["metrics-addr"] || flagsSet["diagnostics-address"]) {`},
		{"another flag's check is left alone", `if !flagsSet["leader-elect"] {`, `if !flagsSet["leader-elect"] {`},
		{"not a boolean position", `if v := flagsSet["metrics-addr"]; v {`, `if v := flagsSet["metrics-addr"]; v {`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := patchedSource(t, header+"\tflagsSet := map[string]bool{}\n\tflag.Visit(func(f *flag.Flag) { flagsSet[f.Name] = true })\n"+
				"\t"+tt.check+"\n\t\tmetricsAddr = \":9090\"\n\t}\n"+managerTail)
			if !strings.Contains(out, "\t"+tt.want+"\n") {
				t.Errorf("want %s in:\n%s", tt.want, out)
			}
		})
	}
}

// TestChangedOfThePassedFlagSeesTheNewOne: pflag's and cobra's way to ask the same.
func TestChangedOfThePassedFlagSeesTheNewOne(t *testing.T) {
	out := patchedSource(t, strings.Replace(header, `"flag"`, `flag "github.com/spf13/pflag"`, 1)+
		"\tif !flag.CommandLine.Changed(\"metrics-addr\") {\n\t\tmetricsAddr = \":9090\"\n\t}\n"+managerTail)
	want := `if !(flag.CommandLine.Changed("metrics-addr") || flag.CommandLine.Changed("diagnostics-address")) {`
	if !strings.Contains(out, want) {
		t.Errorf("want %s in:\n%s", want, out)
	}
}

// The generator writes the diagnostics flags' names without linking the diagnostics package.
func TestFlagNamesAreTheDiagnosticsPackages(t *testing.T) {
	if flagDiagnosticsAddress != diagnostics.FlagDiagnosticsAddress || flagInsecureDiagnostics != diagnostics.FlagInsecureDiagnostics {
		t.Errorf("%q, %q: want %q, %q", flagDiagnosticsAddress, flagInsecureDiagnostics, diagnostics.FlagDiagnosticsAddress, diagnostics.FlagInsecureDiagnostics)
	}
}
