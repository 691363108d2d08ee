// Package cmd holds the package-manager command line.
package cmd

import (
	"github.com/spf13/cobra"
	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

type rootContext struct {
	verbosity int
}

var rootCommandContext = &rootContext{}

var rootCmd = &cobra.Command{
	Use:              "package-manager",
	Short:            "Amazon EKS Anywhere Curated Packages controller",
	Long:             `Manages the lifecycle of curated packages in an EKS Anywhere cluster`,
	PersistentPreRun: rootPersistentPreRun,
}

func init() {
	rootCmd.PersistentFlags().IntVarP(&rootCommandContext.verbosity, "verbosity", "v", 0, "Set the log level verbosity")
}

func rootPersistentPreRun(_ *cobra.Command, _ []string) {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(zapcore.Level(-rootCommandContext.verbosity))))
}

// Execute runs the root command.
func Execute() error {
	return rootCmd.Execute()
}
