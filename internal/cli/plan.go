package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
	"github.com/ddc-gitops/ddc-gitops/plan"
	"github.com/ddc-gitops/ddc-gitops/render"
)

func newPlanCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plan [--json] OLD NEW",
		Short: "Show, per host, what changes between two revisions and how it will be applied",
		Long: `plan compares two revisions of the desired state, each a directory or
git:REPO@REV (e.g. git:.@main~1 git:.@main), and prints per host whether the
change is runtime-only (server add/remove/weight/address/state through the
HAProxy runtime API, no reload), an haproxy reload, a keepalived reload, or
nothing. The text output is Markdown, ready for a pull-request comment.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return cmdkit.UsageError{Err: fmt.Errorf("plan needs OLD and NEW, got %d argument(s)", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var fleets [2]*fleetSource
			for i, a := range args {
				src, err := openFleet(cmd.Context(), a)
				if err != nil {
					return err
				}
				fleets[i] = src
			}
			oldF, oldErrs := fleets[0].load()
			newF, newErrs := fleets[1].load()
			if len(oldErrs)+len(newErrs) > 0 {
				for _, e := range append(oldErrs, newErrs...) {
					fmt.Fprintln(cmd.ErrOrStderr(), e.Error())
				}
				return &cmdkit.ExitError{Code: ExitInvalid, Err: fmt.Errorf("cannot plan: %d error(s) in OLD, %d in NEW", len(oldErrs), len(newErrs))}
			}
			// No FleetDir: a relative crtBase renders as written on both
			// sides, so the checkout location does not show up as a change.
			p, err := plan.Compute(oldF, newF, render.Options{})
			if err != nil {
				return fmt.Errorf("computing the plan: %w", err)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(p)
			}
			return p.WriteText(cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	return cmd
}
