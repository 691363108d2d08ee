// SPDX-License-Identifier: Apache-2.0

package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/diagkit/diagkit/diagnostics"
)

// The defaults a long flood is measured against. controller-runtime's filter caches tokens for one minute
// too (k8s.io/apiserver's delegating authenticator, not configurable there), so both setups' valid scraper
// must be reviewed again twice during a flood of three lifetimes.
const (
	tokenCacheTTL = diagnostics.DefaultTokenCacheTTL
	budgetQPS     = diagnostics.DefaultReviewQPS
	budgetBurst   = diagnostics.DefaultReviewBurst
	// The reserve for re-reviewing known-good callers is a quarter of the budget, on top of it.
	reserveQPS   = budgetQPS / 4
	reserveBurst = budgetBurst / 4
	// floodWorkers bounds the flood's requests in flight: enough for 200/s at 300 ms each.
	floodWorkers = 64
	// scrapeTimeout is Prometheus' default: a slower answer is a failed scrape.
	scrapeTimeout = 10 * time.Second
)

// LongFlood is one setup under a flood of distinct garbage tokens, spread evenly over Duration, while one
// valid scraper scrapes at a fixed interval, as Prometheus does.
type LongFlood struct {
	Rate     float64       // garbage requests per second offered
	Duration time.Duration // of the flood
	// Sent garbage requests, and Skipped ones: due while every worker still waited for an answer.
	Sent, Skipped int
	Statuses      map[int]int // the flood's; -1: no answer
	Scrapes       []ScrapeAt  // the valid scraper's, from the flood's start
	Samples       []ReviewSample
}

// ScrapeAt is one scrape of the valid scraper.
type ScrapeAt struct {
	At     time.Duration // since the flood started
	Status int           // -1: no answer within scrapeTimeout
	Took   time.Duration
}

// ReviewSample is what kube-apiserver had served since the flood started, read At into it.
type ReviewSample struct {
	At                                 time.Duration
	TokenReviews, SubjectAccessReviews int
}

// ReviewRate is the reviews per second kube-apiserver served in the Window ending At.
type ReviewRate struct {
	At, Window time.Duration
	PerSecond  float64
}

// Reviews is the total kube-apiserver served during the flood.
func (f LongFlood) Reviews() (tokenReviews, subjectAccessReviews int) {
	if len(f.Samples) == 0 {
		return 0, 0
	}
	last := f.Samples[len(f.Samples)-1]
	return last.TokenReviews, last.SubjectAccessReviews
}

// Rates turns the cumulative samples into reviews (TokenReviews and SubjectAccessReviews) per second for
// each window between two samples. A window under a second (the last read, as the flood ends) is left out:
// its rate would be mostly noise.
func (f LongFlood) Rates() []ReviewRate {
	var out []ReviewRate
	for i := 1; i < len(f.Samples); i++ {
		a, b := f.Samples[i-1], f.Samples[i]
		d := (b.At - a.At).Seconds()
		if d < 1 {
			continue
		}
		n := b.TokenReviews + b.SubjectAccessReviews - a.TokenReviews - a.SubjectAccessReviews
		out = append(out, ReviewRate{At: b.At, Window: b.At - a.At, PerSecond: float64(n) / d})
	}
	return out
}

// Served counts the valid scraper's scrapes answered 200.
func (f LongFlood) Served() int {
	n := 0
	for _, s := range f.Scrapes {
		if s.Status == http.StatusOK {
			n++
		}
	}
	return n
}

// scraperStatuses counts the valid scraper's answers by status.
func (f LongFlood) scraperStatuses() map[int]int {
	out := map[int]int{}
	for _, s := range f.Scrapes {
		out[s.Status]++
	}
	return out
}

// SentRate is the garbage requests per second actually sent.
func (f LongFlood) SentRate() float64 {
	if f.Duration <= 0 {
		return 0
	}
	return float64(f.Sent) / f.Duration.Seconds()
}

// longFlood floods m with distinct garbage tokens at rate for d, one request every 1/rate, while a valid
// scraper (already served once, as a scraper running before the flood would have been) scrapes every
// interval, and kube-apiserver's review counts are read every sample.
func (e *env) longFlood(ctx context.Context, m Mode, token string, rate float64, d, interval, sample time.Duration) (LongFlood, error) {
	scraper := client(false)
	scraper.Timeout = scrapeTimeout
	if _, status, err := scrape(ctx, scraper, e.url(m), token); err != nil || status != http.StatusOK {
		return LongFlood{}, fmt.Errorf("%s: the scraper's scrape before the flood: status %d, %v", m.Name, status, err)
	}
	tr0, sar0, err := e.cp.ReviewCounts(ctx)
	if err != nil {
		return LongFlood{}, err
	}
	f := LongFlood{Rate: rate, Duration: d, Statuses: map[int]int{}, Samples: []ReviewSample{{}}}
	var mu sync.Mutex
	var sampleErr error
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup

	wg.Add(1)
	go func() { // kube-apiserver's counts, every sample until the flood is over, then once more
		defer wg.Done()
		for i := 1; ; i++ {
			select {
			case <-done:
			case <-time.After(time.Until(start.Add(time.Duration(i) * sample))):
			}
			tr, sar, err := e.cp.ReviewCounts(ctx)
			mu.Lock()
			if err != nil && sampleErr == nil {
				sampleErr = err
			}
			f.Samples = append(f.Samples, ReviewSample{At: time.Since(start), TokenReviews: tr - tr0, SubjectAccessReviews: sar - sar0})
			mu.Unlock()
			select {
			case <-done:
				return
			default:
			}
		}
	}()

	var scraping sync.WaitGroup
	scraping.Add(1)
	go func() { // the valid scraper
		defer scraping.Done()
		for at := time.Duration(0); at < d; at += interval {
			time.Sleep(time.Until(start.Add(at)))
			took, status, err := scrape(ctx, scraper, e.url(m), token)
			if err != nil {
				status = -1
			}
			mu.Lock()
			f.Scrapes = append(f.Scrapes, ScrapeAt{At: at, Status: status, Took: took})
			mu.Unlock()
		}
	}()

	// The flood: a dispatcher that keeps to the schedule and workers that may wait on slow answers.
	jobs := make(chan int, floodWorkers)
	var workers sync.WaitGroup
	garbage := client(false)
	garbage.Transport.(*http.Transport).MaxIdleConnsPerHost = floodWorkers
	for w := 0; w < floodWorkers; w++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := range jobs {
				_, status, err := scrape(ctx, garbage, e.url(m), garbageToken(longFloodTokens, m, i))
				if err != nil {
					status = -1
				}
				mu.Lock()
				f.Statuses[status]++
				mu.Unlock()
			}
		}()
	}
	every := time.Duration(float64(time.Second) / rate)
	for i := 0; time.Duration(i)*every < d && ctx.Err() == nil; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
		select {
		case jobs <- i:
			f.Sent++
		default:
			f.Skipped++
		}
	}
	close(jobs)
	workers.Wait()
	scraping.Wait()
	close(done)
	wg.Wait()
	return f, sampleErr
}
