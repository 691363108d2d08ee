// SPDX-License-Identifier: Apache-2.0

package diagnostics_test

import (
	"flag"
	"os"

	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/diagkit/diagkit/diagnostics"
)

// A Cluster API style main.go, which registers its flags on pflag.
func ExampleOptions_AddFlags() {
	setupLog := ctrl.Log.WithName("setup")
	var diagnosticsOptions diagnostics.Options
	if err := diagnosticsOptions.AddFlags(pflag.CommandLine); err != nil {
		setupLog.Error(err, "unable to register diagnostics flags")
		os.Exit(1)
	}
	pflag.Parse()

	metricsOptions, tlsOptions, err := diagnosticsOptions.ServerOptions()
	if err != nil {
		setupLog.Error(err, "invalid diagnostics flags")
		os.Exit(1)
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Metrics:       metricsOptions,
		WebhookServer: webhook.NewServer(webhook.Options{TLSOpts: tlsOptions}),
	})
	if err != nil {
		setupLog.Error(err, "unable to create manager")
		os.Exit(1)
	}
	_ = mgr
}

// A kubebuilder style main.go, which registers its flags on the standard library's flag package.
func ExampleOptions_AddGoFlags() {
	var diagnosticsOptions diagnostics.Options
	if err := diagnosticsOptions.AddGoFlags(flag.CommandLine); err != nil {
		os.Exit(1)
	}
	flag.Parse()
	metricsOptions, _, err := diagnosticsOptions.ServerOptions()
	if err != nil {
		os.Exit(1)
	}
	_ = ctrl.Options{Metrics: metricsOptions}
}
