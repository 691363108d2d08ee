// SPDX-License-Identifier: Apache-2.0

package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Tool returns the path of a binary `make tools` builds and `make test` names in the environment variable
// env (PROMETHEUS, PROMETHEUS_OPERATOR). A missing tool is an error, never a reason to skip: `make test`
// always builds it.
func Tool(env string) (string, error) {
	bin := os.Getenv(env)
	if bin == "" {
		return "", fmt.Errorf("%s is not set: run `make test`, or eval $(make -s print-test-env)", env)
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%s: %w (run make tools)", env, err)
	}
	return bin, nil
}

// Prometheus is a running Prometheus server and a client of its HTTP API.
type Prometheus struct {
	*Manager
	// URL is the server's base URL, http://127.0.0.1:<port>.
	URL string
}

// StartPrometheus runs the Prometheus binary with args on a free loopback address (any
// --web.listen-address in args is replaced) and returns once it reports ready.
func StartPrometheus(ctx context.Context, bin string, args ...string) (*Prometheus, error) {
	addr, err := FreeAddress()
	if err != nil {
		return nil, err
	}
	var kept []string
	for _, a := range args {
		if !strings.HasPrefix(a, "--web.listen-address") {
			kept = append(kept, a)
		}
	}
	m, err := StartProcess(bin, nil, addr, append(kept, "--web.listen-address="+addr)...)
	if err != nil {
		return nil, err
	}
	p := &Prometheus{Manager: m, URL: "http://" + addr}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			_ = m.Stop()
			return nil, fmt.Errorf("prometheus not ready after 60s:\n%s", m.Logs())
		}
		select {
		case <-ctx.Done():
			_ = m.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Target is one active target of Prometheus' /api/v1/targets.
type Target struct {
	ScrapePool       string            `json:"scrapePool"`
	ScrapeURL        string            `json:"scrapeUrl"`
	Labels           map[string]string `json:"labels"`
	DiscoveredLabels map[string]string `json:"discoveredLabels"`
	Health           string            `json:"health"`
	LastError        string            `json:"lastError"`
}

// Targets returns the active targets by scrape pool (job).
func (p *Prometheus) Targets(ctx context.Context) (map[string][]Target, error) {
	var data struct {
		ActiveTargets []Target `json:"activeTargets"`
	}
	if err := p.Get(ctx, "/api/v1/targets?state=active", &data); err != nil {
		return nil, err
	}
	byPool := map[string][]Target{}
	for _, t := range data.ActiveTargets {
		byPool[t.ScrapePool] = append(byPool[t.ScrapePool], t)
	}
	return byPool, nil
}

// Sample is one series of an instant vector.
type Sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// Float is the sample's value.
func (s Sample) Float() float64 {
	v, _ := s.Value[1].(string)
	var f float64
	_, _ = fmt.Sscan(v, &f)
	return f
}

// Query evaluates a PromQL expression that returns an instant vector, now.
func (p *Prometheus) Query(ctx context.Context, expr string) ([]Sample, error) {
	var data struct {
		ResultType string   `json:"resultType"`
		Result     []Sample `json:"result"`
	}
	if err := p.Get(ctx, "/api/v1/query?query="+url.QueryEscape(expr), &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: result type %s, want vector", expr, data.ResultType)
	}
	return data.Result, nil
}

// Get calls the HTTP API at path and decodes the data of a successful answer into data.
func (p *Prometheus) Get(ctx context.Context, path string, data any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	var answer struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return fmt.Errorf("GET %s: %d %.200s: %w", path, resp.StatusCode, body, err)
	}
	if answer.Status != "success" {
		return fmt.Errorf("GET %s: %s", path, answer.Error)
	}
	return json.Unmarshal(answer.Data, data)
}
