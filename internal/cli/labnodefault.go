package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
	"github.com/ddc-gitops/ddc-gitops/lab"
	"github.com/ddc-gitops/ddc-gitops/lab/nodesim"
)

func newLabNodeFaultCmd() *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "node-fault NODE [healthy|unhealthy|slow=DURATION|error=STATUS[,...]]",
		Short: "Make a lab node simulator unhealthy, slow or erroring (or healthy again); without a fault, print its current one",
		Long: `node-fault sets what one of the running lab's node simulators (e.g. eu-node-1)
does wrong, through its control socket (STATE-DIR/nodes/NODE.sock, which only
the lab's user can reach), until the next node-fault:

  healthy          no fault (the default)
  unhealthy        GET /health answers 503, gRPC health NOT_SERVING: HAProxy
                   marks the server DOWN after its check's fall count
  slow=DURATION    every answer, health checks included, comes DURATION late
                   (at most 1m); longer than the check timeout marks it DOWN
  error=STATUS     every request but the health checks answers STATUS
                   (500 to 599): the server stays UP and its traffic fails

Faults combine with commas: unhealthy,slow=2s.`,
		Args: cmdkit.ArgsRange(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
			defer cancel()
			node := args[0]
			if len(args) == 1 {
				f, err := lab.NodeFault(ctx, stateDir, node)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", node, f)
				return nil
			}
			f, err := nodesim.ParseFault(args[1])
			if err != nil {
				return cmdkit.UsageError{Err: err}
			}
			got, err := lab.SetNodeFault(ctx, stateDir, node, f)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", node, got)
			return nil
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", lab.DefaultStateDir, "the lab's state directory")
	return cmd
}
