// SPDX-License-Identifier: Apache-2.0

package demo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/diagkit/diagkit/e2e/framework"
)

const namespace = "diagkit-demo"

// Result is one caller's row of the table.
type Result struct {
	Caller   string
	Request  string
	Status   int
	Expected int
}

// ErrUnexpected means at least one caller did not get the status it should have.
var ErrUnexpected = errors.New("a caller got an unexpected status")

// Run performs the demo, writes its table to out, and returns the rows. It stops everything it started.
func Run(ctx context.Context, out io.Writer) ([]Result, error) {
	// envtest logs through controller-runtime's logger; left unset, controller-runtime prints a warning with a
	// stack trace to stderr once the process is 30 s old, in the middle of the table. Its failures come back
	// as errors, and the manager's own log is kept for the failure message.
	ctrllog.SetLogger(logr.Discard())
	dir, err := framework.TempDir()
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	fmt.Fprintln(out, "diagkit demo: secure diagnostics for a controller-runtime manager")
	step := func(what string) func() {
		fmt.Fprintf(out, "  %-70s", what+" ...")
		start := time.Now()
		return func() { fmt.Fprintf(out, " %5.1fs\n", time.Since(start).Seconds()) }
	}

	sample := filepath.Join(framework.RepoRoot(), "examples", "sample-controller")
	repo := filepath.Join(dir, "sample-controller")
	done := step("diagkit retrofit on a copy of examples/sample-controller")
	plan, err := framework.RetrofitCopy(sample, repo)
	if err != nil {
		return nil, err
	}
	done()
	for _, c := range plan.Changes {
		fmt.Fprintf(out, "      %-30s %s\n", c.Path, strings.Join(c.Reasons, "; "))
	}

	done = step("go mod tidy and go build of the retrofitted sample")
	bin := filepath.Join(dir, "manager")
	if err := framework.BuildRetrofitted(ctx, repo, ".", bin, plan); err != nil {
		return nil, err
	}
	done()

	done = step("starting kube-apiserver and etcd")
	cp, err := framework.StartControlPlane()
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = cp.Stop()
		}
	}()
	done()

	done = step("starting it as ServiceAccount " + namespace + "/sample-manager, bound to its role.yaml")
	if err := cp.EnsureNamespace(ctx, namespace); err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "manager.kubeconfig")
	if err := cp.ServiceAccountKubeconfig(ctx, namespace, "sample-manager", kubeconfig); err != nil {
		return nil, err
	}
	// The manager gets exactly what its retrofitted config/rbac/role.yaml grants.
	rules, err := framework.ClusterRoleRules(filepath.Join(repo, "config", "rbac", "role.yaml"))
	if err != nil {
		return nil, err
	}
	if err := cp.Grant(ctx, namespace, "sample-manager", "diagkit-demo-manager", rules...); err != nil {
		return nil, err
	}
	addr, err := framework.FreeAddress()
	if err != nil {
		return nil, err
	}
	mgr, err := framework.StartProcess(bin, []string{"KUBECONFIG=" + kubeconfig}, addr,
		"--diagnostics-address="+addr, "--health-probe-bind-address=0")
	if err != nil {
		return nil, err
	}
	defer func() { _ = mgr.Stop() }()
	done()

	done = step("creating ServiceAccounts unprivileged and reader")
	unprivileged, err := cp.ServiceAccountToken(ctx, namespace, "unprivileged")
	if err != nil {
		return nil, err
	}
	reader, err := cp.ServiceAccountToken(ctx, namespace, "reader")
	if err != nil {
		return nil, err
	}
	if err := cp.Grant(ctx, namespace, "reader", "diagkit-demo-metrics-reader", framework.MetricsReaderRule); err != nil {
		return nil, err
	}
	done()

	fmt.Fprintf(out, "\nkube-apiserver %s; the manager serves https://%s/metrics\n\n", cp.Version, addr)
	client := framework.Client(tls.VersionTLS12, 0)
	results := []Result{
		{Caller: "anonymous", Expected: http.StatusUnauthorized},
		{Caller: "unprivileged", Expected: http.StatusForbidden},
		{Caller: "reader", Expected: http.StatusOK},
	}
	tokens := map[string]string{"unprivileged": unprivileged, "reader": reader}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  CALLER\tREQUEST\tSTATUS\tEXPECTED\t")
	failed := false
	for i := range results {
		r := &results[i]
		r.Request = "GET /metrics"
		resp, err := framework.Call(ctx, client, http.MethodGet, "https://"+addr+"/metrics", tokens[r.Caller], "")
		if err != nil {
			return results, err
		}
		r.Status = resp.Status
		mark := "ok"
		if r.Status != r.Expected {
			mark, failed = "UNEXPECTED", true
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d %s\t%d\t%s\n", r.Caller, r.Request, r.Status, http.StatusText(r.Status), r.Expected, mark)
	}
	if err := tw.Flush(); err != nil {
		return results, err
	}
	fmt.Fprint(out, "\nThe reader is bound to a ClusterRole with one rule: nonResourceURLs [/metrics], verbs [get].\n\n")
	done = step("stopping the manager, kube-apiserver and etcd")
	if err := mgr.Stop(); err != nil {
		return results, err
	}
	if err := cp.Stop(); err != nil {
		return results, err
	}
	stopped = true
	done()
	if failed {
		return results, ErrUnexpected
	}
	return results, nil
}
