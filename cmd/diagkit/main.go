// SPDX-License-Identifier: Apache-2.0

// Command diagkit retrofits secure diagnostics onto controller-runtime repositories: see `diagkit --help`.
package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/diagkit/diagkit/generator/edit"
)

// Exit codes, after kubectl diff: 1 means "changes pending" (or, for probe, "insecure"), errors are ≥ 2.
const (
	exitPending = 1
	exitError   = 2
	exitRefused = 3
)

// errPending ends a command that found changes in --diff or --check mode.
var errPending = errors.New("changes pending")

func main() {
	// kustomize's api prints remarks on the trees diagkit renders ("well-defined vars that were never
	// replaced") to the standard logger; they say nothing about the retrofit, and check reports what does.
	log.SetOutput(io.Discard)
	cmd := newRootCommand(os.Stdout, os.Stderr)
	err := cmd.Execute()
	switch {
	case err == nil:
	case errors.Is(err, errPending), errors.Is(err, errInsecure):
		os.Exit(exitPending)
	case errors.Is(err, edit.ErrRefused):
		fmt.Fprintln(os.Stderr, "diagkit:", err)
		os.Exit(exitRefused)
	default:
		fmt.Fprintln(os.Stderr, "diagkit:", err)
		os.Exit(exitError)
	}
}
