// SPDX-License-Identifier: Apache-2.0

package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/diagkit/diagkit/e2e/framework"
)

// client returns a Prometheus-like HTTP client: HTTP/1.1, gzip requested, keep-alive unless newConn.
func client(newConn bool) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // self-signed serving certificate
		DisableKeepAlives:   newConn,
		DisableCompression:  true, // we ask for gzip ourselves and read the compressed bytes, as Prometheus does
		MaxIdleConnsPerHost: 16,
	}}
}

// scrape sends one GET with an optional bearer token and reads the whole body.
func scrape(ctx context.Context, c *http.Client, url, token string) (time.Duration, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Accept-Encoding", "gzip")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return time.Since(start), resp.StatusCode, err
}

// Latency is one mode's scrape latencies.
type Latency struct {
	P50, P99   time.Duration
	Throughput float64 // sequential scrapes per second
	Failures   int
}

func summarize(d []time.Duration, failures int) Latency {
	if len(d) == 0 {
		return Latency{Failures: failures}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	var total time.Duration
	for _, x := range d {
		total += x
	}
	return Latency{P50: d[len(d)*50/100], P99: d[(len(d)*99)/100], Throughput: float64(len(d)) / total.Seconds(), Failures: failures}
}

// latencies scrapes every mode n times, interleaving the modes request by request so that the machine's
// noise falls on all of them alike, waiting pace between rounds. token(mode, i) gives the token for the
// i-th scrape of an authenticated mode.
func (e *env) latencies(ctx context.Context, modes []Mode, n, warmup int, newConn bool, pace time.Duration, token func(m Mode, i int) string) (map[string]Latency, error) {
	clients := map[string]*http.Client{}
	samples := map[string][]time.Duration{}
	failures := map[string]int{}
	for _, m := range modes {
		clients[m.Name] = client(newConn)
	}
	for i := -warmup; i < n; i++ {
		for _, m := range modes {
			tok := ""
			if m.Authenticated {
				tok = token(m, i)
			}
			d, status, err := scrape(ctx, clients[m.Name], e.url(m), tok)
			if i < 0 {
				continue
			}
			if err != nil || status != http.StatusOK {
				failures[m.Name]++
				continue
			}
			samples[m.Name] = append(samples[m.Name], d)
		}
		time.Sleep(pace)
	}
	out := map[string]Latency{}
	for _, m := range modes {
		out[m.Name] = summarize(samples[m.Name], failures[m.Name])
	}
	return out, nil
}

// Reviews are the reviews the API server served during one experiment.
type Reviews struct {
	TokenReviews, SubjectAccessReviews int
	Requests                           int
	Statuses                           map[int]int
	Took                               time.Duration
}

// countReviews runs fn and counts the reviews kube-apiserver served meanwhile.
func (e *env) countReviews(ctx context.Context, fn func() (int, map[int]int)) (Reviews, error) {
	tr0, sar0, err := e.cp.ReviewCounts(ctx)
	if err != nil {
		return Reviews{}, err
	}
	start := time.Now()
	n, statuses := fn()
	took := time.Since(start)
	tr1, sar1, err := e.cp.ReviewCounts(ctx)
	if err != nil {
		return Reviews{}, err
	}
	return Reviews{TokenReviews: tr1 - tr0, SubjectAccessReviews: sar1 - sar0, Requests: n, Statuses: statuses, Took: took}, nil
}

// steady has each scraper scrape every interval for d, on its own keep-alive connection.
func (e *env) steady(ctx context.Context, m Mode, tokens []string, interval, d time.Duration) (int, map[int]int) {
	var mu sync.Mutex
	statuses := map[int]int{}
	var n atomic.Int32
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for _, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client(false)
			for time.Now().Before(deadline) {
				_, status, err := scrape(ctx, c, e.url(m), tok)
				if err != nil {
					status = -1
				}
				mu.Lock()
				statuses[status]++
				mu.Unlock()
				n.Add(1)
				time.Sleep(interval)
			}
		}()
	}
	wg.Wait()
	return int(n.Load()), statuses
}

// burst sends n concurrent first scrapes with one token, each on a new connection.
func (e *env) burst(ctx context.Context, m Mode, token string, n int) (int, map[int]int) {
	var mu sync.Mutex
	statuses := map[int]int{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, status, err := scrape(ctx, client(true), e.url(m), token)
			if err != nil {
				status = -1
			}
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return n, statuses
}

// flood sends n requests with distinct garbage tokens from 8 workers.
func (e *env) flood(ctx context.Context, m Mode, n int) (int, map[int]int) {
	var mu sync.Mutex
	statuses := map[int]int{}
	var next atomic.Int32
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client(false)
			for {
				i := next.Add(1)
				if int(i) > n {
					return
				}
				_, status, err := scrape(ctx, c, e.url(m), garbageToken(floodTokens, m, int(i)))
				if err != nil {
					status = -1
				}
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return n, statuses
}

// Experiments that send garbage tokens, each with tokens of its own: a token seen before could be
// answered from a negative cache instead of costing a review.
const (
	floodTokens     = "flood"
	longFloodTokens = "long-flood"
)

// garbageToken is the i-th invalid token of an experiment's flood against m. It is made of [a-z0-9-] only:
// the bearer token ends at the first space for k8s.io/apiserver, so a mode name with a space once made
// every request of a flood carry the same token.
func garbageToken(experiment string, m Mode, i int) string {
	return fmt.Sprintf("garbage-%s-%s-%d", experiment, slug(m), i)
}

// Fault is how one setup answered a never-seen token while the API server could not be reached.
type Fault struct {
	Status int // -1: the request itself failed
	Took   time.Duration
}

// fault puts the proxy in mode, sends each setup one scrape with a new token, then heals the proxy and
// waits until each setup serves that token again.
func (e *env) fault(ctx context.Context, mode framework.FaultMode, setups []Mode, tokens map[string]string) map[string]Fault {
	out := map[string]Fault{}
	e.proxy.SetMode(mode)
	for _, m := range setups {
		c := client(false)
		c.Timeout = 90 * time.Second
		d, status, err := scrape(ctx, c, e.url(m), tokens[m.Name])
		if err != nil {
			status = -1
		}
		out[m.Name] = Fault{Status: status, Took: d}
	}
	e.proxy.SetMode(framework.Pass)
	for _, m := range setups {
		deadline := time.Now().Add(90 * time.Second)
		for time.Now().Before(deadline) {
			if _, status, err := scrape(ctx, client(false), e.url(m), tokens[m.Name]); err == nil && status == http.StatusOK {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	return out
}
