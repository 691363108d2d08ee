// SPDX-License-Identifier: Apache-2.0

package main

import (
	"io"

	"github.com/spf13/cobra"
)

func newRootCommand(out, errOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "diagkit",
		Short: "Serve a controller-runtime manager's metrics over authenticated HTTPS",
		Long: `diagkit retrofits Cluster API's diagnostics endpoint (--diagnostics-address, --insecure-diagnostics)
onto a controller-runtime repository: main.go, the RBAC markers, the Makefile's RBAC paths, role.yaml
and config/manager/manager.yaml. diagkit probe proves that a live endpoint refuses anonymous and
unprivileged callers, serves a reader, and has sound TLS.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.AddCommand(newRetrofitCommand(out, errOut), newDetectCommand(out), newProbeCommand(out), newCheckCommand(out, errOut))
	return root
}
