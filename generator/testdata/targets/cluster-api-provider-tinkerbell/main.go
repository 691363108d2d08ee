/*
Copyright 2022 The Tinkerbell Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package main is the main package for the Tinkerbell infrastructure provider.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/peterbourgon/ff/v3"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/tinkerbell/cluster-api-provider-tinkerbell/controller/cluster"
	"github.com/tinkerbell/cluster-api-provider-tinkerbell/controller/machine"
)

type config struct {
	EnableLeaderElection         bool
	LeaderElectionLeaseDuration  time.Duration
	LeaderElectionRenewDeadline  time.Duration
	LeaderElectionRetryPeriod    time.Duration
	WatchNamespace               string
	LeaderElectionNamespace      string
	WatchFilterValue             string
	TinkerbellClusterConcurrency int
	TinkerbellMachineConcurrency int
	SyncPeriod                   time.Duration
	MetricsBindAddress           string
	WebhookPort                  int
	WebhookCertDir               string
	HealthAddr                   string
	ExternalKubeconfig           string
}

func initKlogFlags(fs *flag.FlagSet) {
	klogFlags := flag.NewFlagSet("klog", flag.ExitOnError)
	klog.InitFlags(klogFlags)
	klogFlags.VisitAll(func(f *flag.Flag) {
		fs.Var(f.Value, f.Name, f.Usage)
	})
}

func (c *config) initFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.EnableLeaderElection, "leader-elect", false,
		"Enable leader election for controller manager. Enabling this will ensure there is only one active controller manager.")
	fs.DurationVar(&c.LeaderElectionLeaseDuration, "leader-elect-lease-duration", 15*time.Second,
		"Interval at which non-leader candidates will wait to force acquire leadership (duration string)")
	fs.DurationVar(&c.LeaderElectionRenewDeadline, "leader-elect-renew-deadline", 10*time.Second,
		"Duration that the leading controller manager will retry refreshing leadership before giving up (duration string)")
	fs.DurationVar(&c.LeaderElectionRetryPeriod, "leader-elect-retry-period", 2*time.Second,
		"Duration the LeaderElector clients should wait between tries of actions (duration string)")
	fs.StringVar(&c.WatchNamespace, "namespace", "",
		"Namespace that the controller watches to reconcile cluster-api objects. If unspecified, the controller watches for cluster-api objects across all namespaces.")
	fs.StringVar(&c.LeaderElectionNamespace, "leader-election-namespace", "",
		"Namespace that the controller performs leader election in. If unspecified, the controller will discover which namespace it is running in.")
	fs.StringVar(&c.WatchFilterValue, "watch-filter", "",
		"Label value that the controller watches to reconcile cluster-api objects. If unspecified, the controller watches for all cluster-api objects.")
	fs.IntVar(&c.TinkerbellClusterConcurrency, "tinkerbellcluster-concurrency", 10,
		"Number of TinkerbellClusters to process simultaneously")
	fs.IntVar(&c.TinkerbellMachineConcurrency, "tinkerbellmachine-concurrency", 10,
		"Number of TinkerbellMachines to process simultaneously")
	fs.DurationVar(&c.SyncPeriod, "sync-period", 10*time.Minute,
		"The minimum interval at which watched resources are reconciled (e.g. 15m)")
	fs.StringVar(&c.MetricsBindAddress, "metrics-bind-addr", "localhost:8080",
		"The address the metric endpoint binds to.")
	fs.IntVar(&c.WebhookPort, "webhook-port", 9443, "Webhook Server port")
	fs.StringVar(&c.WebhookCertDir, "webhook-cert-dir", "/tmp/k8s-webhook-server/serving-certs/",
		"Webhook cert dir, only used when webhook-port is specified.")
	fs.StringVar(&c.HealthAddr, "health-addr", ":9440",
		"The address the health endpoint binds to.")
	fs.StringVar(&c.ExternalKubeconfig, "external-kubeconfig", "",
		"The path to the kubeconfig of a cluster where Tinkerbell runs, when it is not the management cluster.")
}

func newScheme() (*runtime.Scheme, error) {
	rs := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme,
		clusterv1.AddToScheme,
	} {
		if err := add(rs); err != nil {
			return nil, err
		}
	}

	return rs, nil
}

func main() {
	fs := flag.NewFlagSet("capt", flag.ExitOnError)
	initKlogFlags(fs)
	cfg := &config{}
	cfg.initFlags(fs)
	if err := ff.Parse(fs, os.Args[1:], ff.WithEnvVarNoPrefix(), ff.WithConfigFileParser(ff.PlainParser)); err != nil {
		fmt.Fprintf(os.Stderr, "unable to parse flags: %v\n", err)
		os.Exit(1)
	}

	ctrl.SetLogger(klog.Background())
	setupLog := ctrl.Log.WithName("setup")

	rs, err := newScheme()
	if err != nil {
		setupLog.Error(err, "unable to build scheme")
		os.Exit(1)
	}

	// Machine and cluster operations can create enough events to trigger the event recorder spam filter
	// Setting the burst size higher ensures all events will be recorded and submitted to the API
	broadcaster := record.NewBroadcasterWithCorrelatorOptions(record.CorrelatorOptions{
		BurstSize: 100,
	})

	opts := ctrl.Options{
		Scheme: rs,
		Metrics: metricsserver.Options{
			BindAddress: cfg.MetricsBindAddress,
		},
		LeaderElection:          cfg.EnableLeaderElection,
		LeaderElectionID:        "controller-leader-election-capt",
		LeaseDuration:           &cfg.LeaderElectionLeaseDuration,
		RenewDeadline:           &cfg.LeaderElectionRenewDeadline,
		RetryPeriod:             &cfg.LeaderElectionRetryPeriod,
		LeaderElectionNamespace: cfg.LeaderElectionNamespace,
		Cache: cache.Options{
			SyncPeriod: &cfg.SyncPeriod,
		},
		WebhookServer: ctrlwebhook.NewServer(ctrlwebhook.Options{
			Port:    cfg.WebhookPort,
			CertDir: cfg.WebhookCertDir,
		}),
		HealthProbeBindAddress: cfg.HealthAddr,
		EventBroadcaster:       broadcaster,
	}

	if cfg.WatchNamespace != "" {
		opts.Cache.DefaultNamespaces = map[string]cache.Config{cfg.WatchNamespace: {}}
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), opts)
	if err != nil {
		setupLog.Error(err, "unable to start manager")
		os.Exit(1)
	}

	if cfg.ExternalKubeconfig != "" {
		setupLog.Info("Using an external Tinkerbell cluster", "kubeconfig", cfg.ExternalKubeconfig)
	}

	// Setup the context that's going to be used in controllers and for the manager.
	ctx := ctrl.SetupSignalHandler()

	setupReconcilers(ctx, cfg, mgr)
	setupChecks(mgr)

	setupLog.Info("starting manager")
	if err := mgr.Start(ctx); err != nil {
		setupLog.Error(err, "problem running manager")
		os.Exit(1)
	}
}

func setupChecks(mgr ctrl.Manager) {
	setupLog := ctrl.Log.WithName("setup")
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		setupLog.Error(err, "unable to create ready check")
		os.Exit(1)
	}

	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		setupLog.Error(err, "unable to create health check")
		os.Exit(1)
	}
}

func setupReconcilers(ctx context.Context, cfg *config, mgr ctrl.Manager) {
	setupLog := ctrl.Log.WithName("setup")
	if err := (&cluster.TinkerbellClusterReconciler{
		Client:           mgr.GetClient(),
		WatchFilterValue: cfg.WatchFilterValue,
	}).SetupWithManager(ctx, mgr, controller.Options{MaxConcurrentReconciles: cfg.TinkerbellClusterConcurrency}); err != nil {
		setupLog.Error(err, "unable to create controller", "controller", "TinkerbellCluster")
		os.Exit(1)
	}

	if err := (&machine.TinkerbellMachineReconciler{
		Client:           mgr.GetClient(),
		WatchFilterValue: cfg.WatchFilterValue,
	}).SetupWithManager(ctx, mgr, controller.Options{MaxConcurrentReconciles: cfg.TinkerbellMachineConcurrency}); err != nil {
		setupLog.Error(err, "unable to create controller", "controller", "TinkerbellMachine")
		os.Exit(1)
	}
}
