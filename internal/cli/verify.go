package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ddc-gitops/ddc-gitops/gittree"
	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
	"github.com/ddc-gitops/ddc-gitops/trust"
)

func newVerifyCmd() *cobra.Command {
	var repoDir, policy string
	cmd := &cobra.Command{
		Use:   "verify [--repo DIR] [BASE..]HEAD --trust-policy FILE",
		Short: "Check that an agent running BASE would accept HEAD under a trust policy",
		Long: `verify runs the agents' trust check (docs/trust.md) on the command line or
in CI: every commit reachable from HEAD and not from BASE (first parents and
merged branches) must be signed (SSH or OpenPGP) by a key of the policy whose
rules allow all its changes, and BASE must be an ancestor of HEAD unless the
policy allows rewrites. A PR check runs it with BASE the target branch and
HEAD the proposed branch. Without BASE, HEAD is judged as a host with no
applied revision would judge it (the policy's since commit, or HEAD alone).

Each refused commit is printed with its author, key and the rule it breaks.
Exit status 0: accepted; 1: refused (or the repository could not be read);
2: usage error.`,
		Args: cmdkit.ArgsRange(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if policy == "" {
				return cmdkit.UsageError{Err: errors.New("--trust-policy FILE is required")}
			}
			baseRev, headRev, hasBase := strings.Cut(args[0], "..")
			if !hasBase {
				baseRev, headRev = "", args[0]
			}
			if headRev == "" || (hasBase && baseRev == "") || strings.HasPrefix(headRev, ".") {
				return cmdkit.UsageError{Err: fmt.Errorf("%q: want BASE..HEAD or HEAD", args[0])}
			}
			p, err := trust.Load(policy)
			if err != nil {
				return &cmdkit.ExitError{Code: ExitInvalid, Err: err}
			}
			repo, closer, err := gittree.OpenRepository(repoDir)
			if err != nil {
				return fmt.Errorf("opening git repository %s: %w", repoDir, err)
			}
			defer closer.Close()
			head, err := gittree.ResolveCommit(repo, headRev)
			if err != nil {
				return err
			}
			base := ""
			if hasBase {
				b, err := gittree.ResolveCommit(repo, baseRev)
				if err != nil {
					return err
				}
				base = b.Hash.String()
			}
			res, err := trust.NewVerifier(p).VerifyRange(cmd.Context(), repo.Storer, base, head.Hash.String())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, f := range res.Reverted {
				fmt.Fprintf(out, "reverted: %s (every change of it is undone at %s)\n", f, short(res.Head))
			}
			for _, f := range res.Refusals {
				fmt.Fprintf(out, "refused: %s\n", f)
			}
			if res.Refused() {
				return &cmdkit.ExitError{Code: ExitInvalid, Err: fmt.Errorf("%s refused: %d commit(s) break the trust policy %s", args[0], len(res.Refusals), policy)}
			}
			fmt.Fprintf(out, "%s: accepted: %d commit(s) verified against %s\n", args[0], res.Verified, policy)
			return nil
		},
	}
	cmd.Flags().StringVar(&repoDir, "repo", ".", "git repository (a work tree or a bare repository)")
	cmd.Flags().StringVar(&policy, "trust-policy", "", "the trust policy file")
	return cmd
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
