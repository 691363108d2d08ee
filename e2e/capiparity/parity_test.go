// SPDX-License-Identifier: Apache-2.0

package capiparity

import (
	"context"
	"crypto/tls"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	capiflags "sigs.k8s.io/cluster-api/util/flags"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/diagkit/diagkit/diagnostics"
	"github.com/diagkit/diagkit/e2e/framework"
)

type flagInfo struct{ Type, Default, Usage string }

func flagsOf(fs *pflag.FlagSet) map[string]flagInfo {
	out := map[string]flagInfo{}
	fs.VisitAll(func(f *pflag.Flag) { out[f.Name] = flagInfo{f.Value.Type(), f.DefValue, f.Usage} })
	return out
}

func TestSameFlags(t *testing.T) {
	capiFS := pflag.NewFlagSet("capi", pflag.ContinueOnError)
	capiflags.AddManagerOptions(capiFS, &capiflags.ManagerOptions{})
	diagFS := pflag.NewFlagSet("diagkit", pflag.ContinueOnError)
	var o diagnostics.Options
	if err := o.AddFlags(diagFS); err != nil {
		t.Fatal(err)
	}
	got, capi := flagsOf(diagFS), flagsOf(capiFS)
	// diagkit's additions, which Cluster API does not have, all share the --diagnostics- prefix.
	for name := range got {
		if _, ok := capi[name]; !ok {
			if !strings.HasPrefix(name, "diagnostics-") {
				t.Errorf("--%s is neither Cluster API's nor prefixed --diagnostics-", name)
			}
			delete(got, name)
		}
	}
	if diff := cmp.Diff(capi, got); diff != "" {
		t.Errorf("flags differ (-Cluster API +diagkit):\n%s", diff)
	}
}

// tlsView is what a list of TLS options does to a server's tls.Config.
type tlsView struct {
	MinVersion       uint16
	CipherSuites     []uint16
	CurvePreferences []tls.CurveID
	NextProtos       []string
}

func applyTLS(opts []func(*tls.Config)) tlsView {
	c := &tls.Config{NextProtos: []string{"h2"}} // controller-runtime's starting point
	for _, o := range opts {
		o(c)
	}
	return tlsView{c.MinVersion, c.CipherSuites, c.CurvePreferences, c.NextProtos}
}

// metricsView is the comparable part of metricsserver.Options.
type metricsView struct {
	BindAddress   string
	SecureServing bool
	Filtered      bool
	ExtraHandlers []string
	TLS           tlsView
}

func viewOf(m metricsserver.Options) metricsView {
	v := metricsView{BindAddress: m.BindAddress, SecureServing: m.SecureServing, Filtered: m.FilterProvider != nil, TLS: applyTLS(m.TLSOpts)}
	for p := range m.ExtraHandlers {
		v.ExtraHandlers = append(v.ExtraHandlers, p)
	}
	sort.Strings(v.ExtraHandlers)
	return v
}

