// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/diagkit/diagkit/generator"
	"github.com/diagkit/diagkit/generator/check"
	"github.com/diagkit/diagkit/generator/gosource"
)

// retrofitOptions are the flags of `diagkit retrofit`.
type retrofitOptions struct {
	dir                string
	mainFlags          []string
	mains              []generator.Main
	backend            string
	diagnosticsVersion string
	diff, check, dry   bool
}

func (o *retrofitOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.diff, "diff", false, "print a unified diff (git apply accepts it) instead of writing; exit 1 when changes are pending")
	fs.BoolVar(&o.check, "check", false, "list the files that would change instead of writing; exit 1 when any would")
	fs.BoolVar(&o.dry, "dry-run", false, "print the plan summary instead of writing")
	addMainFlag(fs, &o.mainFlags)
	fs.StringVar(&o.backend, "backend", "", "diagkit (the diagnostics module) or capi (Cluster API util/flags) (default: capi when the repository requires Cluster API ≥ v1.8 and uses pflag)")
	fs.StringVar(&o.diagnosticsVersion, "diagnostics-version", generator.DiagnosticsVersion, "version of "+gosource.DiagnosticsImport+" to require")
}

func (o *retrofitOptions) Validate() error {
	modes := 0
	for _, on := range []bool{o.diff, o.check, o.dry} {
		if on {
			modes++
		}
	}
	var errs []error
	if modes > 1 {
		errs = append(errs, errors.New("--diff, --check and --dry-run are mutually exclusive"))
	}
	var err error
	if o.mains, err = parseMains(o.mainFlags); err != nil {
		errs = append(errs, err)
	}
	switch gosource.Backend(o.backend) {
	case "", gosource.Diagkit, gosource.CAPI:
	default:
		errs = append(errs, fmt.Errorf("--backend %q: want diagkit or capi", o.backend))
	}
	return errors.Join(errs...)
}

func (o *retrofitOptions) Run(out, errOut io.Writer) error {
	plan, err := generator.RetrofitRepository(o.dir, o.mains, generator.Options{Backend: gosource.Backend(o.backend), DiagnosticsVersion: o.diagnosticsVersion})
	if err != nil {
		return err
	}
	switch {
	case o.diff:
		if err := plan.Diff(out); err != nil {
			return err
		}
		for _, m := range plan.Managers {
			fmt.Fprintln(errOut, "manager", m)
		}
		for _, w := range plan.Warnings {
			fmt.Fprintln(errOut, "warning:", w)
		}
	case o.check:
		for _, p := range plan.Paths() {
			fmt.Fprintln(out, p)
		}
	case o.dry:
		plan.Summary(out)
		return nil
	default:
		if err := generator.Apply(plan); err != nil {
			return err
		}
		plan.Summary(out)
		// What the generator does not write itself (committed bundles, discarded TLS options, …), as
		// diagkit check reports it: each with its file, line and fix.
		findings, err := check.Run(o.dir, check.Options{Mains: o.mains})
		if err != nil {
			// The retrofit itself succeeded and is written.
			fmt.Fprintln(errOut, "warning: diagkit check could not run:", err)
			return nil
		}
		if len(findings) == 0 {
			return nil
		}
		fmt.Fprintln(out, "\nleft for you (diagkit check):")
		return check.WriteText(out, findings)
	}
	if !plan.Empty() {
		return errPending
	}
	return nil
}

func newRetrofitCommand(out, errOut io.Writer) *cobra.Command {
	o := &retrofitOptions{}
	cmd := &cobra.Command{
		Use:   "retrofit [DIR]",
		Short: "Patch a repository so its manager serves metrics through secure diagnostics",
		Long: `retrofit detects the manager in DIR (default: the current directory), plans every edit, then writes
all files or none. A second run changes nothing. A repository with several commands creating a manager (an
operator and its webhook server) gets each retrofitted, each in the Deployment that runs its binary; --main
names the ones to retrofit, and FILE=MANIFEST the Deployment's file when diagkit cannot tell it.

Exit codes: 0 done (or nothing to do); 1 changes pending (--diff, --check); 2 error; 3 refused.`,
		Example: `  diagkit retrofit --diff > diagnostics.patch   # review, then git apply diagnostics.patch
  diagkit retrofit                              # write the changes, print what changed
  diagkit retrofit --check                      # in CI: fails when the repository drifted
  diagkit retrofit --main cmd/operator/main.go --main cmd/webhook/main.go=config/webhook/deployment.yaml`,
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

// addMainFlag registers --main, which retrofit, check and detect share.
func addMainFlag(fs *pflag.FlagSet, mains *[]string) {
	fs.StringArrayVar(mains, "main", nil, "FILE[=MANIFEST]: the Go file that creates a manager, relative to DIR, and the YAML file of the Deployment running it; "+
		"repeat it for several managers (default: every manager of the module's commands, each in the Deployment running its binary)")
}

func parseMains(flags []string) ([]generator.Main, error) {
	var mains []generator.Main
	var errs []error
	for _, f := range flags {
		m, err := generator.ParseMain(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		mains = append(mains, m)
	}
	return mains, errors.Join(errs...)
}
