// Command manager runs the Nutanix infrastructure provider's controllers. This fixture reproduces the
// shape of its main.go before upstream served metrics securely (targets.md §8, 52679ef): flags collected
// by initializeFlags on stdlib flag and pflag, Cluster API's util/flags options turned into metrics
// server options by initializeConfig and stored in a config struct, and the manager built from that struct
// by initializeManager. The manifests run the endpoint insecurely behind kube-rbac-proxy.
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	capiflags "sigs.k8s.io/cluster-api/util/flags"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/nutanix-cloud-native/cluster-api-provider-nutanix/controllers"
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	_ = clientgoscheme.AddToScheme(scheme)
}

// options are the command line.
type options struct {
	managerOptions          capiflags.ManagerOptions
	zapOptions              zap.Options
	probeAddr               string
	enableLeaderElection    bool
	maxConcurrentReconciles int
}

// managerConfig is what the manager is built from.
type managerConfig struct {
	restConfig              *rest.Config
	metricsServerOpts       metricsserver.Options
	tlsOptions              []func(*tls.Config)
	probeAddr               string
	enableLeaderElection    bool
	maxConcurrentReconciles int
}

func initializeFlags(opts *options) {
	ctrl.RegisterFlags(flag.CommandLine)
	capiflags.AddManagerOptions(pflag.CommandLine, &opts.managerOptions)
	opts.zapOptions.BindFlags(flag.CommandLine)

	pflag.StringVar(&opts.probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	pflag.BoolVar(&opts.enableLeaderElection, "leader-elect", false,
		"Enable leader election for controller manager, so that only one manager is active.")
	pflag.IntVar(&opts.maxConcurrentReconciles, "max-concurrent-reconciles", 10, "Objects reconciled at once by each controller.")

	pflag.CommandLine.AddGoFlagSet(flag.CommandLine)
	pflag.Parse()
}

func initializeConfig(opts *options) (*managerConfig, error) {
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.zapOptions)))

	tlsOptions, metricsServerOpts, err := capiflags.GetManagerOptions(opts.managerOptions)
	if err != nil {
		return nil, fmt.Errorf("unable to get manager options: %w", err)
	}
	if metricsServerOpts == nil {
		return nil, errors.New("no metrics server options")
	}
	restConfig, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("unable to get the client configuration: %w", err)
	}
	return &managerConfig{
		restConfig:              restConfig,
		metricsServerOpts:       *metricsServerOpts,
		tlsOptions:              tlsOptions,
		probeAddr:               opts.probeAddr,
		enableLeaderElection:    opts.enableLeaderElection,
		maxConcurrentReconciles: opts.maxConcurrentReconciles,
	}, nil
}

func initializeManager(config *managerConfig) (manager.Manager, error) {
	mgr, err := ctrl.NewManager(config.restConfig, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                config.metricsServerOpts,
		HealthProbeBindAddress: config.probeAddr,
		LeaderElection:         config.enableLeaderElection,
		LeaderElectionID:       "f265110d.cluster.x-k8s.io",
		WebhookServer:          webhook.NewServer(webhook.Options{Port: 9443, TLSOpts: config.tlsOptions}),
	})
	if err != nil {
		return nil, fmt.Errorf("unable to create manager: %w", err)
	}

	copts := controller.Options{MaxConcurrentReconciles: config.maxConcurrentReconciles}
	if err := (&controllers.NutanixClusterReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr, copts); err != nil {
		return nil, fmt.Errorf("unable to create the NutanixCluster controller: %w", err)
	}
	if err := (&controllers.NutanixMachineReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr, copts); err != nil {
		return nil, fmt.Errorf("unable to create the NutanixMachine controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("unable to set up health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("unable to set up ready check: %w", err)
	}
	return mgr, nil
}

func main() {
	opts := &options{}
	initializeFlags(opts)
	config, err := initializeConfig(opts)
	if err != nil {
		setupLog.Error(err, "invalid configuration")
		os.Exit(1)
	}
	mgr, err := initializeManager(config)
	if err != nil {
		setupLog.Error(err, "unable to initialize the manager")
		os.Exit(1)
	}
	setupLog.Info("starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "problem running manager")
		os.Exit(1)
	}
}
