// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/diagkit/diagkit/generator"
)

func newDetectCommand(out io.Writer) *cobra.Command {
	var main string
	cmd := &cobra.Command{
		Use:   "detect [DIR]",
		Short: "Print what retrofit finds in a repository, without planning anything",
		Long: `detect prints the facts retrofit works from: the manager's file and function, flag and options
style, controller-runtime, Cluster API and controller-gen versions, the RBAC generation command and the
manifests, and the reason when retrofit would refuse the repository.`,
		Example: `  diagkit detect ../cluster-api-provider-tinkerbell`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			// Everything detect can find is printed, whatever it cannot analyse; the exit code is then
			// retrofit's: 3 for a repository it refuses, 2 for a manager it cannot patch.
			target, err := generator.Detect(dir, generator.DetectOptions{Main: main, Describe: true})
			if target != nil {
				var b strings.Builder
				target.Describe(&b)
				fmt.Fprint(out, b.String())
			}
			if err != nil {
				return err
			}
			return target.ManagerErr
		},
	}
	cmd.Flags().StringVar(&main, "main", "", "the Go file that creates the manager, relative to DIR (default: detected)")
	return cmd
}
