// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/diagkit/diagkit/e2e/framework"
	"github.com/diagkit/diagkit/probe"
)

// TestProbe runs diagkit probe against endpoints whose verdict is known: the sample manager in secure mode,
// in insecure mode and serving an expired certificate, and the real kube-controller-manager and
// kube-scheduler. After every probe nothing it created may be left in the cluster.
func TestProbe(t *testing.T) {
	cp := controlPlane
	dir := t.TempDir()
	ca, err := framework.NewCA("probe-e2e")
	if err != nil {
		t.Fatal(err)
	}
	caFile := writeFile(t, dir, "ca.crt", string(ca.PEM))

	type want struct {
		secure bool
		// results that must be present: check (and path/caller for caller checks) → status and a detail substring.
		results []probe.Result
	}
	callersPass := func(paths ...string) []probe.Result {
		var rs []probe.Result
		for _, p := range paths {
			rs = append(rs,
				probe.Result{Check: "caller", Path: p, Caller: probe.Anonymous, Status: probe.Pass},
				probe.Result{Check: "caller", Path: p, Caller: probe.Unprivileged, Status: probe.Pass, Code: 403},
				probe.Result{Check: "caller", Path: p, Caller: probe.Reader, Status: probe.Pass, Code: 200})
		}
		return rs
	}

	t.Run("secure sample manager", func(t *testing.T) {
		_, addr := startManager(t, cp, "probe-secure")
		report := runProbe(t, probe.Options{Target: "https://" + addr})
		check(t, report, want{secure: true, results: append(callersPass("/metrics", "/debug/pprof/"),
			probe.Result{Check: "tls-version", Status: probe.Pass},
			probe.Result{Check: "tls-legacy", Status: probe.Pass},
			probe.Result{Check: "certificate-expiry", Status: probe.Pass},
			probe.Result{Check: "certificate-issuer", Status: probe.Warn, Detail: "self-signed"},
		)})
	})

	t.Run("insecure sample manager", func(t *testing.T) {
		_, addr := startManager(t, cp, "probe-insecure", "--insecure-diagnostics")
		report := runProbe(t, probe.Options{Target: "http://" + addr})
		check(t, report, want{secure: false, results: []probe.Result{
			{Check: "tls-version", Status: probe.Fail, Detail: "plain HTTP"},
			{Check: "caller", Path: "/metrics", Caller: probe.Anonymous, Status: probe.Fail, Code: 200, Detail: "served without any credentials"},
			{Check: "caller", Path: "/metrics", Caller: probe.Unprivileged, Status: probe.Fail, Code: 200, Detail: "no RBAC rule allows"},
			{Check: "caller", Path: "/debug/pprof/", Caller: probe.Anonymous, Status: probe.Info, Code: 404, Detail: "not served"},
		}})
	})

	t.Run("sample manager with an expired certificate", func(t *testing.T) {
		certDir := t.TempDir()
		certPEM, keyPEM, err := ca.ServingCertificateValid(time.Now().Add(-50*time.Minute), time.Now().Add(-10*time.Minute), "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, certDir, "tls.crt", string(certPEM))
		writeFile(t, certDir, "tls.key", string(keyPEM))
		_, addr := startManager(t, cp, "probe-expired", "--diagnostics-cert-dir="+certDir)
		report := runProbe(t, probe.Options{Target: "https://" + addr, CAFile: caFile})
		check(t, report, want{secure: false, results: append(callersPass("/metrics"),
			probe.Result{Check: "certificate-expiry", Status: probe.Fail, Detail: "expired"},
			// Judged inside its validity, so the expiry is reported once and the issuer still checked.
			probe.Result{Check: "certificate-issuer", Status: probe.Pass, Detail: "verified against " + caFile},
			probe.Result{Check: "certificate-name", Status: probe.Pass, Detail: "valid for 127.0.0.1"},
		)})
	})

	admin := filepath.Join(dir, "admin.kubeconfig")
	if err := cp.AdminKubeconfig(admin); err != nil {
		t.Fatal(err)
	}
	t.Run("kube-controller-manager", func(t *testing.T) {
		certPEM, keyPEM, err := ca.ServingCertificate("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		addr := startComponent(t, "kube-controller-manager", func(addr string) []string {
			_, port, _ := net.SplitHostPort(addr)
			return append(componentArgs(admin, caFile, port), "--controllers=ephemeral-volume-controller",
				"--tls-cert-file="+writeFile(t, dir, "kcm.crt", string(certPEM)), "--tls-private-key-file="+writeFile(t, dir, "kcm.key", string(keyPEM)))
		})
		report := runProbe(t, probe.Options{Target: "https://" + addr, CAFile: caFile})
		check(t, report, want{secure: true, results: append(callersPass("/metrics", "/debug/pprof/"),
			probe.Result{Check: "caller", Path: "/metrics", Caller: probe.Anonymous, Status: probe.Pass, Code: 403, Detail: "system:anonymous"},
			probe.Result{Check: "certificate-issuer", Status: probe.Pass, Detail: "verified"},
			probe.Result{Check: "certificate-name", Status: probe.Pass},
		)})
	})
	t.Run("kube-scheduler", func(t *testing.T) {
		addr := startComponent(t, "kube-scheduler", func(addr string) []string {
			_, port, _ := net.SplitHostPort(addr)
			return componentArgs(admin, caFile, port)
		})
		report := runProbe(t, probe.Options{Target: "https://" + addr})
		check(t, report, want{secure: true, results: append(callersPass("/metrics", "/debug/pprof/"),
			probe.Result{Check: "certificate-issuer", Status: probe.Warn},
		)})
	})

	t.Run("kubelet preset", func(t *testing.T) {
		addr := startKubeletStandIn(t, cp, "probe-node")
		closed, err := framework.FreeAddress()
		if err != nil {
			t.Fatal(err)
		}
		_, closedPort, _ := net.SplitHostPort(closed)
		port, _ := strconv.Atoi(closedPort)
		o := probe.Options{Kubelet: "probe-node", KubeletAddress: addr, KubeletReadOnlyPort: port}
		report := runProbe(t, o)
		check(t, report, want{secure: true, results: append(callersPass(probe.KubeletPaths...),
			probe.Result{Check: "read-only-port", Status: probe.Pass, Detail: "closed"})})

		// The same kubelet with its read-only port open.
		ln, err := net.Listen("tcp", closed)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		report = runProbe(t, o)
		check(t, report, want{secure: false, results: []probe.Result{{Check: "read-only-port", Status: probe.Fail, Detail: "open"}}})
	})

	t.Run("an interrupted probe still cleans up", func(t *testing.T) {
		// An endpoint that accepts connections and never answers: the probe hangs in its TLS handshake.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(2*time.Second, cancel)
		start := time.Now()
		report, err := probe.Run(ctx, cp.Config, probe.Options{Target: "https://" + ln.Addr().String(), Output: "table", Timeout: 30 * time.Second})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("the interrupted probe took %v to return", d)
		}
		if report == nil || len(report.CleanedUp) != 5 {
			t.Errorf("report %+v, want the 5 created objects listed as cleaned up", report)
		}
		assertNothingLeft(t, cp)
	})

	t.Run("the command prints JSON and exits 1 when insecure", func(t *testing.T) {
		_, addr := startManager(t, cp, "probe-cli")
		bin, err := framework.BuildPackage(t.Context(), dir, "./cmd/diagkit")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			url      string
			wantExit int
		}{{"https://" + addr, 0}, {"http://" + addr, 1}} {
			cmd := exec.CommandContext(t.Context(), bin, "probe", "--kubeconfig", admin, "-o", "json", tc.url)
			out, err := cmd.Output()
			exit := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				exit = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Secure    bool           `json:"secure"`
				Results   []probe.Result `json:"results"`
				CleanedUp []string       `json:"cleanedUp"`
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%s: %v\n%s", tc.url, err, out)
			}
			if exit != tc.wantExit || got.Secure != (tc.wantExit == 0) || len(got.Results) == 0 || len(got.CleanedUp) != 5 {
				t.Errorf("%s: exit %d secure %v, %d results, %d cleaned up; want exit %d", tc.url, exit, got.Secure, len(got.Results), len(got.CleanedUp), tc.wantExit)
			}
		}
		assertNothingLeft(t, cp)
	})
}

