package cli

import (
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/ddc-gitops/ddc-gitops/examples"
	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
	"github.com/ddc-gitops/ddc-gitops/lab"
	"github.com/ddc-gitops/ddc-gitops/lab/devchain"
	"github.com/ddc-gitops/ddc-gitops/lab/nodesim"
)

func newLabCmd() *cobra.Command {
	var o lab.Options
	var fleetDir, logFormat, logLevel string
	ports := lab.DefaultPorts()
	eu, us := ports["eu"], ports["us"]
	up := func(cmd *cobra.Command, _ []string) error {
		log, err := cmdkit.NewLogger(os.Stderr, logFormat, logLevel)
		if err != nil {
			return err
		}
		var fleet fs.FS = examples.Fleet()
		if fleetDir != "" {
			fleet = os.DirFS(fleetDir)
		}
		o.Fleet, o.Out, o.Logger, o.Version = fleet, cmd.OutOrStdout(), log, Version
		o.Ports = map[string]lab.ZonePorts{"eu": eu, "us": us}
		return lab.Up(cmd.Context(), o)
	}
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Bring up the local multi-zone lab (root): git server, EU and US HAProxy hosts with keepalived and agents, DDC node simulators, APIs",
		Long: `lab runs the original design's topology on this machine, GitOps-style: a git
server seeded with the example fleet (or --fleet DIR) and a working clone, the
EU and US zones with two HAProxy hosts each in network namespaces (198.18.1.0/24
and 198.18.2.0/24), keepalived with two VIPs per zone, one agent per host, three
DDC node simulators per zone, and one API per zone that receives the git
server's push webhooks. It runs a dev chain (geth --dev, built once from the
go-ethereum version this program uses and cached) with the NodeRegistry, the
node-admission bot in no-GitHub mode, one spare node simulator per zone to
admit with 'ddc-gitops lab node', Prometheus with the fleet's alert rules and
Alertmanager (--no-prometheus leaves both out). It forwards the original URLs
from this machine (EU load balancer :80, US :8086, stats :8404/:8406, APIs and
their status pages :9080/:9081, Prometheus :9090, Alertmanager :9093, chain
:8545/:8546),
prints them with the admin password, and tears everything down on Ctrl-C.
'ddc-gitops lab down' cleans up a lab that crashed.

Needs root (network namespaces).`,
		Args: cmdkit.ArgsRange(0, 0),
		RunE: up,
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Prefix, "prefix", lab.DefaultPrefix, "prefix of the lab's namespaces and links")
	fl.StringVar(&o.StateDir, "state-dir", lab.DefaultStateDir, "where the lab keeps its repository, clone, host state and logs (emptied at start)")
	fl.StringVar(&fleetDir, "fleet", "", "fleet directory to seed the repository with (default: the embedded examples/fleet)")
	fl.StringVar(&o.ListenHost, "listen-host", "127.0.0.1", "address of the forwards, APIs and git server")
	fl.IntVar(&o.GitPort, "git-port", 0, "git server port (0: a free one)")
	fl.BoolVar(&o.NoChain, "no-chain", false, "no dev chain, spare nodes or bot (no geth build)")
	fl.IntVar(&o.ChainHTTPPort, "chain-http-port", lab.DefaultChainHTTPPort, "dev chain JSON-RPC over HTTP (0: a free port)")
	fl.IntVar(&o.ChainWSPort, "chain-ws-port", lab.DefaultChainWSPort, "dev chain JSON-RPC over WebSocket (0: a free port)")
	fl.StringVar(&o.GethCacheDir, "geth-cache", "", "where geth is built and kept (default ~/.cache/ddc-gitops; $DDC_GITOPS_GETH names a binary instead)")
	fl.BoolVar(&o.NoPrometheus, "no-prometheus", false, "no Prometheus and Alertmanager (otherwise both must be installed: make deps)")
	fl.IntVar(&o.PrometheusPort, "prometheus-port", lab.DefaultPrometheusPort, "Prometheus (0: a free port)")
	fl.IntVar(&o.AlertmanagerPort, "alertmanager-port", lab.DefaultAlertmanagerPort, "Alertmanager (0: a free port)")
	fl.IntVar(&eu.LB, "eu-port", eu.LB, "EU load balancer (0: a free port)")
	fl.IntVar(&us.LB, "us-port", us.LB, "US load balancer (0: a free port)")
	fl.IntVar(&eu.Stats, "eu-stats-port", eu.Stats, "EU stats page")
	fl.IntVar(&us.Stats, "us-stats-port", us.Stats, "US stats page")
	fl.IntVar(&eu.API, "eu-api-port", eu.API, "EU API")
	fl.IntVar(&us.API, "us-api-port", us.API, "US API")
	fl.StringVar(&logFormat, "log-format", "auto", cmdkit.LogFormatUsage)
	fl.StringVar(&logLevel, "log-level", "warn", "log level of the lab's own logs (children log under STATE-DIR/logs)")

	var downPrefix, downState string
	down := &cobra.Command{
		Use:   "down",
		Short: "Stop a running lab and remove every namespace, link and process it left",
		Args:  cmdkit.ArgsRange(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return lab.Down(cmd.Context(), downPrefix, downState, cmd.OutOrStdout())
		},
	}
	down.Flags().StringVar(&downPrefix, "prefix", lab.DefaultPrefix, "prefix of the lab's namespaces and links")
	down.Flags().StringVar(&downState, "state-dir", lab.DefaultStateDir, "the lab's state directory")

	var sim nodesim.Options
	simCmd := &cobra.Command{
		Use:   "nodesim",
		Short: "Run one DDC node simulator (/health JSON, a plain answer naming the node, gRPC health over h2c)",
		Args:  cmdkit.ArgsRange(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sim.Zone == "" || sim.Node == "" || sim.HTTPAddr == "" {
				return cmdkit.UsageError{Err: fmt.Errorf("--zone, --node and --listen are required")}
			}
			log, err := cmdkit.NewLogger(os.Stderr, "auto", "info")
			if err != nil {
				return err
			}
			sim.Logger = log
			return nodesim.Run(cmd.Context(), sim)
		},
	}
	simCmd.Flags().StringVar(&sim.Zone, "zone", os.Getenv("DDC_GITOPS_ZONE"), "zone the node reports (default $DDC_GITOPS_ZONE, set in containers the agent runs)")
	simCmd.Flags().StringVar(&sim.Node, "node", os.Getenv("DDC_GITOPS_CONTAINER"), "node name it reports (default $DDC_GITOPS_CONTAINER, set in containers the agent runs)")
	simCmd.Flags().StringVar(&sim.HTTPAddr, "listen", "", "HTTP listen address (HTTP/1.1 and h2c)")
	simCmd.Flags().StringVar(&sim.GRPCAddr, "grpc-listen", "", "gRPC listen address (h2c)")
	simCmd.Flags().StringVar(&sim.ControlSocket, "control-socket", "", "Unix socket (mode 0600) where the lab sets the node's fault (see 'lab node-fault'); empty: none")

	var gethCache string
	gethCmd := &cobra.Command{
		Use:   "geth",
		Short: "Find or build (go install, once) the geth the lab's dev chain runs, and print its path",
		Args:  cmdkit.ArgsRange(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := gethCache
			if dir == "" {
				var err error
				if dir, err = devchain.DefaultCacheDir(); err != nil {
					return err
				}
			}
			errOut := cmd.ErrOrStderr()
			path, err := devchain.Geth(cmd.Context(), dir, func(format string, args ...any) {
				fmt.Fprintf(errOut, "lab: "+format+"\n", args...)
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), path)
			return nil
		},
	}
	gethCmd.Flags().StringVar(&gethCache, "geth-cache", "", "where geth is built and kept (default ~/.cache/ddc-gitops)")

	cmd.AddCommand(down, simCmd, gethCmd, newLabNodeCmd(), newLabLogsCmd(), newLabNodeFaultCmd())
	return cmd
}
