// SPDX-License-Identifier: Apache-2.0

package bench

import "fmt"

// mib prints a byte count in MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// writeProxy writes the section on diagkit-proxy run as a process, with kube-rbac-proxy's pilot figures beside it.
func (r *Results) writeProxy(p func(string, ...interface{})) {
	x := r.Proxy
	direct, proxied := x.Latency[HTTPSNoAuth.Name], x.Latency[ThroughProxy.Name]
	p("## diagkit-proxy as a process")
	p("")
	p("`cmd/diagkit-proxy`, built and run as its own process (`--upstream=NAME,url=https://…,listen=…`, default review")
	p("settings, its own ServiceAccount allowed only the two reviews), in front of the sample manager serving HTTPS without")
	p("authentication. It stands in for kube-controller-manager: that one authenticates every scrape itself, so scraping")
	p("it directly costs reviews too and the API server's counts could not be attributed to the proxy. Scrapes alternate,")
	p("request by request, between the manager directly and through the proxy: %d each after %d warm-up, keep-alive, one",
		x.Scrapes-x.Warmup, x.Warmup)
	p("new ServiceAccount token. CPU time and resident set are the proxy process's, from `/proc/<pid>/stat` and `status`;")
	p("reviews are counted at kube-apiserver over every scrape through the proxy, its first (cold) one included.")
	p("")
	p("| | direct HTTPS (no authentication) | through diagkit-proxy | kube-rbac-proxy v0.21.0 (pilot, quoted) |")
	p("| --- | --- | --- | --- |")
	p("| scrape p50 | %s | %s (%.3f × direct) | 1.88 ms vs 1.53 ms direct (1.23 ×) |", ms(direct.P50), ms(proxied.P50), ratio(proxied.P50, direct.P50))
	p("| scrape p99 | %s | %s (%.3f × direct) | 3.96 ms vs 3.39 ms direct (1.17 ×) |", ms(direct.P99), ms(proxied.P99), ratio(proxied.P99, direct.P99))
	p("| failed scrapes | %d | %d | — |", direct.Failures, proxied.Failures)
	p("| proxy CPU per 1,000 scrapes | — | %.2f s | 0.47 s (upstream 1.87 s) |", x.per1000(x.CPU.Seconds()))
	p("| proxy resident set: idle, after the scrapes (peak) | — | %s, %s (%s) | 45.6 MB idle, 50.7 MB after 1,000 scrapes |", mib(x.RSSIdle), mib(x.RSS), mib(x.RSSPeak))
	p("| reviews at the API server per 1,000 scrapes | 0 | %.1f TokenReviews + %.1f SubjectAccessReviews | not quoted |",
		x.per1000(float64(x.Reviews.TokenReviews)), x.per1000(float64(x.Reviews.SubjectAccessReviews)))
	p("")
	p("Reviews do not grow with the scrape count: one TokenReview per token lifetime (1 min) and one SubjectAccessReview")
	p("per allow lifetime (5 min), as for the in-process filter, so over a shorter run they are the first scrape's.")
	p("kube-rbac-proxy has no published overhead figures (`shared/research/perf-reliability.md` §5 and §12). Its column")
	p("is the research pilot's single run (§7.3: kube-rbac-proxy v0.21.0 built from source, in front of a manager serving")
	p("plain HTTP, a 66 KB payload, separate processes on loopback), not measured here: compare ratios, not times. Here the")
	p("payload is %.0f KiB (gzip requested, as Prometheus does) and the proxy speaks TLS on both hops.", r.PayloadKiB)
	p("")
}
