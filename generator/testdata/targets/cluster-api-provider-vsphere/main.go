// Command manager runs the vSphere infrastructure provider's controllers. This fixture reproduces the
// shape of its main.go after upstream adopted Cluster API's diagnostics (targets.md §7, 83ba5d1 and
// 16d552a): InitFlags registers on a pflag FlagSet into package variables and the provider's
// manager.Options wrapper, the metrics options come from util/flags, and pkg/manager creates the manager.
package main

import (
	"context"
	goflag "flag"
	"os"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/klog/v2"
	capiflags "sigs.k8s.io/cluster-api/util/flags"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"sigs.k8s.io/cluster-api-provider-vsphere/controllers"
	"sigs.k8s.io/cluster-api-provider-vsphere/pkg/manager"
)

var (
	setupLog = ctrl.Log.WithName("setup")

	managerOpts        manager.Options
	syncPeriod         time.Duration
	webhookPort        int
	tlsOptions         = capiflags.TLSOptions{}
	diagnosticsOptions = capiflags.DiagnosticsOptions{}
)

// InitFlags registers the manager's flags on fs.
func InitFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&managerOpts.LeaderElection, "leader-elect", true,
		"Enable leader election for controller manager, so that only one manager is active.")
	fs.StringVar(&managerOpts.LeaderElectionID, "leader-election-id", "controller-leader-election-capv",
		"Name of the config map to use as the lock for leader election.")
	fs.StringVar(&managerOpts.WatchNamespace, "namespace", "",
		"Namespace that the controller watches to reconcile cluster-api objects; all namespaces when empty.")
	fs.DurationVar(&syncPeriod, "sync-period", 10*time.Minute,
		"The interval at which cluster-api objects are synchronized.")
	fs.StringVar(&managerOpts.HealthProbeBindAddress, "health-addr", ":9440", "The address the health endpoint binds to.")
	fs.IntVar(&webhookPort, "webhook-port", 9443, "Webhook Server port.")
	capiflags.AddTLSOptions(fs, &tlsOptions)
	capiflags.AddDiagnosticsOptions(fs, &diagnosticsOptions)
}

// Add RBAC for the authorized diagnostics endpoint.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

func main() {
	InitFlags(pflag.CommandLine)
	pflag.CommandLine.SetNormalizeFunc(cliflag.WordSepNormalizeFunc)
	pflag.CommandLine.AddGoFlagSet(goflag.CommandLine)
	pflag.Parse()
	ctrl.SetLogger(klog.Background())

	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	managerOpts.Scheme = scheme
	managerOpts.Cache.SyncPeriod = &syncPeriod

	tlsOptionOverrides, err := capiflags.GetTLSOptionOverrideFuncs(tlsOptions)
	if err != nil {
		setupLog.Error(err, "unable to add TLS settings to the webhook server")
		os.Exit(1)
	}
	managerOpts.WebhookServer = webhook.NewServer(webhook.Options{Port: webhookPort, TLSOpts: tlsOptionOverrides})
	managerOpts.Metrics = capiflags.GetDiagnosticsOptions(diagnosticsOptions)

	ctx := ctrl.SetupSignalHandler()
	mgr, err := manager.New(context.Background(), managerOpts)
	if err != nil {
		setupLog.Error(err, "problem creating controller manager")
		os.Exit(1)
	}
	if err := (&controllers.VSphereClusterReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "unable to create controller", "controller", "VSphereCluster")
		os.Exit(1)
	}
	if err := mgr.Start(ctx); err != nil {
		setupLog.Error(err, "problem running manager")
		os.Exit(1)
	}
}
