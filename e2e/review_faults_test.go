// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/diagkit/diagkit/e2e/framework"
)

// TestReviewFaults puts a fault proxy between the manager and the API server. Whatever the fault (refused,
// hung, reset), a caller the caches cannot vouch for gets 503 with Retry-After within the review timeout,
// far below Prometheus' 10 s scrape timeout (controller-runtime's filter: 500, after up to 45.5 s); a
// cached caller keeps 200; no goroutine is left behind; and once the fault clears, reviews work again.
func TestReviewFaults(t *testing.T) {
	cp := controlPlane
	ctx := t.Context()
	apiURL, err := url.Parse(cp.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := framework.NewFaultProxy(apiURL.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })

	// The manager reaches the API server only through the proxy.
	kubeconfig := filepath.Join(t.TempDir(), "proxied.kubeconfig")
	if err := cp.ManagerKubeconfig(ctx, namespace, "faults-manager", "https://"+proxy.Addr(), kubeconfig); err != nil {
		t.Fatal(err)
	}
	addr, err := framework.FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := framework.StartManager(managerBin, kubeconfig, addr, "--diagnostics-address="+addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = mgr.Stop()
		if t.Failed() {
			t.Logf("last lines of the manager's log:\n%s", tail(mgr.Logs(), 30))
		}
	})
	base := "https://" + addr
	client := framework.Client(tls.VersionTLS12, 0)

	cached := caller(t, cp, "faults-reader", framework.MetricsReaderRule, framework.PprofRule)
	get := func(path, token string) (framework.Response, time.Duration) {
		start := time.Now()
		resp, err := framework.Call(ctx, client, http.MethodGet, base+path, token, "")
		if err != nil {
			t.Fatal(err)
		}
		return resp, time.Since(start)
	}
	goroutines := func() int {
		resp, _ := get("/debug/pprof/goroutine?debug=1", cached)
		m := regexp.MustCompile(`goroutine profile: total (\d+)`).FindStringSubmatch(resp.Body)
		if resp.Status != http.StatusOK || m == nil {
			t.Fatalf("goroutine profile: status %d", resp.Status)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	if resp, _ := get("/metrics", cached); resp.Status != http.StatusOK {
		t.Fatalf("through the proxy, before any fault: status %d", resp.Status)
	}
	before := goroutines()

	for _, fault := range []struct {
		name string
		mode framework.FaultMode
	}{{"refused", framework.Refuse}, {"hung", framework.Hang}, {"reset", framework.Reset}} {
		t.Run("API server "+fault.name, func(t *testing.T) {
			fresh := caller(t, cp, "faults-"+fault.name, framework.MetricsReaderRule)
			proxy.SetMode(fault.mode)
			resp, took := get("/metrics", fresh)
			if resp.Status != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Errorf("uncached caller: status %d Retry-After %q, want 503 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
			}
			if took > 8*time.Second {
				t.Errorf("the refusal took %s, more than the 5s review timeout allows", took.Round(time.Millisecond))
			}
			t.Logf("503 after %s", took.Round(time.Millisecond))
			if resp, _ := get("/metrics", cached); resp.Status != http.StatusOK {
				t.Errorf("cached caller: status %d, want 200", resp.Status)
			}

			proxy.SetMode(framework.Pass)
			deadline := time.Now().Add(20 * time.Second)
			for {
				resp, _ := get("/metrics", fresh)
				if resp.Status == http.StatusOK {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("still %d 20s after the fault cleared", resp.Status)
				}
				time.Sleep(250 * time.Millisecond)
			}
		})
	}

	t.Run("no goroutine is left behind", func(t *testing.T) {
		deadline := time.Now().Add(15 * time.Second)
		for {
			after := goroutines()
			if after <= before+5 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d goroutines after the faults, %d before", after, before)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
}
