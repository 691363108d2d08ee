// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"testing"

	uberzap "go.uber.org/zap"
	"go.uber.org/zap/zapcore"
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
