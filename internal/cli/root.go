// Package cli implements the ddc-gitops command line: one binary, one
// subcommand per job. main only wires signals and the exit code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Version is the program's version, reported by the API's /health.
const Version = "0.1.0"

// Exit codes.
const (
	ExitOK      = 0
	ExitInvalid = 1 // the input is invalid or the command failed
	ExitUsage   = 2 // wrong flags or arguments
)

// exitError carries an exit code through cobra. Its message, when not empty,
// has already been formatted for the user.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "error:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "error:", err)
	if isUsage(err) {
		return ExitUsage
	}
	return ExitInvalid
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "ddc-gitops",
		Short: "GitOps control plane for HAProxy + keepalived fleets in front of a DDC",
		Long: `ddc-gitops keeps a fleet of HAProxy + keepalived hosts in the state described
by YAML files in git: zones, hosts, VIPs, frontends, backends and DDC nodes.`,
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newValidateCmd(),
		newRenderCmd(),
		newPlanCmd(),
		newAgentCmd(),
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

type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// argsRange is cobra.RangeArgs that reports a usage error.
func argsRange(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.RangeArgs(min, max)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
