package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	ctrlmetricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/aws/eks-anywhere-packages/controllers"
)

type serverContext struct {
	metricsAddr          string
	enableLeaderElection bool
	probeAddr            string
}

var serverCommandContext = &serverContext{}

var serverCommand = &cobra.Command{
	Use:   "server",
	Short: "Run the package controller",
	Long:  "Run the package controller manager",
	RunE:  runServer,
}

func init() {
	rootCmd.AddCommand(serverCommand)
	serverCommand.Flags().StringVar(&serverCommandContext.metricsAddr, "metrics-bind-address", ":8080", "The address the metric endpoint binds to.")
	serverCommand.Flags().StringVar(&serverCommandContext.probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	serverCommand.Flags().BoolVar(&serverCommandContext.enableLeaderElection, "leader-elect", false,
		"Enable leader election for controller manager. "+
			"Enabling this will ensure there is only one active controller manager.")
}

func runServer(_ *cobra.Command, _ []string) error {
	return server()
}

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	// +kubebuilder:scaffold:scheme
}

func server() error {
	setupLog := ctrl.Log.WithName("setup")

	config := ctrl.GetConfigOrDie()
	mgr, err := ctrl.NewManager(config, ctrl.Options{
		Scheme: scheme,
		Metrics: ctrlmetricsserver.Options{
			BindAddress: serverCommandContext.metricsAddr,
		},
		WebhookServer: ctrlwebhook.NewServer(ctrlwebhook.Options{
			Port: 9443,
		}),
		HealthProbeBindAddress: serverCommandContext.probeAddr,
		LeaderElection:         serverCommandContext.enableLeaderElection,
		LeaderElectionID:       "6ef7a950.eks.amazonaws.com",
	})
	if err != nil {
		return fmt.Errorf("unable to start manager: %v", err)
	}

	if err = controllers.RegisterPackageReconciler(mgr); err != nil {
		return fmt.Errorf("unable to register package controller: %v", err)
	}
	// +kubebuilder:scaffold:builder

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("unable to set up health check: %v", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("unable to set up ready check: %v", err)
	}

	setupLog.Info("starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		return fmt.Errorf("problem running manager: %v", err)
	}
	return nil
}
