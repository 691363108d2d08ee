// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/diagkit/diagkit/generator"
	"github.com/diagkit/diagkit/generator/gosource"
)

func newDetectCommand(out io.Writer) *cobra.Command {
	var mainFlags []string
	cmd := &cobra.Command{
		Use:   "detect [DIR]",
		Short: "Print what retrofit finds in a repository, without planning anything",
		Long: `detect prints the facts retrofit works from: the manager's file and function, flag and options
style, controller-runtime, Cluster API and controller-gen versions, the RBAC generation command and the
manifests, and the reason when retrofit would refuse the repository: one block per manager when the module's
commands create several.`,
		Example: `  diagkit detect ../cluster-api-provider-tinkerbell`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			mains, err := parseMains(mainFlags)
			if err != nil {
				return err
			}
			// Everything detect can find is printed, one block per manager, whatever it cannot analyse;
			// the exit code is then retrofit's: 3 for a repository it refuses, 2 for a manager it cannot
			// patch. A command whose metrics server is off beside others is not an obstacle.
			targets, err := generator.DetectEach(dir, mains, generator.DetectOptions{Describe: true})
			var managerErr error
			for i, t := range targets {
				if t == nil {
					continue
				}
				var b strings.Builder
				t.Describe(&b)
				if i > 0 {
					fmt.Fprintln(out)
				}
				fmt.Fprint(out, b.String())
				if managerErr == nil && !(len(targets) > 1 && errors.Is(t.ManagerErr, gosource.ErrMetricsOff)) {
					managerErr = t.ManagerErr
				}
			}
			if err != nil {
				return err
			}
			return managerErr
		},
	}
	addMainFlag(cmd.Flags(), &mainFlags)
	return cmd
}
