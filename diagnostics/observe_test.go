// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
)

// TestRepeatedRefusalsAreLoggedOncePerInterval replays what a misconfigured Prometheus did in a trial (one
// identity refused 54 times in 2.5 minutes made 54 log lines): one line per kind and interval, each later
// line saying how many were not logged, and every kind its own first line.
func TestRepeatedRefusalsAreLoggedOncePerInterval(t *testing.T) {
	now := time.Unix(0, 0)
	obs := testObserver()
	obs.refusals = newRefusals(func() time.Time { return now })
	var lines []string
	log := funcr.New(func(_, args string) { lines = append(lines, args) }, funcr.Options{})

	for i := 0; i < 54; i++ { // every 2.8 s for 151 s
		obs.refused(log, 403, "system:serviceaccount:monitoring:prometheus", "get", "/metrics", "")
		now = now.Add(2800 * time.Millisecond)
	}
	if len(lines) != 3 {
		t.Fatalf("%d lines for 54 refusals of one kind over 151 s, want 3 (one a minute):\n%s", len(lines), strings.Join(lines, "\n"))
	}
	// One more after a quiet minute reports what the last interval held back.
	now = now.Add(refusalInterval)
	obs.refused(log, 403, "system:serviceaccount:monitoring:prometheus", "get", "/metrics", "")
	accounted := len(lines)
	for _, l := range lines[1:] {
		var n int
		i := strings.Index(l, `"repeated"=`)
		if i < 0 {
			t.Fatalf("a later line does not say how many were not logged: %s", l)
		}
		if _, err := fmt.Sscanf(l[i:], `"repeated"=%d`, &n); err != nil {
			t.Fatal(err)
		}
		accounted += n
	}
	if accounted != 55 {
		t.Errorf("lines and repeats account for %d of 55 refusals", accounted)
	}

	lines = nil
	for _, k := range []struct {
		status     int
		user, path string
	}{{403, "a", "/metrics"}, {403, "b", "/metrics"}, {403, "a", "/debug/pprof/"}, {401, "", "/metrics"}} {
		obs.refused(log, k.status, k.user, "get", k.path, "")
	}
	if len(lines) != 4 {
		t.Errorf("%d lines for 4 kinds of refusal, want 4", len(lines))
	}
}

// TestRefusalKindsAreBounded: distinct identities cannot grow the memory of refusals without limit.
func TestRefusalKindsAreBounded(t *testing.T) {
	now := time.Unix(0, 0)
	r := newRefusals(func() time.Time { return now })
	for i := 0; i < 10*maxRefusalKinds; i++ {
		r.see(refusalKey{status: 403, user: fmt.Sprint("user-", i)})
		now = now.Add(time.Millisecond)
	}
	if len(r.kinds) > maxRefusalKinds {
		t.Errorf("%d kinds remembered, want at most %d", len(r.kinds), maxRefusalKinds)
	}
}
