// SPDX-License-Identifier: Apache-2.0

// Command samplemanager is a small controller-runtime manager that serves its metrics through diagkit's
// diagnostics package, wired the way a provider's main.go would be. The e2e tests and `make demo` run it.
package main

import (
	"context"
	"flag"
	"os"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/diagkit/diagkit/diagnostics"
)

// reconciles is the sample's own metric, so tests can tell its /metrics from any other.
var reconciles = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "diagkit_sample_reconciles_total",
	Help: "ConfigMaps reconciled by the diagkit sample manager.",
})

func main() {
	setupLog := ctrl.Log.WithName("setup")

	var diagnosticsOptions diagnostics.Options
	if err := diagnosticsOptions.AddFlags(pflag.CommandLine); err != nil {
		setupLog.Error(err, "unable to register flags")
		os.Exit(1)
	}
	// For benchmarks only (e2e/bench): the same manager behind other metrics setups, and a registry the
	// size of a busy controller's.
	benchMode := pflag.String("bench-metrics", "diagnostics", "benchmarks only: diagnostics, https-no-auth or controller-runtime-filter")
	benchSeries := pflag.Int("bench-series", 0, "benchmarks only: extra synthetic series on /metrics")
	zapOptions := zap.Options{}
	zapOptions.BindFlags(flag.CommandLine)
	pflag.CommandLine.AddGoFlagSet(flag.CommandLine) // --kubeconfig and the zap flags
	pflag.Parse()

	diagnosticsOptions.FollowZap(&zapOptions) // PUT /debug/flags/v then sets this logger's level too
	logger := zap.New(zap.UseFlagOptions(&zapOptions))
	ctrl.SetLogger(logger)
	klog.SetLogger(logger) // k8s.io/apiserver's review code logs through klog

	metricsOptions, tlsOptions, err := diagnosticsOptions.ServerOptions()
	if err != nil {
		setupLog.Error(err, "invalid diagnostics options")
		os.Exit(1)
	}
	switch *benchMode {
	case "https-no-auth":
		metricsOptions.FilterProvider, metricsOptions.ExtraHandlers = nil, nil
	case "controller-runtime-filter":
		metricsOptions.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	if *benchSeries > 0 {
		synthetic := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "diagkit_sample_synthetic", Help: "Benchmark payload."}, []string{"series"})
		for i := 0; i < *benchSeries; i++ {
			synthetic.WithLabelValues(strconv.Itoa(i)).Set(float64(i))
		}
		metrics.Registry.MustRegister(synthetic)
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Metrics:                metricsOptions,
		WebhookServer:          webhook.NewServer(webhook.Options{TLSOpts: tlsOptions}),
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		setupLog.Error(err, "unable to create manager")
		os.Exit(1)
	}
	metrics.Registry.MustRegister(reconciles)
	err = ctrl.NewControllerManagedBy(mgr).For(&corev1.ConfigMap{}).Complete(reconcile.Func(func(context.Context, ctrl.Request) (ctrl.Result, error) {
		reconciles.Inc()
		return ctrl.Result{}, nil
	}))
	if err != nil {
		setupLog.Error(err, "unable to create controller")
		os.Exit(1)
	}

	setupLog.Info("starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "problem running manager")
		os.Exit(1)
	}
}
