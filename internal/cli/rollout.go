package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/api"
	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
)

// apiClientFlags locate the API and the token a client subcommand sends.
type apiClientFlags struct {
	apiURL, tokenFile string
	timeout           time.Duration
}

func (f *apiClientFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.apiURL, "api", "", "the API's base URL, e.g. http://127.0.0.1:9080 (required)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding an API token (or $"+statusTokenEnv+")")
	fl.DurationVar(&f.timeout, "timeout", 15*time.Second, "how long to wait for the API")
}

// target returns the API's base URL and the token, checked.
func (f *apiClientFlags) target() (base, token string, err error) {
	u, err := url.Parse(f.apiURL)
	if f.apiURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", cmdkit.UsageError{Err: fmt.Errorf("--api %q: want the API's base URL, http(s)://HOST:PORT", f.apiURL)}
	}
	token = os.Getenv(statusTokenEnv)
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return "", "", fmt.Errorf("reading the token: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		return "", "", cmdkit.UsageError{Err: fmt.Errorf("no API token: pass --token-file or set $%s", statusTokenEnv)}
	}
	return strings.TrimRight(f.apiURL, "/"), token, nil
}

func newRolloutCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Follow rollout waves and decide about a revision: status, promote, hold",
		Long: `rollout talks to the API about rollout waves (docs/rollouts.md, "Waves").

  rollout status         every host's wave and state (GET /api/v1/rollout, viewer)
  rollout promote REV    later waves stop waiting for earlier waves for REV (admin)
  rollout hold REV       no host applies REV, beyond those that already did (admin)

A decision is a git ref next to the branch (refs/ddc-rollout/<decision>/<sha>),
written by the API; it is about exactly REV and a later commit is not affected.
REV is a full commit hash or a unique prefix of one of the branch's recent commits.`,
		Args: cmdkit.ArgsRange(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmdkit.UsageError{Err: fmt.Errorf("rollout needs a subcommand: status, promote or hold")}
		},
	}
	cmd.AddCommand(newRolloutStatusCmd(), newRolloutDecisionCmd(agentapi.DecisionPromote), newRolloutDecisionCmd(agentapi.DecisionHold))
	return cmd
}

func newRolloutDecisionCmd(decision string) *cobra.Command {
	var f apiClientFlags
	short := "Promote REV: hosts of later waves apply it without waiting for earlier waves"
	if decision == agentapi.DecisionHold {
		short = "Hold REV: no host applies it, beyond those that already did"
	}
	cmd := &cobra.Command{
		Use:   decision + " REV",
		Short: short,
		Args:  cmdkit.ArgsRange(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			base, token, err := f.target()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			rev, err := resolveRevision(ctx, base, token, args[0])
			if err != nil {
				return err
			}
			var out api.RolloutDecisionResponse
			if err := callAPI(ctx, http.MethodPost, base+"/api/v1/rollout/"+rev+"/"+decision, token, &out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s: recorded as %s\n", out.Decision, out.Revision, out.Ref)
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func newRolloutStatusCmd() *cobra.Command {
	var f apiClientFlags
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every host's rollout wave and state (up to date, holding and why, applying, failed, unreachable)",
		Args:  cmdkit.ArgsRange(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return cmdkit.UsageError{Err: fmt.Errorf("--output must be table or json, got %q", output)}
			}
			base, token, err := f.target()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			var v api.WavesResponse
			if err := callAPI(ctx, http.MethodGet, base+"/api/v1/rollout", token, &v); err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			return printWaves(cmd.OutOrStdout(), &v)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func printWaves(out io.Writer, v *api.WavesResponse) error {
	fmt.Fprintf(out, "Branch head %s\n\n", short12(v.Revision))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WAVE\tZONE\tHOST\tSTATE\tAPPLIED\tLAST GOOD\tHOLDING\tWAITING FOR")
	for _, h := range v.Hosts {
		wave := fmt.Sprint(h.Wave)
		if h.Wave < 0 {
			wave = "?"
		}
		why := strings.Join(h.WaitingFor, "; ")
		if h.Decision != "" {
			why = strings.TrimPrefix(why+"; ", "; ") + "decision: " + h.Decision
		}
		if !h.Reachable {
			why = h.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", wave, h.Zone, h.Host, h.State, short12(h.AppliedRevision), short12(h.LastGoodRevision),
			short12(h.Holding), dash(oneLine(why)))
	}
	return tw.Flush()
}

// resolveRevision returns rev when it is a full hash, else the one recent
// commit of the branch (GET /api/v1/fleet) it is a prefix of.
func resolveRevision(ctx context.Context, base, token, rev string) (string, error) {
	rev = strings.ToLower(rev)
	if len(rev) == 40 {
		return rev, nil
	}
	if len(rev) < 4 || strings.Trim(rev, "0123456789abcdef") != "" {
		return "", cmdkit.UsageError{Err: fmt.Errorf("REV %q: want a commit hash or a prefix of at least 4 hex digits", rev)}
	}
	_, view, err := fetchFleet(ctx, base, token)
	if err != nil {
		return "", err
	}
	var found []string
	for _, c := range view.Commits {
		if strings.HasPrefix(c.Revision, rev) {
			found = append(found, c.Revision)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("no recent commit of the branch starts with %s: give the full hash", rev)
	default:
		return "", fmt.Errorf("%s is ambiguous (%s): give more digits", rev, strings.Join(found, ", "))
	}
}

// callAPI sends an authenticated request and decodes a 2xx answer into out.
func callAPI(ctx context.Context, method, u, token string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("reading the answer of %s %s: %w", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		var ae api.APIError
		if json.Unmarshal(body, &ae) == nil && ae.Message != "" {
			return fmt.Errorf("%s %s answered %s: %s", method, u, resp.Status, ae.Message)
		}
		return fmt.Errorf("%s %s answered %s: %s", method, u, resp.Status, bytes.TrimSpace(body))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decoding the answer of %s %s: %w", method, u, err)
	}
	return nil
}
