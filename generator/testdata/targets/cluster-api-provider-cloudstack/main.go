// Command manager runs the CloudStack infrastructure provider's controllers. This fixture reproduces the
// shape of its main.go at HEAD (targets.md §6): pflag imported as flag, the standard library as goflag,
// the provider's flags registered by setFlags on the global FlagSet, and the diagnostics endpoint from
// Cluster API's util/flags — without the RBAC markers it needs.
package main

import (
	goflag "flag"
	"os"
	"time"

	flag "github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/klog/v2"
	"sigs.k8s.io/cluster-api/util/flags"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"sigs.k8s.io/cluster-api-provider-cloudstack/controllers"
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")

	// managerOptions holds the diagnostics and TLS flags of Cluster API's util/flags.
	managerOptions = flags.ManagerOptions{}
)

func init() {
	_ = clientgoscheme.AddToScheme(scheme)
}

type managerOpts struct {
	EnableLeaderElection        bool
	LeaderElectionLeaseDuration time.Duration
	ProbeAddr                   string
	ProfilerAddr                string
	WebhookCertDir              string
	WatchNamespace              string
	SyncPeriod                  time.Duration

	CloudStackClusterConcurrency int
	CloudStackMachineConcurrency int
	EnableCloudStackCksSync      bool
}

// setFlags registers the provider's flags on the global pflag FlagSet.
func setFlags() *managerOpts {
	opts := &managerOpts{}
	flag.BoolVar(&opts.EnableLeaderElection, "leader-elect", false,
		"Enable leader election for controller manager, so that only one manager is active.")
	flag.DurationVar(&opts.LeaderElectionLeaseDuration, "leader-elect-lease-duration", 15*time.Second,
		"How long non-leader candidates wait before forcing the acquisition of leadership.")
	flag.StringVar(&opts.ProbeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	flag.StringVar(&opts.ProfilerAddr, "profiler-addr", "", "Bind address to expose the pprof profiler (e.g. localhost:6060)")
	flag.StringVar(&opts.WebhookCertDir, "webhook-cert-dir", "/tmp/k8s-webhook-server/serving-certs/", "Webhook certificate directory.")
	flag.StringVar(&opts.WatchNamespace, "namespace", "", "Namespace to watch; all namespaces when empty.")
	flag.DurationVar(&opts.SyncPeriod, "sync-period", 10*time.Minute, "Minimum interval at which watched resources are reconciled.")
	flag.IntVar(&opts.CloudStackClusterConcurrency, "cloudstackcluster-concurrency", 10, "CloudStackClusters reconciled at once.")
	flag.IntVar(&opts.CloudStackMachineConcurrency, "cloudstackmachine-concurrency", 10, "CloudStackMachines reconciled at once.")
	flag.BoolVar(&opts.EnableCloudStackCksSync, "enable-cloudstack-cks-sync", false, "Sync clusters and machines with CloudStack Kubernetes Service.")
	return opts
}

func main() {
	opts := setFlags()
	flags.AddManagerOptions(flag.CommandLine, &managerOptions)
	flag.CommandLine.SetNormalizeFunc(cliflag.WordSepNormalizeFunc)
	flag.CommandLine.AddGoFlagSet(goflag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(klog.NewKlogr())

	tlsOptions, metricsOptions, err := flags.GetManagerOptions(managerOptions)
	if err != nil {
		setupLog.Error(err, "unable to get manager options")
		os.Exit(1)
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                *metricsOptions,
		HealthProbeBindAddress: opts.ProbeAddr,
		PprofBindAddress:       opts.ProfilerAddr,
		LeaderElection:         opts.EnableLeaderElection,
		LeaderElectionID:       "capc-leader-election-controller",
		LeaseDuration:          &opts.LeaderElectionLeaseDuration,
		WebhookServer: webhook.NewServer(webhook.Options{
			Port:    9443,
			CertDir: opts.WebhookCertDir,
			TLSOpts: tlsOptions,
		}),
	})
	if err != nil {
		setupLog.Error(err, "unable to start manager")
		os.Exit(1)
	}

	if err := (&controllers.CloudStackClusterReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr,
		controller.Options{MaxConcurrentReconciles: opts.CloudStackClusterConcurrency}); err != nil {
		setupLog.Error(err, "unable to create controller", "controller", "CloudStackCluster")
		os.Exit(1)
	}
	if err := (&controllers.CloudStackMachineReconciler{Client: mgr.GetClient(), EnableCksSync: opts.EnableCloudStackCksSync}).SetupWithManager(mgr,
		controller.Options{MaxConcurrentReconciles: opts.CloudStackMachineConcurrency}); err != nil {
		setupLog.Error(err, "unable to create controller", "controller", "CloudStackMachine")
		os.Exit(1)
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "unable to set up health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "unable to set up ready check")
		os.Exit(1)
	}

	setupLog.Info("starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "problem running manager")
		os.Exit(1)
	}
}
