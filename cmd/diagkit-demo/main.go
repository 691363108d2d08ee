// SPDX-License-Identifier: Apache-2.0

// Command diagkit-demo runs the demo `make demo` shows: see package demo.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/diagkit/diagkit/e2e/demo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := demo.Run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "diagkit-demo:", err)
		os.Exit(1)
	}
}