// startKubeletStandIn serves /metrics, /metrics/cadvisor and /stats/summary over HTTPS with the kubelet's
// authorization (pkg/kubelet/server/auth.go): a TokenReview, then a SubjectAccessReview of get on
// nodes/metrics or nodes/stats for the node, both by the real API server. The kubelet itself needs root
// and a container runtime.
func startKubeletStandIn(t *testing.T, cp *framework.ControlPlane, node string) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		tr, err := cp.Clientset.AuthenticationV1().TokenReviews().Create(r.Context(), &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
		if err != nil || !tr.Status.Authenticated {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		sub := "proxy"
		switch {
		case strings.HasPrefix(r.URL.Path, "/stats"):
			sub = "stats"
		case strings.HasPrefix(r.URL.Path, "/metrics"):
			sub = "metrics"
		}
		sar, err := cp.Clientset.AuthorizationV1().SubjectAccessReviews().Create(r.Context(), &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: tr.Status.User.Username, Groups: tr.Status.User.Groups, UID: tr.Status.User.UID,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "nodes", Subresource: sub, Name: node},
		}}, metav1.CreateOptions{})
		if err != nil || !sar.Status.Allowed {
			http.Error(w, "Forbidden", http.StatusForbidden)
			return
		}
		_, _ = io.WriteString(w, "kubelet_running_pods 0\n")
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// runProbe probes as the control plane's admin and checks that nothing is left behind.
func runProbe(t *testing.T, o probe.Options) *probe.Report {
	t.Helper()
	o.Output, o.Timeout = "table", 10*time.Second
	report, err := probe.Run(t.Context(), controlPlane.Config, o)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = report.WriteTable(&b)
	t.Logf("\n%s", b.String())
	if len(report.CleanedUp) != 5 {
		t.Errorf("cleaned up %v, want the namespace, two ServiceAccounts, the ClusterRole and its binding", report.CleanedUp)
	}
	assertNothingLeft(t, controlPlane)
	return report
}

