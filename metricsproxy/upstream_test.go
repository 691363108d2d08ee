// SPDX-License-Identifier: Apache-2.0

package metricsproxy

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseUpstream(t *testing.T) {
	tests := []struct {
		spec string
		// want is compared on the fields below; wantErr is a substring of the error.
		url, listen, tokenFile, authz string
		paths                         []string
		insecure                      bool
		timeout                       time.Duration
		maxBody                       int64
		wantErr                       string
	}{
		{spec: "kube-proxy", url: "http://127.0.0.1:10249", authz: "/kube-proxy", paths: []string{"/metrics"}, timeout: DefaultTimeout, maxBody: DefaultMaxBodyBytes},
		{spec: "etcd", url: "http://127.0.0.1:2381", authz: "/etcd", paths: []string{"/metrics"}, timeout: DefaultTimeout, maxBody: DefaultMaxBodyBytes},
		{spec: "kube-controller-manager", url: "https://127.0.0.1:10257", authz: "/kube-controller-manager", paths: []string{"/metrics", "/metrics/slis"},
			tokenFile: ServiceAccountTokenFile, insecure: true, timeout: DefaultTimeout, maxBody: DefaultMaxBodyBytes},
		{spec: "kube-scheduler,url=https://127.0.0.1:20259,insecure-skip-verify=false,ca-file=/ca.crt,token-file=/t,timeout=5s,max-body=1Mi",
			url: "https://127.0.0.1:20259", authz: "/kube-scheduler", paths: []string{"/metrics", "/metrics/resources", "/metrics/slis"}, tokenFile: "/t",
			timeout: 5 * time.Second, maxBody: 1 << 20},
		{spec: "kube-controller-manager,token-file=", url: "https://127.0.0.1:10257", authz: "/kube-controller-manager", paths: []string{"/metrics", "/metrics/slis"},
			insecure: true, timeout: DefaultTimeout, maxBody: DefaultMaxBodyBytes},
		{spec: "app,url=http://127.0.0.1:8080,path=/metrics,path=/other,listen=10.0.0.1:9100", url: "http://127.0.0.1:8080",
			listen: "10.0.0.1:9100", authz: "/app", paths: []string{"/metrics", "/other"}, timeout: DefaultTimeout, maxBody: DefaultMaxBodyBytes},
		{spec: "etcd,authz-prefix=/control-plane/etcd-2", url: "http://127.0.0.1:2381", authz: "/control-plane/etcd-2", paths: []string{"/metrics"},
			timeout: DefaultTimeout, maxBody: DefaultMaxBodyBytes},
		// Empty: the path alone, as before authz-prefix existed; then the name need not be a DNS label.
		{spec: "My_App,url=http://127.0.0.1:8080,path=/metrics,authz-prefix=", url: "http://127.0.0.1:8080", authz: "", paths: []string{"/metrics"},
			timeout: DefaultTimeout, maxBody: DefaultMaxBodyBytes},

		{spec: "app,path=/metrics", wantErr: "not a preset (etcd, kube-controller-manager, kube-proxy, kube-scheduler), so url= is required"},
		{spec: "url=http://x:1", wantErr: "expected a name first"},
		{spec: "etcd,colour=blue", wantErr: `unknown key "colour", expected one of listen, url, path`},
		{spec: "etcd,listen", wantErr: `expected KEY=VALUE, found "listen"`},
		{spec: "etcd,url=ftp://127.0.0.1:21", wantErr: "expected an http or https URL"},
		{spec: "etcd,url=http://127.0.0.1", wantErr: "expected an explicit port"},
		{spec: "etcd,url=http://127.0.0.1:2381/?x=1", wantErr: "expected no query"},
		{spec: "etcd,listen=10.0.0.1", wantErr: "listen=10.0.0.1: expected HOST:PORT"},
		{spec: "etcd,path=/metrics/../configz", wantErr: "expected a clean absolute path"},
		{spec: "etcd,path=/debug/pprof/*", wantErr: "expected a clean absolute path"},
		{spec: "etcd,path=metrics", wantErr: "expected a clean absolute path"},
		{spec: "etcd,insecure-skip-verify=true", wantErr: "TLS settings given for a plain-HTTP upstream"},
		{spec: "etcd,insecure-skip-verify=maybe", wantErr: `insecure-skip-verify="maybe"`},
		{spec: "app,url=http://10.0.0.2:8080,path=/metrics,token-file=/t", wantErr: "would cross the network in clear text"},
		{spec: "etcd,timeout=-1s", wantErr: "expected a positive duration"},
		{spec: "etcd,max-body=lots", wantErr: `max-body="lots"`},
		{spec: "My_App,url=http://127.0.0.1:8080,path=/metrics", wantErr: "authz-prefix=/My_App: expected empty or /NAME[/NAME...] of lower-case DNS labels"},
		{spec: "etcd,authz-prefix=etcd", wantErr: "authz-prefix=etcd: expected empty or /NAME"},
		{spec: "etcd,authz-prefix=/", wantErr: "authz-prefix=/: expected empty or /NAME"},
		{spec: "etcd,authz-prefix=/etcd/", wantErr: "authz-prefix=/etcd/: expected empty or /NAME"},
		{spec: "etcd,authz-prefix=/a//etcd", wantErr: "authz-prefix=/a//etcd: expected empty or /NAME"},
		{spec: "etcd,authz-prefix=/a/../etcd", wantErr: "authz-prefix=/a/../etcd: expected empty or /NAME"},
		{spec: "etcd,authz-prefix=/etcd*", wantErr: "authz-prefix=/etcd*: expected empty or /NAME"},
		{spec: "etcd,authz-prefix=/etcd%2F", wantErr: "authz-prefix=/etcd%2F: expected empty or /NAME"},
		// Grants made for kube-apiserver or the diagnostics endpoints would open these.
		{spec: "etcd,authz-prefix=/metrics", wantErr: "authz-prefix=/metrics: /metrics/ is kube-apiserver's or the diagnostics endpoint's"},
		{spec: "etcd,authz-prefix=/apis/etcd", wantErr: "authz-prefix=/apis/etcd: /apis/ is kube-apiserver's"},
		{spec: "debug,url=http://127.0.0.1:8080,path=/pprof/heap", wantErr: "authz-prefix=/debug: /debug/ is kube-apiserver's"},
		{spec: "healthz,url=http://127.0.0.1:8080,path=/metrics", wantErr: "authz-prefix=/healthz: /healthz/ is"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			u, err := ParseUpstream(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []any{u.URL.String(), u.Listen, u.TokenFile, u.AuthzPrefix, u.Paths, u.InsecureSkipVerify, u.Timeout, u.MaxBodyBytes}
			want := []any{tt.url, tt.listen, tt.tokenFile, tt.authz, tt.paths, tt.insecure, tt.timeout, tt.maxBody}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestAuthorizedPaths(t *testing.T) {
	for spec, want := range map[string][]string{
		"kube-scheduler":                        {"/kube-scheduler/metrics", "/kube-scheduler/metrics/resources", "/kube-scheduler/metrics/slis"},
		"etcd,authz-prefix=/control-plane/etcd": {"/control-plane/etcd/metrics"},
		"etcd,authz-prefix=":                    {"/metrics"},
	} {
		u, err := ParseUpstream(spec)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, u.AuthorizedPaths()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", spec, diff)
		}
	}
}

// A parsed upstream must not share its paths with the preset: appending to one would change the other.
func TestParseUpstreamCopiesPresetPaths(t *testing.T) {
	u, err := ParseUpstream("kube-scheduler")
	if err != nil {
		t.Fatal(err)
	}
	u.Paths[0] = "/changed"
	if Presets["kube-scheduler"].Paths[0] != "/metrics" {
		t.Fatal("changing a parsed upstream changed the preset")
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		wantErr []string
	}{
		{name: "presets on the node IP", o: Options{BindAddress: "10.0.0.1", UpstreamSpecs: []string{"kube-proxy", "etcd", "kube-scheduler"}}},
		{name: "listen given, no bind address", o: Options{UpstreamSpecs: []string{"etcd,listen=127.0.0.2:2381"}}},
		{name: "no upstream", o: Options{BindAddress: "10.0.0.1"}, wantErr: []string{"--upstream: expected at least one upstream"}},
		{name: "no address", o: Options{UpstreamSpecs: []string{"etcd"}}, wantErr: []string{"upstream etcd has no listen= and --bind-address is empty"}},
		{name: "twice", o: Options{BindAddress: "10.0.0.1", UpstreamSpecs: []string{"etcd", "etcd,listen=10.0.0.1:1"}},
			wantErr: []string{"upstream etcd is given twice"}},
		{name: "same port", o: Options{BindAddress: "10.0.0.1", UpstreamSpecs: []string{"etcd", "app,url=http://127.0.0.1:2381,path=/metrics"}},
			wantErr: []string{"upstreams etcd and app both listen on 10.0.0.1:2381"}},
		{name: "bind address with port", o: Options{BindAddress: "10.0.0.1:80", UpstreamSpecs: []string{"etcd,listen=:1"}},
			wantErr: []string{"--bind-address: expected a host or IP without port"}},
		{name: "every error at once", o: Options{BindAddress: "10.0.0.1", UpstreamSpecs: []string{"etcd,colour=x", "nope"}},
			wantErr: []string{`unknown key "colour"`, "upstream nope: not a preset"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if len(tt.o.Upstreams) != len(tt.o.UpstreamSpecs) {
					t.Fatalf("parsed %d upstreams from %d specs", len(tt.o.Upstreams), len(tt.o.UpstreamSpecs))
				}
				return
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("got %v, want an error containing %q", err, w)
				}
			}
		})
	}
}
