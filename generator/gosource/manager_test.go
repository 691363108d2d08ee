// SPDX-License-Identifier: Apache-2.0

package gosource

import (
	"strings"
	"testing"
)

const header = `package main

import (
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

var setupLog = ctrl.Log

func main() {
	var metricsAddr string
	flag.StringVar(&metricsAddr, "metrics-addr", ":8080", "metrics")
	flag.Parse()
`

func TestAnalyzeRejectsWhatItCannotCarryOver(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"other metrics server options would be lost",
			"\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: server.Options{BindAddress: metricsAddr, SecureServing: true}})\n",
			"main.go:17: expected only BindAddress in the metrics server options (others would be lost), found SecureServing: true"},
		{"no Metrics field",
			"\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{})\n",
			"main.go:17: expected a Metrics: field in ctrl.Options (controller-runtime ≥ v0.16), found none"},
		{"a bind address not set by a flag",
			"\tmgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: server.Options{BindAddress: \":9090\"}})\n",
			`main.go:17: expected a variable or field set by a flag, found ":9090"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := header + tt.body + "\t_, _ = mgr, err\n\tos.Exit(0)\n}\n"
			f, err := ParseSource("main.go", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			calls := FindManagerCall(f)
			if len(calls) != 1 {
				t.Fatalf("found %d manager calls", len(calls))
			}
			_, err = Analyze(&Package{Dir: ".", Files: []*File{f}}, f, calls[0])
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}
