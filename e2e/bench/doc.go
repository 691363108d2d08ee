// SPDX-License-Identifier: Apache-2.0

// Package bench measures what a secure scrape costs, side by side in one run on one machine: the same
// sample manager and payload served as plain HTTP, HTTPS without authentication (the floor), behind
// controller-runtime's stock filter, and behind diagkit (warm and cold caches), all against the real
// kube-apiserver and etcd from `make tools`. It also counts, at the API server, the reviews each setup
// sends, and reads each manager's memory. A garbage-token flood at ten times diagkit's review budget, long
// enough to outlast the caches, is measured with a valid scraper beside it; and diagkit-proxy, run as a
// process, against scraping its upstream directly. `make bench` runs it and writes docs/benchmarks.md and
// its charts.
//
// These are measurements, not tests: nothing here fails on a timing. Goals are printed next to the
// figures, with whether they were met.
package bench
