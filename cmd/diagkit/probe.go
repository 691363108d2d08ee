// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/diagkit/diagkit/probe"
)

// errInsecure ends a probe that found a failed check (exit 1, as errPending).
var errInsecure = errors.New("insecure")

// probeOptions are the flags of `diagkit probe`.
type probeOptions struct {
	probe.Options
	kubeconfig, context string
}

func (o *probeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of a user who may create namespaces, ServiceAccounts, tokens and cluster RBAC (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
	fs.StringVar(&o.context, "context", "", "kubeconfig context")
	o.Options.AddFlags(fs)
}

func (o *probeOptions) restConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	return cfg, nil
}

// Run probes, prints the report and returns errInsecure when a check failed. An interrupt (SIGINT,
// SIGTERM) stops the probe, which still deletes what it created.
func (o *probeOptions) Run(ctx context.Context, out io.Writer) error {
	cfg, err := o.restConfig()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := probe.Run(ctx, cfg, o.Options)
	if report != nil {
		write := report.WriteTable
		if o.Output == "json" {
			write = report.WriteJSON
		}
		if werr := write(out); werr != nil {
			return werr
		}
	}
	if err != nil {
		return err
	}
	if !report.Secure() {
		return errInsecure
	}
	return nil
}

func newProbeCommand(out io.Writer) *cobra.Command {
	o := &probeOptions{}
	cmd := &cobra.Command{
		Use:   "probe [TARGET]",
		Short: "Prove that a live metrics endpoint refuses anonymous and unprivileged callers and serves a reader",
		Long: `probe creates two short-lived ServiceAccounts (no RBAC; get on the probed paths) in a namespace of its
own, and asks each path as anonymous (must be 401), unprivileged (403) and reader (200). It inspects TLS:
version, TLS 1.1 refused, certificate expiry (warns under 30 days, fails when expired or not yet valid),
issuer (self-signed, or verified against --ca-file or the system roots) and names. It deletes what it
created, also when interrupted, and exits 1 when any check failed.

TARGET is https://HOST:PORT, or pod/NAME, service/NAME or deployment/NAME reached through the API
server's port-forward. --kubelet NODE probes that node's kubelet instead.`,
		Example: `  diagkit probe https://10.0.0.12:8443
  diagkit probe -n capi-system deployment/capi-controller-manager --port 8443 -o json
  diagkit probe --kubelet worker-1`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Target = args[0]
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context(), out)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}
