// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/diagkit/diagkit/generator/check"
)

// errFindings ends a check that found defects: exit 1, like pending changes.
var errFindings = fmt.Errorf("findings reported: %w", errPending)

// checkOptions are the flags of `diagkit check`.
type checkOptions struct {
	dir       string
	mainFlags []string
	output    string
}

func (o *checkOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.output, "output", "o", "text", `output format: text (one block per finding and a summary) or json ({"findings":[…]})`)
	addMainFlag(fs, &o.mainFlags)
}

func (o *checkOptions) Validate() error {
	if o.output != "text" && o.output != "json" {
		return fmt.Errorf("--output %q: want text or json", o.output)
	}
	return nil
}

// Run checks the repository, prints the findings and returns errFindings when there are any. With JSON
// on out, the summary goes to errOut, so that a CI log shows it and out stays one document.
func (o *checkOptions) Run(out, errOut io.Writer) error {
	mains, err := parseMains(o.mainFlags)
	if err != nil {
		return err
	}
	findings, err := check.Run(o.dir, check.Options{Mains: mains})
	if err != nil {
		return err
	}
	if o.output == "json" {
		if err := check.WriteJSON(out, findings); err != nil {
			return err
		}
		fmt.Fprintln(errOut, check.Summary(findings))
	} else if err := check.WriteText(out, findings); err != nil {
		return err
	}
	if len(findings) > 0 {
		return errFindings
	}
	return nil
}

func newCheckCommand(out, errOut io.Writer) *cobra.Command {
	o := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "check [DIR]",
		Short: "Prove statically that a repository serves its metrics securely (for CI)",
		Long: `check reads the repository in DIR (default: the current directory) as retrofit does and reports each
defect that leaves the diagnostics endpoint insecure or broken, with the file and line at fault and the fix:
RBAC markers controller-gen ignores or does not scan, a role.yaml without the review rules or out of date,
manifests without the diagnostics arguments or port, insecure or plain-HTTP metrics, a kube-rbac-proxy on the
diagnostics port, TLS options main.go drops, committed bundles behind config/. It writes nothing.

Exit codes: 0 no findings; 1 findings; 2 error (not a Go module, no manager, unreadable files); 3 refused
(controller-runtime before v0.16).`,
		Example: `  diagkit check                 # in CI, after retrofit: fails when the repository drifted
  diagkit check -o json ../eks-anywhere`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.dir = "."
			if len(args) == 1 {
				o.dir = args[0]
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(out, errOut)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}
