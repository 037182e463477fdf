package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
)

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate [DIR | git:REPO@REV]",
		Short: "Check a fleet's desired state; print every error as file:line:col: message",
		Long: `validate loads every file of the fleet (default: the current directory)
strictly, applies defaults, runs the semantic checks and the JSON Schemas,
and prints every problem as file:line:col: field: message on stderr.
Exit status 0: valid; 1: invalid; 2: usage error.`,
		Args: cmdkit.ArgsRange(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			arg := "."
			if len(args) == 1 {
				arg = args[0]
			}
			src, err := openFleet(cmd.Context(), arg)
			if err != nil {
				return err
			}
			f, errs := src.load()
			if len(errs) == 0 {
				// As if committed now: an override ends at most
				// desired.MaxOverrideLife after its commit.
				errs = desired.CheckOverrideBounds(f, time.Now())
				for i := range errs {
					errs[i].File = src.display(errs[i].File)
				}
			}
			if len(errs) > 0 {
				for _, e := range errs {
					fmt.Fprintln(cmd.ErrOrStderr(), e.Error())
				}
				return &cmdkit.ExitError{Code: ExitInvalid, Err: fmt.Errorf("%s: %d error(s)", arg, len(errs))}
			}
			hosts := 0
			for _, z := range f.Zones {
				hosts += len(z.Hosts)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid: fleet %q, %d zones, %d hosts, %d backends, %d nodes\n",
				arg, f.Name, len(f.Zones), hosts, len(f.Backends), len(f.Nodes))
			if advice := desired.ShardingAdvice(f); advice != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: note: %s\n", arg, advice)
			}
			return nil
		},
	}
}
