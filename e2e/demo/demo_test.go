// SPDX-License-Identifier: Apache-2.0

package demo

import (
	"bytes"
	"strings"
	"testing"
)

// TestRun keeps `make demo` working: the three callers get 401, 403 and 200 from the real API server.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	results, err := Run(t.Context(), &out)
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
