// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/diagkit/diagkit/e2e/framework"
)

// TestMetricsProxy runs diagkit-proxy in front of a real kube-controller-manager, kube-scheduler and etcd
// metrics listener, and a plain-HTTP metrics server in kube-proxy's place, all on 127.0.0.1 as kubeadm
// binds them; the proxy listens on 127.0.0.2 at the same ports, as it would on the node IP. The proxy and
// the scraper run as the ServiceAccounts of the node-metrics-proxy component, created from its rendered
// output, so the component's RBAC is what is tested. Each upstream is authorized under its own prefix
// (/kube-scheduler/metrics): grants of one component, and kube-apiserver's /metrics, are tried on all of them.
func TestMetricsProxy(t *testing.T) {
	ctx := t.Context()
	cp := controlPlane
	dir := t.TempDir()

	// The component, as an operator applies it.
	objs := applyFixture(t, cp, "node-metrics-proxy")
	proxySA, scraperSA := serviceAccountNamed(t, objs, "node-metrics-proxy"), serviceAccountNamed(t, objs, "node-metrics-scraper")
	proxyKubeconfig := filepath.Join(dir, "proxy.kubeconfig")
	if err := cp.ServiceAccountKubeconfig(ctx, proxySA.Namespace, proxySA.ServiceAccount, proxyKubeconfig); err != nil {
		t.Fatal(err)
	}
	proxyToken, err := cp.ServiceAccountToken(ctx, proxySA.Namespace, proxySA.ServiceAccount)
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := writeFile(t, dir, "proxy.token", proxyToken)
	reader, err := cp.ServiceAccountToken(ctx, scraperSA.Namespace, scraperSA.ServiceAccount)
	if err != nil {
		t.Fatal(err)
	}
	unprivileged, err := cp.ServiceAccountToken(ctx, namespace, "proxy-unprivileged")
	if err != nil {
		t.Fatal(err)
	}
	// Grants as operators write them: every path of one component, and kube-apiserver's metrics.
	schedulerOnly := caller(t, cp, "proxy-scheduler-reader", framework.Rule{NonResourceURLs: []string{"/kube-scheduler/*"}, Verbs: []string{"get"}})
	apiserverMetrics := caller(t, cp, "proxy-apiserver-metrics-reader", framework.Rule{NonResourceURLs: []string{"/metrics", "/metrics/slis"}, Verbs: []string{"get"}})

	// The upstreams.
	admin := filepath.Join(dir, "admin.kubeconfig")
	if err := cp.AdminKubeconfig(admin); err != nil {
		t.Fatal(err)
	}
	ca, err := framework.NewCA("metrics-proxy-e2e")
	if err != nil {
		t.Fatal(err)
	}
	caFile := writeFile(t, dir, "ca.crt", string(ca.PEM))
	certPEM, keyPEM, err := ca.ServingCertificate("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	kcmAddr := startComponent(t, "kube-controller-manager", func(addr string) []string {
		_, port, _ := net.SplitHostPort(addr)
		return append(componentArgs(admin, caFile, port),
			"--controllers=root-ca-certificate-publisher-controller,ephemeral-volume-controller,taint-eviction-controller",
			// A CA-signed certificate here, verified by the proxy; the scheduler keeps its self-signed one.
			"--tls-cert-file="+writeFile(t, dir, "kcm.crt", string(certPEM)),
			"--tls-private-key-file="+writeFile(t, dir, "kcm.key", string(keyPEM)))
	})
	schedulerAddr := startComponent(t, "kube-scheduler", func(addr string) []string {
		_, port, _ := net.SplitHostPort(addr)
		return componentArgs(admin, caFile, port)
	})
	etcdMetricsAddr := startEtcd(t, dir)
	kubeProxy := startPlainMetrics(t)

	// The proxy, on 127.0.0.2 at each upstream's port.
	proxyBin, err := framework.BuildPackage(ctx, dir, "./cmd/diagkit-proxy")
	if err != nil {
		t.Fatal(err)
	}
	at := func(addr string) string { _, port, _ := net.SplitHostPort(addr); return "127.0.0.2:" + port }
	withoutCredentials, err := framework.FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	byPath, err := framework.FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := framework.StartProcess(proxyBin, nil, at(kcmAddr), "--kubeconfig="+proxyKubeconfig, "--bind-address=127.0.0.2", "--zap-log-level=5",
		"--upstream=kube-controller-manager,url=https://"+kcmAddr+",insecure-skip-verify=false,ca-file="+caFile+",token-file="+tokenFile,
		"--upstream=kube-scheduler,url=https://"+schedulerAddr+",token-file="+tokenFile,
		"--upstream=etcd,url=http://"+etcdMetricsAddr,
		"--upstream=kube-proxy,url=http://"+kubeProxy.addr,
		// kube-controller-manager once more, without the proxy's token: it must refuse, which shows that
		// the caller's token is not what reached it through the first upstream. Authorized as
		// kube-controller-manager, so the scraper's grant applies.
		"--upstream=kcm-without-credentials,url=https://"+kcmAddr+",path=/metrics,ca-file="+caFile+",listen="+withoutCredentials+
			",authz-prefix=/kube-controller-manager",
		// etcd once more, authorized by the path alone, as before authz-prefix existed.
		"--upstream=etcd-by-path,url=http://"+etcdMetricsAddr+",path=/metrics,authz-prefix=,listen="+byPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Stop() })
	for _, a := range []string{at(schedulerAddr), at(etcdMetricsAddr), at(kubeProxy.addr), withoutCredentials, byPath} {
		if err := framework.WaitForListener(a, 10*time.Second); err != nil {
			t.Fatalf("%v\n%s", err, proxy.Logs())
		}
	}

	client := framework.Client(tls.VersionTLS12, 0)
	call := func(t *testing.T, method, url, token string) framework.Response {
		t.Helper()
		resp, err := framework.Call(ctx, client, method, url, token, "")
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, up := range []struct {
		name, addr string
		metrics    []string
	}{
		{"kube-controller-manager", at(kcmAddr), []string{"ephemeral_volume_controller_create_total", "taint_eviction_controller_pod_deletions_total"}},
		{"kube-scheduler", at(schedulerAddr), []string{"scheduler_pending_pods", "scheduler_cache_size"}},
		{"etcd", at(etcdMetricsAddr), []string{"etcd_server_has_leader", "etcd_mvcc_db_total_size_in_bytes"}},
		{"kube-proxy", at(kubeProxy.addr), []string{"kubeproxy_sync_proxy_rules_last_timestamp_seconds"}},
	} {
		t.Run(up.name, func(t *testing.T) {
			url := "https://" + up.addr
			for _, c := range []struct {
				name, method, path, token string
				want                      int
			}{
				{"anonymous is refused", http.MethodGet, "/metrics", "", http.StatusUnauthorized},
				{"a token the API server rejects is refused", http.MethodGet, "/metrics", "garbage", http.StatusUnauthorized},
				{"an unprivileged ServiceAccount is forbidden", http.MethodGet, "/metrics", unprivileged, http.StatusForbidden},
				{"other paths are 404", http.MethodGet, "/configz", reader, http.StatusNotFound},
				{"pprof is 404", http.MethodGet, "/debug/pprof/", reader, http.StatusNotFound},
				{"dot segments are 404", http.MethodGet, "/metrics/../configz", reader, http.StatusNotFound},
				{"other methods are 405", http.MethodPut, "/metrics", reader, http.StatusMethodNotAllowed},
			} {
				t.Run(c.name, func(t *testing.T) {
					if got := call(t, c.method, url+c.path, c.token); got.Status != c.want {
						t.Errorf("%s %s: %d, want %d: %s", c.method, c.path, got.Status, c.want, got.Body)
					}
				})
			}
			t.Run("the scraper reads the component's own metrics", func(t *testing.T) {
				// Some controller metrics appear a moment after the listener does.
				deadline := time.Now().Add(30 * time.Second)
				for {
					got := call(t, http.MethodGet, url+"/metrics", reader)
					missing := ""
					for _, m := range up.metrics {
						if !strings.Contains(got.Body, "\n"+m) {
							missing = m
						}
					}
					if got.Status == http.StatusOK && missing == "" {
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("status %d, metric %q missing; body starts %.300q", got.Status, missing, got.Body)
					}
					time.Sleep(200 * time.Millisecond)
				}
			})
		})
	}

	t.Run("a path that decodes or cleans to a served one is 404", func(t *testing.T) {
		for _, path := range []string{"/metrics%2Fslis", "/metrics%2fslis", "/metrics/slis/..", "/metrics/slis/%2e%2e",
			"/metrics/./slis", "/./metrics", "/metrics/.", "//metrics", "/metrics//slis", "/metric%73"} {
			if got := call(t, http.MethodGet, "https://"+at(schedulerAddr)+path, reader); got.Status != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404: %.200s", path, got.Status, got.Body)
			}
		}
	})

	// expect checks a scrape's status and, for a refusal, that it names the path to grant.
	expect := func(t *testing.T, addr, path, token string, want int, named string) {
		t.Helper()
		got := call(t, http.MethodGet, "https://"+addr+path, token)
		switch {
		case got.Status != want:
			t.Errorf("GET %s on %s: %d, want %d: %.200q", path, addr, got.Status, want, got.Body)
		case want == http.StatusForbidden && !strings.Contains(got.Body, "may not get "+named+"\n"):
			t.Errorf("GET %s on %s: refusal %.200q does not name %s", path, addr, got.Body, named)
		}
	}
	t.Run("a grant of one component's paths opens that component and no other", func(t *testing.T) {
		expect(t, at(schedulerAddr), "/metrics", schedulerOnly, http.StatusOK, "")
		expect(t, at(schedulerAddr), "/metrics/slis", schedulerOnly, http.StatusOK, "")
		expect(t, at(kcmAddr), "/metrics", schedulerOnly, http.StatusForbidden, "/kube-controller-manager/metrics")
		expect(t, at(etcdMetricsAddr), "/metrics", schedulerOnly, http.StatusForbidden, "/etcd/metrics")
		expect(t, at(kubeProxy.addr), "/metrics", schedulerOnly, http.StatusForbidden, "/kube-proxy/metrics")
		expect(t, byPath, "/metrics", schedulerOnly, http.StatusForbidden, "/metrics")
	})
	t.Run("a /metrics grant opens no component, only an upstream with an empty authz-prefix", func(t *testing.T) {
		expect(t, at(kcmAddr), "/metrics", apiserverMetrics, http.StatusForbidden, "/kube-controller-manager/metrics")
		expect(t, at(kcmAddr), "/metrics/slis", apiserverMetrics, http.StatusForbidden, "/kube-controller-manager/metrics/slis")
		expect(t, at(schedulerAddr), "/metrics", apiserverMetrics, http.StatusForbidden, "/kube-scheduler/metrics")
		expect(t, at(etcdMetricsAddr), "/metrics", apiserverMetrics, http.StatusForbidden, "/etcd/metrics")
		expect(t, at(kubeProxy.addr), "/metrics", apiserverMetrics, http.StatusForbidden, "/kube-proxy/metrics")
		expect(t, withoutCredentials, "/metrics", apiserverMetrics, http.StatusForbidden, "/kube-controller-manager/metrics")
		expect(t, byPath, "/metrics", apiserverMetrics, http.StatusOK, "")
		if got := call(t, http.MethodGet, "https://"+byPath+"/metrics", apiserverMetrics); !strings.Contains(got.Body, "\netcd_server_has_leader") {
			t.Errorf("the upstream authorized by path alone did not serve etcd's metrics: %.200q", got.Body)
		}
	})

	t.Run("refused requests never reach the upstream", func(t *testing.T) {
		before := kubeProxy.count()
		for _, path := range []string{"/configz", "/metrics/", "/proxyMode", "/debug/flags/v", "/metrics%2F", "/metric%73", "/./metrics", "/metrics/.", "//metrics"} {
			call(t, http.MethodGet, "https://"+at(kubeProxy.addr)+path, reader)
		}
		call(t, http.MethodGet, "https://"+at(kubeProxy.addr)+"/metrics", "")
		call(t, http.MethodGet, "https://"+at(kubeProxy.addr)+"/metrics", unprivileged)
		call(t, http.MethodGet, "https://"+at(kubeProxy.addr)+"/metrics", apiserverMetrics)
		if n := kubeProxy.count() - before; n != 0 {
			t.Errorf("%d refused requests reached kube-proxy's listener", n)
		}
	})
	t.Run("the caller's token is not forwarded to an upstream that does not authenticate", func(t *testing.T) {
		call(t, http.MethodGet, "https://"+at(kubeProxy.addr)+"/metrics?x=1", reader)
		h, uri := kubeProxy.last()
		if v := h.Get("Authorization"); v != "" {
			t.Errorf("kube-proxy's listener got Authorization %.20q…", v)
		}
		if uri != "/metrics" {
			t.Errorf("kube-proxy's listener got %s, want /metrics without the query", uri)
		}
	})
	t.Run("an upstream that authenticates gets the proxy's token, not the caller's", func(t *testing.T) {
		// The reader may get /metrics; had its token been forwarded, kube-controller-manager would answer 200.
		got := call(t, http.MethodGet, "https://"+withoutCredentials+"/metrics", reader)
		if got.Status != http.StatusForbidden || !strings.Contains(got.Body, "system:anonymous") {
			t.Errorf("without the proxy's token: %d %.200q, want kube-controller-manager's 403 for system:anonymous", got.Status, got.Body)
		}
	})
	t.Run("the proxy serves TLS 1.2 or newer with a certificate for its address", func(t *testing.T) {
		conn, err := tls.Dial("tcp", at(etcdMetricsAddr), &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}) //nolint:gosec // probing the server
		if err == nil {
			conn.Close()
			t.Error("a TLS 1.1 handshake succeeded")
		}
		conn, err = tls.Dial("tcp", at(etcdMetricsAddr), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // inspecting the certificate
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.ConnectionState().PeerCertificates[0].VerifyHostname("127.0.0.2"); err != nil {
			t.Errorf("self-signed certificate: %v", err)
		}
	})
	t.Run("an upstream that is down is a fast 502", func(t *testing.T) {
		kubeProxy.stop()
		start := time.Now()
		got := call(t, http.MethodGet, "https://"+at(kubeProxy.addr)+"/metrics", reader)
		if got.Status != http.StatusBadGateway {
			t.Errorf("status %d, want 502", got.Status)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("502 after %v, want under a second", d)
		}
	})
	t.Run("no token reaches the proxy's log", func(t *testing.T) {
		// The log reaches the test through a pipe: wait for the last line expected, the failed request above.
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(proxy.Logs(), "upstream request failed") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		logs := proxy.Logs()
		if !strings.Contains(logs, "upstream request failed") {
			t.Errorf("the failed upstream request was not logged:\n%s", logs)
		}
		for name, tok := range map[string]string{"reader": reader, "unprivileged": unprivileged, "proxy": proxyToken,
			"scheduler reader": schedulerOnly, "apiserver metrics reader": apiserverMetrics} {
			if strings.Contains(logs, tok) || strings.Contains(logs, tok[len(tok)-20:]) {
				t.Errorf("the %s token is in the proxy's log", name)
			}
		}
	})
}