// check compares a report with what it must contain.
func check(t *testing.T, r *probe.Report, w struct {
	secure  bool
	results []probe.Result
}) {
	t.Helper()
	if r.Secure() != w.secure {
		t.Errorf("secure = %v, want %v", r.Secure(), w.secure)
	}
	for _, want := range w.results {
		found := false
		for _, got := range r.Results {
			if got.Check != want.Check || got.Path != want.Path || got.Caller != want.Caller {
				continue
			}
			found = true
			if got.Status != want.Status || (want.Code != 0 && got.Code != want.Code) || !strings.Contains(got.Detail, want.Detail) {
				t.Errorf("%s %s %s: %s %d %q; want %s %d containing %q", want.Check, want.Path, want.Caller, got.Status, got.Code, got.Detail, want.Status, want.Code, want.Detail)
			}
		}
		if !found {
			t.Errorf("no result for %s %s %s", want.Check, want.Path, want.Caller)
		}
	}
}

// assertNothingLeft lists what probes may have created. envtest runs no namespace controller, so a
// deleted namespace stays Terminating: it counts as deleted when its deletion has begun.
func assertNothingLeft(t *testing.T, cp *framework.ControlPlane) {
	t.Helper()
	ctx := t.Context()
	sel := metav1.ListOptions{LabelSelector: probe.ManagedByLabel + "=" + probe.ManagedBy}
	crs, err := cp.Clientset.RbacV1().ClusterRoles().List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	crbs, err := cp.Clientset.RbacV1().ClusterRoleBindings().List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	sas, err := cp.Clientset.CoreV1().ServiceAccounts("").List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(crs.Items) + len(crbs.Items) + len(sas.Items); n != 0 {
		t.Errorf("left behind: %d ClusterRoles, %d ClusterRoleBindings, %d ServiceAccounts", len(crs.Items), len(crbs.Items), len(sas.Items))
	}
	nss, err := cp.Clientset.CoreV1().Namespaces().List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range nss.Items {
		if ns.DeletionTimestamp == nil {
			t.Errorf("namespace %s left behind", ns.Name)
		}
	}
}
