// SPDX-License-Identifier: Apache-2.0

package kustomize

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"
)

// argsStyles are manager Deployments writing the old metrics flag in each YAML style people have
// (testdata/args-styles), and what the diagnostics component makes of their args: the args it renders, in
// order, or a failed build that says why.
var argsStyles = []struct {
	style, requirement string
	want               []string
	wantErr            bool
}{
	{
		style: "plain", requirement: "the flag is replaced in place and an argument with parentheses is kept",
		want: []string{"--leader-elect", "--diagnostics-address=:8443", "--watch-namespaces=(team-a|team-b)", "--insecure-diagnostics=false"},
	},
	{
		style: "double-quoted", requirement: "kubebuilder v3's quoted flag is replaced in place",
		want: []string{"--health-probe-bind-address=:8081", "--diagnostics-address=:8443", "--leader-elect", "--insecure-diagnostics=false"},
	},
	{
		style: "single-quoted", requirement: "the flag and --metrics-secure are replaced in place",
		want: []string{"--leader-elect", "--diagnostics-address=:8443", "--insecure-diagnostics=false"},
	},
	{
		style: "flow", requirement: "items of a flow sequence, one dash or two, are replaced in place",
		want: []string{"--leader-elect", "--diagnostics-address=:8443", "--insecure-diagnostics=false"},
	},
	{
		style: "commented", requirement: "items under a comment or before one are replaced in place",
		want: []string{"--leader-elect", "--diagnostics-address=:8443", "--insecure-diagnostics=false"},
	},
	{style: "two-items", requirement: "the value as the next item fails the build, saying so", wantErr: true},
	{style: "block-scalar", requirement: "a style the component does not read fails the build", wantErr: true},
}

func argsStyleDir(style string) string { return filepath.Join("testdata", "args-styles", style) }

// checkMessage is what the diagnostics-manager check prints, cut out of kustomize's wrapped error, or "".
func checkMessage(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	start := strings.Index(s, "diagkit: ")
	end := strings.Index(s, "--flag=value")
	if start < 0 || end < start {
		return ""
	}
	return s[start : end+len("--flag=value")]
}

// TestArgsStyles builds every style and keeps the rendered Deployment (or the check's message) in one
// golden archive, testdata/golden/args-styles.txtar.
func TestArgsStyles(t *testing.T) {
	var archive txtar.Archive
	for _, tt := range argsStyles {
		t.Run(tt.style+": "+tt.requirement, func(t *testing.T) {
			out, err := Build(argsStyleDir(tt.style))
			if tt.wantErr {
				msg := checkMessage(err)
				if !strings.Contains(msg, "the value as the next item") {
					t.Fatalf("got %v, want the check's message", err)
				}
				archive.Files = append(archive.Files, txtar.File{Name: tt.style + ".error", Data: []byte(msg + "\n")})
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range parse(t, out) {
				if n.GetKind() != "Deployment" {
					continue
				}
				manager := mustLookup(t, n, "spec", "template", "spec", "containers", "[name=manager]")
				if diff := cmp.Diff(tt.want, scalars(manager, "args")); diff != "" {
					t.Errorf("manager args (-want +got):\n%s", diff)
				}
				archive.Files = append(archive.Files, txtar.File{Name: tt.style + ".yaml", Data: []byte(n.MustString())})
			}
		})
	}
	compareGolden(t, "args-styles.txtar", txtar.Format(&archive))
}

// TestArgsStylesKustomizeBinary: the kustomize CLI renders the same args, and fails the same builds with
// the same message.
func TestArgsStylesKustomizeBinary(t *testing.T) {
	bin := kustomizeBinary(t)
	for _, tt := range argsStyles {
		t.Run(tt.style, func(t *testing.T) {
			cmd := exec.Command(bin, "build", argsStyleDir(tt.style))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, cliErr := cmd.Output()
			want, err := Build(argsStyleDir(tt.style))
			if tt.wantErr {
				if cliErr == nil || !strings.Contains(stderr.String(), checkMessage(err)) {
					t.Fatalf("kustomize build: %v, want it to fail with %q; stderr:\n%s", cliErr, checkMessage(err), stderr.String())
				}
				return
			}
			if cliErr != nil {
				t.Fatalf("kustomize build: %v\n%s", cliErr, stderr.String())
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(out)); diff != "" {
				t.Errorf("kustomize CLI and the library differ (-library +CLI):\n%s", diff)
			}
		})
	}
}
