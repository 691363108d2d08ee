// SPDX-License-Identifier: Apache-2.0

// Command diagkit-proxy publishes the localhost-only metrics of kube-controller-manager, kube-scheduler,
// kube-proxy and etcd on the node's address, authenticated and authorized per request: see package
// metricsproxy. It runs as the DaemonSet in kustomize/components/node-metrics-proxy.
//
//	diagkit-proxy --bind-address=$(NODE_IP) --upstream=kube-proxy --upstream=etcd \
//		--upstream=kube-controller-manager --upstream=kube-scheduler
//
// A scraper needs get on each component's own path, /NAME/PATH (/kube-scheduler/metrics, or
// /kube-scheduler/* for all of its paths): a get on /metrics opens none of them unless that upstream is
// given authz-prefix= (see --help).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/diagkit/diagkit/metricsproxy"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "diagkit-proxy:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := pflag.NewFlagSet("diagkit-proxy", pflag.ContinueOnError)
	var opts metricsproxy.Options
	if err := opts.AddFlags(fs); err != nil {
		return err
	}
	// --kubeconfig (controller-runtime's: the flag, $KUBECONFIG, or the in-cluster config) and the zap flags.
	goFlags := flag.NewFlagSet("diagkit-proxy", flag.ContinueOnError)
	ctrl.RegisterFlags(goFlags)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(goFlags)
	fs.AddGoFlagSet(goFlags)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return err
	}
	// Before anything else: a mistake in the flags is reported the same way in or out of a cluster.
	if err := opts.Validate(); err != nil {
		return err
	}
	log := zap.New(zap.UseFlagOptions(&zapOpts))
	ctrl.SetLogger(log)

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("load the proxy's client configuration: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := metricsproxy.New(ctx, &opts, cfg, log)
	if err != nil {
		return err
	}
	return p.Run(ctx)
}
