// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"flag"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	uberzap "go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/klog/v2"
	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"
)

func TestFollowZap(t *testing.T) {
	tests := []struct {
		name string
		zo   crzap.Options
		want zapcore.Level // level before any PUT
	}{
		{name: "no level: controller-runtime's info default", zo: crzap.Options{}, want: zapcore.InfoLevel},
		{name: "development mode: debug", zo: crzap.Options{Development: true}, want: zapcore.DebugLevel},
		{name: "an atomic level from --zap-log-level", zo: crzap.Options{Level: uberzap.NewAtomicLevelAt(-3)}, want: -3},
		{name: "a fixed level", zo: crzap.Options{Level: zapcore.WarnLevel}, want: zapcore.WarnLevel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o Options
			zo := tt.zo
			o.FollowZap(&zo)
			lvl, ok := zo.Level.(uberzap.AtomicLevel)
			if !ok {
				t.Fatalf("zap options level is %T, want an AtomicLevel the endpoint can change", zo.Level)
			}
			if lvl.Level() != tt.want {
				t.Errorf("level %v, want %v", lvl.Level(), tt.want)
			}
			if _, err := o.setVerbosity("4"); err != nil {
				t.Fatal(err)
			}
			if lvl.Level() != -4 {
				t.Errorf("after PUT 4: level %v, want -4 (logr V(4))", lvl.Level())
			}
			if _, err := o.setVerbosity("x"); err == nil {
				t.Error("a non-numeric verbosity was accepted")
			}
			_, _ = o.setVerbosity("0") // leave klog as the other tests expect
		})
	}
}

func TestSetVerbosityWithoutZap(t *testing.T) {
	var o Options
	msg, err := o.setVerbosity("0")
	if err != nil || msg == "" {
		t.Errorf("klog only: %q, %v", msg, err)
	}
}

// TestVerbosityEndpointBounds: PUT /debug/flags/v accepts 0 to MaxVerbosity only (client-go logs request
// bodies, TokenReview tokens among them, from 8; zap levels past 127 wrap through int8), bounds the body,
// and never echoes what it refuses.
func TestVerbosityEndpointBounds(t *testing.T) {
	var o Options
	zo := crzap.Options{}
	o.FollowZap(&zo)
	lvl := zo.Level.(uberzap.AtomicLevel)
	h := o.verbosityHandler()
	defer func() { _, _ = o.setVerbosity("0") }()
	tests := []struct {
		name, method, body string
		status             int
		zap                zapcore.Level // the level afterwards
	}{
		{"a level in range", http.MethodPut, "3", http.StatusOK, -3},
		{"the highest level", http.MethodPut, "7\n", http.StatusOK, -7},
		{"the first level that logs request bodies", http.MethodPut, "8", http.StatusBadRequest, -7},
		{"a level that would wrap zap's int8 and silence it", http.MethodPut, "200", http.StatusBadRequest, -7},
		{"a negative level", http.MethodPut, "-1", http.StatusBadRequest, -7},
		{"not a number, never echoed", http.MethodPut, "<script>alert(1)</script>", http.StatusBadRequest, -7},
		{"a body far larger than a level", http.MethodPut, strings.Repeat("9", 10<<20), http.StatusRequestEntityTooLarge, -7},
		{"another method", http.MethodGet, "", http.StatusNotAcceptable, -7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, "/debug/flags/v", strings.NewReader(tt.body)))
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d (%s)", rec.Code, tt.status, rec.Body)
			}
			if lvl.Level() != tt.zap {
				t.Errorf("zap level %v, want %v", lvl.Level(), tt.zap)
			}
			if tt.status != http.StatusOK && len(tt.body) > 1 && strings.Contains(rec.Body.String(), tt.body[:2]) && !strings.Contains(tt.body, "9") {
				t.Errorf("the refused body is echoed: %q", rec.Body)
			}
			if rec.Body.Len() > 512 {
				t.Errorf("a %d-byte answer", rec.Body.Len())
			}
			if got := klogVerbosity(); tt.status == http.StatusOK && got != -int(tt.zap) {
				t.Errorf("klog verbosity %d, want %d", got, -int(tt.zap))
			}
		})
	}
}

// klogVerbosity reads klog's -v flag.
func klogVerbosity() int {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	v, _ := strconv.Atoi(fs.Lookup("v").Value.String())
	return v
}

// TestProfileDurationIsBounded: /debug/pprof/profile and /trace refuse seconds= above
// MaxProfileDuration (and garbage) before they start, and pass what is within it.
func TestProfileDurationIsBounded(t *testing.T) {
	reached := 0
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { reached++ })
	for _, tt := range []struct {
		name   string
		limit  time.Duration
		query  string
		status int
	}{
		{"pprof's own default", 0, "", http.StatusOK},
		{"within the default minute", 0, "?seconds=30", http.StatusOK},
		{"an hour", 0, "?seconds=3600", http.StatusBadRequest},
		{"a fraction within the limit", 0, "?seconds=0.5", http.StatusOK},
		{"not a number", 0, "?seconds=lots", http.StatusBadRequest},
		{"negative", 0, "?seconds=-5", http.StatusBadRequest},
		{"a raised limit", 5 * time.Minute, "?seconds=240", http.StatusOK},
		{"a lowered limit", 10 * time.Second, "?seconds=30", http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := reached
			o := Options{MaxProfileDuration: tt.limit}
			rec := httptest.NewRecorder()
			o.boundedProfile(next).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/profile"+tt.query, nil))
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d (%s)", rec.Code, tt.status, rec.Body)
			}
			if ran := reached > before; ran != (tt.status == http.StatusOK) {
				t.Errorf("the profile ran: %v", ran)
			}
		})
	}
}