// serviceAccountNamed finds the rendered ServiceAccount whose name ends in suffix.
func serviceAccountNamed(t *testing.T, objs []*unstructured.Unstructured, suffix string) framework.Subject {
	t.Helper()
	s, ok := serviceAccountEndingIn(objs, suffix)
	if !ok {
		t.Fatalf("no ServiceAccount named *%s in the rendered component", suffix)
	}
	return s
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// componentArgs are kubeadm's flags for kube-controller-manager and kube-scheduler: delegated authentication
// and authorization against the API server, bound to loopback. The request-header CA only quiets a
// reload loop (envtest publishes no request-header CA); front-proxy headers are not used.
func componentArgs(kubeconfig, caFile, port string) []string {
	return []string{
		"--kubeconfig=" + kubeconfig, "--authentication-kubeconfig=" + kubeconfig, "--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port=" + port, "--leader-elect=false", "--requestheader-client-ca-file=" + caFile,
	}
}

// startComponent runs a binary from KUBEBUILDER_ASSETS on a free loopback address and stops it with the test.
func startComponent(t *testing.T, name string, args func(addr string) []string) string {
	t.Helper()
	bin, err := framework.KubeBinary(name)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := framework.FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	p, err := framework.StartProcess(bin, nil, addr, args(addr)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	return addr
}

// startEtcd runs a second, real etcd whose metrics listener is plain HTTP, as kubeadm configures it
// (--listen-metrics-urls=http://127.0.0.1:2381), and returns that listener's address.
func startEtcd(t *testing.T, dir string) string {
	t.Helper()
	var addrs [3]string
	for i := range addrs {
		a, err := framework.FreeAddress()
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = a
	}
	client, peer, metrics := addrs[0], addrs[1], addrs[2]
	bin, err := framework.KubeBinary("etcd")
	if err != nil {
		t.Fatal(err)
	}
	p, err := framework.StartProcess(bin, nil, metrics, "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls=http://"+client, "--advertise-client-urls=http://"+client,
		"--listen-peer-urls=http://"+peer, "--listen-metrics-urls=http://"+metrics, "--unsafe-no-fsync")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	return metrics
}

// plainMetrics is a plain-HTTP metrics listener in kube-proxy's place (kube-proxy itself needs root and
// iptables): no authentication, kube-proxy's metric names, and a record of what reached it.
type plainMetrics struct {
	addr string
	srv  *http.Server

	mu      sync.Mutex
	n       int
	header  http.Header
	uri     string
	stopped bool
}

func startPlainMetrics(t *testing.T) *plainMetrics {
	t.Helper()
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "kubeproxy_sync_proxy_rules_last_timestamp_seconds", Help: "The last time proxy rules were synced."})
	g.SetToCurrentTime()
	reg.MustRegister(g)
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &plainMetrics{addr: ln.Addr().String()}
	p.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.n, p.header, p.uri = p.n+1, r.Header.Clone(), r.URL.RequestURI()
		p.mu.Unlock()
		if r.URL.Path != "/metrics" {
			http.Error(w, "kube-proxy would serve this", http.StatusOK)
			return
		}
		metrics.ServeHTTP(w, r)
	})}
	go func() { _ = p.srv.Serve(ln) }()
	t.Cleanup(p.stop)
	return p
}

func (p *plainMetrics) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func (p *plainMetrics) last() (http.Header, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.header, p.uri
}

func (p *plainMetrics) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		p.stopped = true
		_ = p.srv.Close()
	}
}
