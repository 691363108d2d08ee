// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// checkArgsEnv carries the arguments of a `diagkit check` that TestCheckHelperProcess runs through main.
const checkArgsEnv = "DIAGKIT_TEST_CHECK_ARGS"

// TestMain doubles as the diagkit command when checkArgsEnv is set: TestCheckExitCodes runs the test
// binary that way to observe main's exit code.
func TestMain(m *testing.M) {
	if args := os.Getenv(checkArgsEnv); args != "" {
		os.Args = append([]string{"diagkit", "check"}, strings.Split(args, "\n")...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestCheckExitCodes(t *testing.T) {
	targets := filepath.Join("..", "..", "generator", "testdata", "targets")
	clean := t.TempDir()
	if err := os.CopyFS(clean, os.DirFS(filepath.Join(targets, "etcdadm-controller"))); err != nil {
		t.Fatal(err)
	}
	if _, err := execute("retrofit", clean); err != nil {
		t.Fatalf("retrofit: %v", err)
	}
	tests := []struct {
		name     string
		args     []string
		exit     int
		stdout   string // a line the output must contain
		jsonOnly bool   // stdout must parse as {"findings":[…]}
	}{
		{"a retrofitted repository passes", []string{clean}, 0, "no findings", false},
		{"a retrofitted repository passes in JSON", []string{"-o", "json", clean}, 0, `"findings": []`, true},
		{"a stale role fails", []string{filepath.Join(targets, "eks-anywhere-packages")}, 1, "config/rbac/role.yaml:8: [role-stale]", false},
		{"findings print as JSON", []string{"--output=json", filepath.Join(targets, "eks-anywhere-packages")}, 1, `"id": "role-stale"`, true},
		{"a directory without go.mod is an error", []string{t.TempDir()}, 2, "", false},
		{"an unknown output format is an error", []string{"-o", "yaml", clean}, 2, "", false},
		{"controller-runtime before v0.16 is refused", []string{filepath.Join(targets, "controller-runtime-v0.15")}, 3, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), checkArgsEnv+"="+strings.Join(tt.args, "\n"))
			var stderr strings.Builder
			cmd.Stderr = &stderr
			stdout, err := cmd.Output()
			exit := 0
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				exit = exitErr.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if exit != tt.exit {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", exit, tt.exit, stdout, stderr.String())
			}
			if !strings.Contains(string(stdout), tt.stdout) {
				t.Errorf("stdout does not contain %q:\n%s", tt.stdout, stdout)
			}
			if tt.jsonOnly {
				var report struct {
					Findings []map[string]any `json:"findings"`
				}
				if err := json.Unmarshal(stdout, &report); err != nil || report.Findings == nil {
					t.Errorf("stdout is not {\"findings\":[…]} (%v):\n%s", err, stdout)
				}
				for _, f := range report.Findings {
					for _, key := range []string{"id", "file", "line", "message", "fix"} {
						if _, ok := f[key]; !ok {
							t.Errorf("finding without %q: %v", key, f)
						}
					}
				}
			}
		})
	}
}
