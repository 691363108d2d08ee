// SPDX-License-Identifier: Apache-2.0

package demo

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
)

// TestRun keeps `make demo` working: the three callers get 401, 403 and 200 from the real API server, and
// nothing but the table reaches the terminal (controller-runtime once printed a "log.SetLogger(...) was never
// called" warning with a Go stack trace to stderr in the middle of it).
func TestRun(t *testing.T) {
	var out bytes.Buffer
	stderr := captureStderr(t)
	results, err := Run(t.Context(), &out)
	if noise := stderr(); noise != "" {
		t.Errorf("the demo wrote to stderr:\n%s", noise)
	}
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	want := map[string]int{"anonymous": 401, "unprivileged": 403, "reader": 200}
	if len(results) != len(want) {
		t.Fatalf("got %d rows, want %d", len(results), len(want))
	}
	for _, r := range results {
		if r.Status != want[r.Caller] {
			t.Errorf("%s got %d, want %d", r.Caller, r.Status, want[r.Caller])
		}
		if !strings.Contains(out.String(), r.Caller) {
			t.Errorf("the table does not show %s", r.Caller)
		}
	}
}

// captureStderr redirects os.Stderr until the returned function is called, which returns what was written.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	got := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		got <- string(b)
	}()
	restore := func() string {
		os.Stderr = saved
		w.Close()
		return <-got
	}
	t.Cleanup(func() {
		if os.Stderr == w {
			restore()
		}
	})
	return restore
}
