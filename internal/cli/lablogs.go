package cli

import (
	"github.com/spf13/cobra"

	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
	"github.com/ddc-gitops/ddc-gitops/lab"
)

func newLabLogsCmd() *cobra.Command {
	o := lab.LogsOptions{}
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Print the lab's logs (every child's, each zone API's) merged in time order",
		Long: `logs merges STATE-DIR/logs/*.log (one file per agent host with its haproxy and
keepalived, node simulator, bot, geth, Prometheus, Alertmanager, and each
zone's API) by timestamp and prints "MACHINE | LINE". --component keeps the
lines of one component (a line's component field, such as agent, api,
git-source, bot, chain-watcher, or a file kind: agent, api, node, bot,
prometheus, alertmanager, geth); --host the lines of one machine or whose host
field matches. --follow keeps printing new lines until interrupted.`,
		Args: cmdkit.ArgsRange(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return lab.Logs(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.StateDir, "state-dir", lab.DefaultStateDir, "the lab's state directory")
	fl.StringVar(&o.Component, "component", "", "only this component")
	fl.StringVar(&o.Host, "host", "", "only this machine (host, node, bot...)")
	fl.BoolVarP(&o.Follow, "follow", "f", false, "keep printing new lines")
	return cmd
}
