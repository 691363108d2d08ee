// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/diagkit/diagkit/e2e/framework"
)

// reviewDelta counts, at the API server, the reviews sent while fn runs.
func reviewDelta(t *testing.T, cp *framework.ControlPlane, fn func()) (tokenReviews, subjectAccessReviews int) {
	t.Helper()
	tr0, sar0, err := cp.ReviewCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	fn()
	tr1, sar1, err := cp.ReviewCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return tr1 - tr0, sar1 - sar0
}

// TestColdBurstIsCoalesced: 50 concurrent first scrapes with one new token, each on a new connection,
// cost the API server one TokenReview and one SubjectAccessReview (controller-runtime's filter: 1 + 50).
func TestColdBurstIsCoalesced(t *testing.T) {
	cp := controlPlane
	_, addr := startManager(t, cp, "burst-manager")
	token := caller(t, cp, "burst-reader", framework.MetricsReaderRule)
	client := framework.Client(tls.VersionTLS12, 0)

	var ok atomic.Int32
	tr, sar := reviewDelta(t, cp, func() {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				resp, err := framework.Call(t.Context(), client, http.MethodGet, "https://"+addr+"/metrics", token, "")
				if err == nil && resp.Status == http.StatusOK {
					ok.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
	})
	if ok.Load() != 50 {
		t.Errorf("%d of 50 scrapes got 200", ok.Load())
	}
	if tr != 1 || sar != 1 {
		t.Errorf("the burst cost %d TokenReviews and %d SubjectAccessReviews, want 1 and 1", tr, sar)
	}
}

// TestGarbageFloodStaysWithinBudget floods the endpoint with distinct garbage tokens while a scraper with
// a cached token keeps scraping: the TokenReviews sent stay within the review budget, the flood gets only
// 401 or 503, and the scraper only 200.
func TestGarbageFloodStaysWithinBudget(t *testing.T) {
	floodWhileScraping(t, "flood", 3*time.Second, 20*time.Millisecond, 0, 5000)
}

// TestGarbageFloodOutlastingTheCaches: the same flood lasts more than three lifetimes of the scraper's
// cached token and decision (2 s here; the reserve, a quarter of this test's 5/s budget, refreshes both). Each time they expire the scraper is reviewed again — on the
// budget's reserve, which garbage never reaches — so it is never locked out, and revocation still
// takes effect at the cache lifetimes.
func TestGarbageFloodOutlastingTheCaches(t *testing.T) {
	// 8 workers, one request each every 20 ms: about 400/s, 80 times the budget.
	floodWhileScraping(t, "long-flood", 6500*time.Millisecond, 100*time.Millisecond, 20*time.Millisecond, 10000,
		"--diagnostics-token-cache-ttl=2s", "--diagnostics-allow-cache-ttl=2s")
}

// floodWhileScraping runs a manager with a review budget of 5/s (burst 10), floods it with distinct
// garbage tokens from 8 workers for d (each pausing pause between requests, at most max requests in all)
// while one scraper scrapes every interval, and checks the budget, the flood's statuses and that the
// scraper only ever got 200.
func floodWhileScraping(t *testing.T, name string, d, interval, pause time.Duration, max int32, args ...string) {
	cp := controlPlane
	const qps, burst = 5, 10
	args = append(args, fmt.Sprintf("--diagnostics-review-qps=%d", qps), fmt.Sprintf("--diagnostics-review-burst=%d", burst))
	_, addr := startManager(t, cp, name+"-manager", args...)
	url := "https://" + addr + "/metrics"
	token := caller(t, cp, name+"-reader", framework.MetricsReaderRule)
	scraper := framework.Client(tls.VersionTLS12, 0)
	scraper.Transport.(*http.Transport).DisableKeepAlives = false
	if resp, err := framework.Call(t.Context(), scraper, http.MethodGet, url, token, ""); err != nil || resp.Status != http.StatusOK {
		t.Fatalf("warm-up scrape: %v %v", resp.Status, err)
	}

	var mu sync.Mutex
	floodStatus, scraperStatus := map[int]int{}, map[int]int{}
	var elapsed time.Duration
	tr, _ := reviewDelta(t, cp, func() {
		start := time.Now()
		deadline := start.Add(d)
		var next atomic.Int32
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := framework.Client(tls.VersionTLS12, 0)
				client.Transport.(*http.Transport).DisableKeepAlives = false
				for time.Now().Before(deadline) && next.Load() < max {
					garbage := fmt.Sprintf("garbage-%s-%d", name, next.Add(1))
					resp, err := framework.Call(t.Context(), client, http.MethodGet, url, garbage, "")
					mu.Lock()
					if err != nil {
						floodStatus[-1]++
					} else {
						floodStatus[resp.Status]++
					}
					mu.Unlock()
					time.Sleep(pause)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				resp, err := framework.Call(t.Context(), scraper, http.MethodGet, url, token, "")
				mu.Lock()
				if err != nil {
					scraperStatus[-1]++
				} else {
					scraperStatus[resp.Status]++
				}
				mu.Unlock()
				time.Sleep(interval)
			}
		}()
		wg.Wait()
		elapsed = time.Since(start)
		if pause > 0 && next.Load() >= max {
			t.Errorf("the flood ran out of requests before %s", d)
		}
	})
	t.Logf("flood: %v; scraper: %v; %d TokenReviews in %s", floodStatus, scraperStatus, tr, elapsed.Round(time.Millisecond))
	if limit := burst + int(qps*elapsed.Seconds()) + qps; tr > limit {
		t.Errorf("%d TokenReviews, want at most the budget's %d", tr, limit)
	}
	for status := range floodStatus {
		if status != http.StatusUnauthorized && status != http.StatusServiceUnavailable {
			t.Errorf("garbage tokens got status %d (%d times), want only 401 or 503", status, floodStatus[status])
		}
	}
	if floodStatus[http.StatusServiceUnavailable] == 0 {
		t.Error("no request of the flood was refused by the budget: the flood was too small to test it")
	}
	for status, n := range scraperStatus {
		if status != http.StatusOK {
			t.Errorf("the scraper got status %d %d times during the flood", status, n)
		}
	}
}
