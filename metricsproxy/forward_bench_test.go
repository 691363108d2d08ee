// SPDX-License-Identifier: Apache-2.0

package metricsproxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr"
)

// BenchmarkForward compares a scrape of a kube-controller-manager-sized body (about 200 KB) made directly
// with the same scrape through the proxy's path gate and forwarder (the reviews, cached after the first
// request, are the diagnostics package's and measured by make bench). Run both in one invocation and
// compare: go test ./metricsproxy -run '^$' -bench Forward -benchmem -count 5
func BenchmarkForward(b *testing.B) {
	body := strings.Repeat("workqueue_adds_total{name=\"root_ca_cert_publisher\"} 4\n", 4000)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, body)
	}))
	defer upstream.Close()
	u, err := ParseUpstream("bench,url=" + upstream.URL + ",path=/metrics")
	if err != nil {
		b.Fatal(err)
	}
	fwd, err := newForwarder(&u, logr.Discard())
	if err != nil {
		b.Fatal(err)
	}
	proxy := httptest.NewServer(gate(&u, fwd))
	defer proxy.Close()

	for _, target := range []struct{ name, url string }{{"direct", upstream.URL}, {"proxied", proxy.URL}} {
		b.Run(target.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				resp, err := client.Get(target.url + "/metrics")
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || n != int64(len(body)) {
					b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
				}
			}
		})
	}
}