func TestSameOptionsForSameArguments(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{name: "defaults"},
		{name: "insecure on localhost, as in the Cluster API book", args: []string{"--diagnostics-address=localhost:8080", "--insecure-diagnostics"}},
		{name: "explicitly secure", args: []string{"--diagnostics-address=:9443", "--insecure-diagnostics=false"}},
		{name: "TLS settings", args: []string{"--tls-min-version=VersionTLS13",
			"--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "--tls-curve-preferences=29,23"}},
		{name: "TLS settings with insecure diagnostics", args: []string{"--insecure-diagnostics", "--tls-min-version=VersionTLS13"}},
		{name: "unknown TLS version is an error", args: []string{"--tls-min-version=VersionTLS99"}, wantErr: true},
		{name: "unknown cipher suite is an error", args: []string{"--tls-cipher-suites=TLS_FAKE"}, wantErr: true},
		{name: "unknown curve is an error", args: []string{"--tls-curve-preferences=4242"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var capiOpts capiflags.ManagerOptions
			capiFS := pflag.NewFlagSet("capi", pflag.ContinueOnError)
			capiflags.AddManagerOptions(capiFS, &capiOpts)
			if err := capiFS.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			capiTLS, capiMetrics, capiErr := capiflags.GetManagerOptions(capiOpts)

			var o diagnostics.Options
			diagFS := pflag.NewFlagSet("diagkit", pflag.ContinueOnError)
			if err := o.AddFlags(diagFS); err != nil {
				t.Fatal(err)
			}
			if err := diagFS.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			diagMetrics, diagTLS, diagErr := o.ServerOptions()

			if (capiErr != nil) != tt.wantErr || (diagErr != nil) != tt.wantErr {
				t.Fatalf("errors: Cluster API %v, diagkit %v; want error: %v", capiErr, diagErr, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			// Deliberate difference: without --tls-cipher-suites diagkit offers TLS 1.2's AEAD suites only,
			// where Cluster API leaves Go's defaults (CBC suites included).
			aead := func(v tlsView) tlsView {
				if v.CipherSuites == nil && !slices.ContainsFunc(tt.args, func(a string) bool { return strings.HasPrefix(a, "--tls-cipher-suites") }) {
					v.CipherSuites = diagnostics.DefaultTLSCipherSuites()
				}
				return v
			}
			if diff := cmp.Diff(aead(applyTLS(capiTLS)), applyTLS(diagTLS)); diff != "" {
				t.Errorf("webhook TLS options differ (-Cluster API +diagkit):\n%s", diff)
			}
			want := viewOf(*capiMetrics)
			if want.SecureServing {
				// The other deliberate difference: no HTTP/2 on the diagnostics endpoint.
				want.TLS.NextProtos = []string{"http/1.1"}
				want.TLS = aead(want.TLS)
			}
			if diff := cmp.Diff(want, viewOf(diagMetrics)); diff != "" {
				t.Errorf("metrics server options differ (-Cluster API +diagkit):\n%s", diff)
			}
		})
	}
}

// TestSameAnswers serves /metrics with Cluster API's filter and with diagkit's, side by side against one
// real API server, and sends both the same callers.
func TestSameAnswers(t *testing.T) {
	cp, err := framework.StartControlPlane()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cp.Stop() })
	ctx := t.Context()
	const ns = "parity"
	if err := cp.EnsureNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}

	var o diagnostics.Options
	diagOpts, _, err := o.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	servers := map[string]string{
		"Cluster API": serve(ctx, t, cp, metricsserver.Options{SecureServing: true, FilterProvider: filters.WithAuthenticationAndAuthorization}),
		"diagkit":     serve(ctx, t, cp, metricsserver.Options{SecureServing: true, FilterProvider: diagOpts.FilterProvider}),
	}
	tokens := map[string]string{"anonymous": "", "garbage": "garbage.not-a-jwt"}
	for _, name := range []string{"unprivileged", "reader"} {
		if tokens[name], err = cp.ServiceAccountToken(ctx, ns, name); err != nil {
			t.Fatal(err)
		}
	}
	if err := cp.Grant(ctx, ns, "reader", "parity-metrics-reader", framework.MetricsReaderRule); err != nil {
		t.Fatal(err)
	}

	client := framework.Client(tls.VersionTLS12, 0)
	for _, tt := range []struct {
		caller            string
		capi, diagkitWant int
	}{
		{"anonymous", http.StatusUnauthorized, http.StatusUnauthorized},
		// Cluster API (controller-runtime's filter) treats the rejected TokenReview as a server error.
		{"garbage", http.StatusInternalServerError, http.StatusUnauthorized},
		{"unprivileged", http.StatusForbidden, http.StatusForbidden},
		{"reader", http.StatusOK, http.StatusOK},
	} {
		t.Run(tt.caller, func(t *testing.T) {
			got := map[string]int{}
			for impl, addr := range servers {
				resp, err := framework.Call(ctx, client, http.MethodGet, "https://"+addr+"/metrics", tokens[tt.caller], "")
				if err != nil {
					t.Fatal(err)
				}
				got[impl] = resp.Status
			}
			if diff := cmp.Diff(map[string]int{"Cluster API": tt.capi, "diagkit": tt.diagkitWant}, got); diff != "" {
				t.Errorf("status codes differ from the expected (-want +got):\n%s", diff)
			}
		})
	}
}

// serve starts a controller-runtime metrics server with the options on a free loopback port.
func serve(ctx context.Context, t *testing.T, cp *framework.ControlPlane, o metricsserver.Options) string {
	t.Helper()
	addr, err := framework.FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	o.BindAddress = addr
	httpClient, err := rest.HTTPClientFor(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := metricsserver.NewServer(o, cp.Config, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := framework.WaitForListener(addr, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return addr
}
