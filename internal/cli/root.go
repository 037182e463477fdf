// Package cli implements the ddc-gitops command line: one subcommand per
// job (the agent's comes from internal/agentcmd, which the lean
// ddc-gitops-agent binary runs alone). main only wires signals and the exit
// code.
package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/ddc-gitops/ddc-gitops/internal/agentcmd"
	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
)

// Version is the program's version, reported by the API's /health.
const Version = cmdkit.Version

// Exit codes (cmdkit's).
const (
	ExitOK      = cmdkit.ExitOK
	ExitInvalid = cmdkit.ExitInvalid
	ExitUsage   = cmdkit.ExitUsage
)

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cmdkit.Run(ctx, newRoot(stdout, stderr), args, stderr)
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "ddc-gitops",
		Short: "GitOps control plane for HAProxy + keepalived fleets in front of a DDC",
		Long: `ddc-gitops keeps a fleet of HAProxy + keepalived hosts in the state described
by YAML files in git: zones, hosts, VIPs, frontends, backends and DDC nodes.`,
	}
	cmdkit.SetUpRoot(root, stdout, stderr)
	root.AddCommand(
		newValidateCmd(),
		newRenderCmd(),
		newPlanCmd(),
		agentcmd.New(),
		newAPICmd(),
		newBotCmd(),
		newLabCmd(),
		newStatusCmd(),
		newRolloutCmd(),
		newManCmd(),
		newSecretsCmd(),
		newDoctorCmd(),
		newVerifyCmd(),
	)
	return root
}
