// SPDX-License-Identifier: Apache-2.0

// Command diagkit-bench runs the benchmarks of package bench and writes their report: `make bench`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/diagkit/diagkit/e2e/bench"
)

func main() {
	short := flag.Bool("short", false, "fewer, shorter experiments (under three minutes)")
	out := flag.String("out", "docs/benchmarks.md", "report to write")
	chart := flag.String("chart", "docs/benchmarks.png", "latency chart to write, next to the report")
	floodChart := flag.String("flood-chart", "docs/benchmarks-flood.png", "long-flood chart to write, next to the report")
	flag.Parse()
	if err := run(*short, *out, bench.Charts{Latency: *chart, Flood: *floodChart}); err != nil {
		fmt.Fprintln(os.Stderr, "diagkit-bench:", err)
		os.Exit(1)
	}
}

func run(short bool, out string, charts bench.Charts) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results, err := bench.Run(ctx, bench.Config{Short: short}, os.Stderr)
	if err != nil {
		return err
	}
	if err := results.WriteChart(charts.Latency); err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	if err := results.WriteFloodChart(charts.Flood); err != nil {
		return fmt.Errorf("write flood chart: %w", err)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	command := "make bench"
	if short {
		command = "make bench BENCH_FLAGS=-short"
	}
	// The report links its charts relative to itself.
	rel := func(path string) string {
		if r, err := filepath.Rel(filepath.Dir(out), path); err == nil {
			return r
		}
		return path
	}
	if err := results.WriteMarkdown(f, command, bench.Charts{Latency: rel(charts.Latency), Flood: rel(charts.Flood)}); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: wrote %s, %s and %s\n", out, charts.Latency, charts.Flood)
	return f.Close()
}
