// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/diagkit/diagkit/e2e/framework"
)

// Shared by the tests of this package: one control plane, one sample manager binary, and the namespace
// and kubeconfig of the manager's ServiceAccount.
var (
	controlPlane *framework.ControlPlane
	managerBin   string
	workDir      string
)

const namespace = "diagkit-e2e"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// envtest logs through controller-runtime's logger; left unset, controller-runtime prints a warning with a
	// stack trace once the process is 30 s old. Failures to start come back as errors.
	ctrllog.SetLogger(logr.Discard())
	ctx := context.Background()
	var err error
	if workDir, err = framework.TempDir(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(workDir)
	if managerBin, err = framework.BuildSampleManager(ctx, workDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if controlPlane, err = framework.StartControlPlane(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := controlPlane.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	if err := controlPlane.EnsureNamespace(ctx, namespace); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// managerKubeconfig gives the sample manager an identity of its own with only framework.ManagerRules,
// so the tests also prove that this RBAC is enough.
func managerKubeconfig(t *testing.T, cp *framework.ControlPlane, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := cp.ManagerKubeconfig(t.Context(), namespace, name, "", path); err != nil {
		t.Fatal(err)
	}
	return path
}

// startManager runs the sample manager on a free loopback address and stops it when the test ends.
func startManager(t *testing.T, cp *framework.ControlPlane, name string, args ...string) (*framework.Manager, string) {
	t.Helper()
	addr, err := framework.FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := framework.StartManager(managerBin, managerKubeconfig(t, cp, name), addr,
		append([]string{"--diagnostics-address=" + addr}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := mgr.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("last lines of manager %s's log:\n%s", name, tail(mgr.Logs(), 40))
		}
	})
	return mgr, addr
}

// caller creates a ServiceAccount with the rules (none: an authenticated caller without RBAC) and
// returns its token.
func caller(t *testing.T, cp *framework.ControlPlane, name string, rules ...framework.Rule) string {
	t.Helper()
	token, err := cp.ServiceAccountToken(t.Context(), namespace, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) > 0 {
		if err := cp.Grant(t.Context(), namespace, name, "diagkit-e2e-"+name, rules...); err != nil {
			t.Fatal(err)
		}
	}
	return token
}

func tail(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
