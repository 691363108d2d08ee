// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diagkit/diagkit/generator/edit"
)

func execute(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	cmd := newRootCommand(&out, &errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestRetrofitModes(t *testing.T) {
	fixture := filepath.Join("..", "..", "generator", "testdata", "targets")
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(fixture, "etcdadm-controller"))); err != nil {
		t.Fatal(err)
	}

	out, err := execute("retrofit", "--check", dir)
	if !errors.Is(err, errPending) || !strings.Contains(out, "main.go\n") {
		t.Errorf("--check on a fresh repository: %v, %q; want pending and main.go listed", err, out)
	}
	out, err = execute("retrofit", "--diff", dir)
	if !errors.Is(err, errPending) || !strings.HasPrefix(out, "diff --git a/config/manager/manager.yaml") {
		t.Errorf("--diff: %v, %.80q", err, out)
	}
	if _, err := execute("retrofit", "--diff", "--check", dir); err == nil || !strings.Contains(err.Error(), "mutually exclusive") {
		t.Errorf("--diff --check: %v", err)
	}
	if out, err := execute("retrofit", dir); err != nil || !strings.Contains(out, "main.go\n  - ") {
		t.Errorf("retrofit: %v, %q", err, out)
	}
	if out, err := execute("retrofit", "--check", dir); err != nil || out != "" {
		t.Errorf("--check after retrofit: %v, %q; want nothing pending", err, out)
	}
	if _, err := execute("retrofit", filepath.Join(fixture, "controller-runtime-v0.15")); !errors.Is(err, edit.ErrRefused) {
		t.Errorf("controller-runtime v0.15: %v, want refused (exit 3)", err)
	}
	if out, err := execute("detect", filepath.Join(fixture, "cluster-api-provider-tinkerbell")); err != nil || !strings.Contains(out, "flag, --metrics-bind-addr") {
		t.Errorf("detect: %v\n%s", err, out)
	}
}

// What retrofit leaves undone is printed with its fix: EKS Anywhere's committed bundle names the make
// target that regenerates it.
func TestRetrofitPrintsWhatIsLeft(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "generator", "testdata", "targets", "eks-anywhere"))); err != nil {
		t.Fatal(err)
	}
	out, err := execute("retrofit", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"left for you (diagkit check):", "config/manifest/eksa-components.yaml:", "[bundle-out-of-step]", "run `make release-manifests`"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// A repository with nothing left prints no such section.
	clean := t.TempDir()
	if err := os.CopyFS(clean, os.DirFS(filepath.Join("..", "..", "generator", "testdata", "targets", "etcdadm-controller"))); err != nil {
		t.Fatal(err)
	}
	if out, err := execute("retrofit", clean); err != nil || strings.Contains(out, "left for you") {
		t.Errorf("etcdadm-controller: %v\n%s", err, out)
	}
}

// TestDetectAlwaysPrints: whatever detect cannot analyse, it prints everything else it found and says why,
// with retrofit's exit code: a refused repository (3), a manager whose options no shape matches (2).
func TestDetectAlwaysPrints(t *testing.T) {
	fixture := filepath.Join("..", "..", "generator", "testdata", "targets")
	out, err := execute("detect", filepath.Join(fixture, "controller-runtime-v0.15"))
	if !errors.Is(err, edit.ErrRefused) {
		t.Errorf("controller-runtime v0.15: %v, want refused (exit 3)", err)
	}
	for _, want := range []string{"controller-runtime:      v0.15.3", "main:                    main.go:", "not analysed:", "controller-gen:          v0.11.4", "role:                    config/rbac/role.yaml", "manager manifest:        config/manager/manager.yaml"} {
		if !strings.Contains(out, want) {
			t.Errorf("detect on a refused repository lacks %q:\n%s", want, out)
		}
	}

	// A manager whose options come from a function detect does not follow: not analysed, and said so.
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(fixture, "etcdadm-controller"))); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "main.go")
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	built := strings.Replace(string(src), "ctrl.NewManager(ctrl.GetConfigOrDie(), opts)", "ctrl.NewManager(ctrl.GetConfigOrDie(), withDefaults(opts))", 1)
	if built == string(src) {
		t.Fatal("the fixture's ctrl.NewManager call changed; update the test")
	}
	built += "\nfunc withDefaults(o ctrl.Options) ctrl.Options { return o }\n"
	if err := os.WriteFile(main, []byte(built), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = execute("detect", dir)
	var pe *edit.PositionError
	if !errors.As(err, &pe) {
		t.Errorf("options from a function: %v, want the position error (exit 2)", err)
	}
	for _, want := range []string{"main:                    main.go:", "metrics:                 not analysed: main.go:", "rbac generation:         Makefile:"} {
		if !strings.Contains(out, want) {
			t.Errorf("detect lacks %q:\n%s", want, out)
		}
	}
}

// TestSeveralManagers: a module whose commands create several managers is described one block per
// manager, retrofitted as a whole with each manager named, and --main takes several, FILE=MANIFEST each.
func TestSeveralManagers(t *testing.T) {
	generator := filepath.Join("..", "..", "generator")
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(generator, "testdata", "targets", "etcdadm-controller"))); err != nil {
		t.Fatal(err)
	}
	patch, err := filepath.Abs(filepath.Join(generator, "testdata", "shapes", "several-managers.diff"))
	if err != nil {
		t.Fatal(err)
	}
	apply := exec.Command("git", "apply", "-p1", patch)
	apply.Dir, apply.Env = dir, append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("git apply: %v\n%s", err, out)
	}

	out, err := execute("detect", dir)
	if err != nil {
		t.Errorf("detect: %v", err)
	}
	for _, want := range []string{"main:                    main.go:82 (main)", "main:                    cmd/webhook/main.go:24 (main)",
		"manager manifest:        config/webhook-server/deployment.yaml (deployment webhook-server, container webhook)",
		`metrics:                 not analysed: refused: cmd/adapter/main.go:15: the manager turns controller-runtime's metrics server off`} {
		if !strings.Contains(out, want) {
			t.Errorf("detect lacks %q:\n%s", want, out)
		}
	}
	if _, err := execute("retrofit", "--main", "=config/manager/manager.yaml", dir); err == nil || !strings.Contains(err.Error(), "want FILE or FILE=MANIFEST") {
		t.Errorf("--main =MANIFEST: %v", err)
	}
	out, err = execute("retrofit", "--dry-run", "--main", "main.go", "--main", "cmd/webhook/main.go=config/webhook-server/deployment.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"manager main.go: Deployment controller-manager", "manager cmd/webhook/main.go: Deployment webhook-server, container webhook (config/webhook-server/deployment.yaml)",
		"config/webhook-server/deployment.yaml\n  - pass --diagnostics-address=:8443"} {
		if !strings.Contains(out, want) {
			t.Errorf("retrofit --dry-run lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "cmd/adapter") {
		t.Errorf("retrofit --main … names a manager it was not given:\n%s", out)
	}
	if out, err := execute("retrofit", dir); err != nil || !strings.Contains(out, "cmd/webhook/main.go\n  - ") {
		t.Errorf("retrofit: %v\n%s", err, out)
	}
	if out, err := execute("check", dir); err != nil {
		t.Errorf("check after retrofit: %v\n%s", err, out)
	}
}
