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
	short := flag.Bool("short", false, "fewer, shorter experiments (under two minutes)")
	out := flag.String("out", "docs/benchmarks.md", "report to write")
	chart := flag.String("chart", "docs/benchmarks.png", "chart to write, next to the report")
	flag.Parse()
	if err := run(*short, *out, *chart); err != nil {
		fmt.Fprintln(os.Stderr, "diagkit-bench:", err)
		os.Exit(1)
	}
}

func run(short bool, out, chart string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results, err := bench.Run(ctx, bench.Config{Short: short}, os.Stderr)
	if err != nil {
		return err
	}
	if err := results.WriteChart(chart); err != nil {
		return fmt.Errorf("write chart: %w", err)
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
	rel, err := filepath.Rel(filepath.Dir(out), chart)
	if err != nil {
		rel = chart
	}
	if err := results.WriteMarkdown(f, command, rel); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: wrote %s and %s\n", out, chart)
	return f.Close()
}
