package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ddc-gitops/ddc-gitops/api"
	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
)

// statusTokenEnv holds the API token `status` sends when no --token-file
// is given.
const statusTokenEnv = "DDC_GITOPS_API_TOKEN"

type statusFlags struct {
	apiURL, tokenFile, output string
	timeout                   time.Duration
}

func newStatusCmd() *cobra.Command {
	var f statusFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the fleet: every host's applied and desired revision, last result, drift and VIPs",
		Long: `status asks the API (GET /api/v1/fleet, viewer role) for the fleet as the
agents report it and prints one line per host, then the last commits with
their rollout. -o json prints the API's answer.

The token comes from --token-file or $` + statusTokenEnv + ` (get one with
POST /api/v1/auth/token). The exit code is 1 when a host failed, is stalled
on an invalid revision, or cannot be reached; 0 otherwise.`,
		Args: cmdkit.ArgsRange(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.apiURL, "api", "", "the API's base URL, e.g. http://127.0.0.1:9080 (required)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding an API token (or $"+statusTokenEnv+")")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	fl.DurationVar(&f.timeout, "timeout", 15*time.Second, "how long to wait for the API")
	return cmd
}

func runStatus(ctx context.Context, out io.Writer, f statusFlags) error {
	if f.output != "table" && f.output != "json" {
		return cmdkit.UsageError{Err: fmt.Errorf("--output must be table or json, got %q", f.output)}
	}
	base, token, err := (&apiClientFlags{apiURL: f.apiURL, tokenFile: f.tokenFile}).target()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	raw, view, err := fetchFleet(ctx, base, token)
	if err != nil {
		return err
	}
	if f.output == "json" {
		if _, err := out.Write(raw); err != nil {
			return err
		}
	} else if err := printFleet(out, view); err != nil {
		return err
	}
	if bad := unhealthyHosts(view); len(bad) > 0 {
		return &cmdkit.ExitError{Code: ExitInvalid, Err: fmt.Errorf("%d host(s) failed, stalled or unreachable: %s", len(bad), strings.Join(bad, ", "))}
	}
	return nil
}

// fetchFleet reads GET /api/v1/fleet.
func fetchFleet(ctx context.Context, base, token string) ([]byte, *api.FleetView, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/fleet", nil)
	if err != nil {
		return nil, nil, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("asking %s for the fleet: %w", base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the fleet from %s: %w", base, err)
	}
	if resp.StatusCode != http.StatusOK {
		var ae api.APIError
		if json.Unmarshal(body, &ae) == nil && ae.Message != "" {
			return nil, nil, fmt.Errorf("the API at %s answered %s: %s", base, resp.Status, ae.Message)
		}
		return nil, nil, fmt.Errorf("the API at %s answered %s", base, resp.Status)
	}
	var v api.FleetView
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, nil, fmt.Errorf("decoding the fleet from %s: %w", base, err)
	}
	return body, &v, nil
}

// unhealthyHosts lists the hosts that make `status` exit 1.
func unhealthyHosts(v *api.FleetView) []string {
	var out []string
	for _, z := range v.Zones {
		for _, h := range z.Hosts {
			if !h.Reachable || h.Failed() {
				out = append(out, h.Host)
			}
		}
	}
	return out
}

func printFleet(out io.Writer, v *api.FleetView) error {
	s := v.Summary
	fmt.Fprintf(out, "Branch head %s: %d hosts, %d on the head, %d failing, %d stalled, %d unreachable\n\n",
		short12(v.Revision), s.Hosts, s.UpToDate, s.Failing, s.Stalled, s.Unreachable)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ZONE\tHOST\tAPPLIED\tDESIRED\tREADY\tRESULT\tDRIFT\tRELOADS\tROLLBACKS\tVIPS\tMESSAGE")
	for _, z := range v.Zones {
		for _, h := range z.Hosts {
			if !h.Reachable {
				fmt.Fprintf(tw, "%s\t%s\t-\t-\tFalse\tunreachable\t-\t-\t-\t-\t%s\n", z.Name, h.Host, oneLine(h.Error))
				continue
			}
			var vips []string
			for _, vip := range h.VIPs {
				if vip.Held {
					vips = append(vips, vip.Address)
				}
			}
			msg := h.LastError
			if msg == "" && len(h.Drift) > 0 {
				msg = "drift: " + strings.Join(h.Drift, "; ")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d/%d\t%d\t%s\t%s\n", z.Name, h.Host, short12(h.AppliedRevision), short12(h.DesiredRevision),
				titleBool(h.UpToDate && !h.Failed()), h.LastResult, len(h.Drift), h.Counts.HAProxyReloads, h.Counts.KeepalivedReloads, h.Counts.Rollbacks,
				dash(strings.Join(vips, ",")), oneLine(msg))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(v.Commits) > 0 {
		fmt.Fprintln(out)
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REVISION\tAPPLIED\tSUBJECT")
		for _, c := range v.Commits {
			n, failed := 0, 0
			for _, st := range c.Hosts {
				switch st {
				case api.RolloutApplied:
					n++
				case api.RolloutFailed:
					failed++
				}
			}
			rollout := fmt.Sprintf("%d/%d", n, len(c.Hosts))
			if failed > 0 {
				rollout += fmt.Sprintf(" (%d failed)", failed)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", short12(c.Revision), rollout, oneLine(c.Subject))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(v.Proposals) > 0 {
		fmt.Fprintf(out, "\n%d open node proposal(s):\n", len(v.Proposals))
		for _, p := range v.Proposals {
			fmt.Fprintf(out, "  %s #%d %s\n", p.Node, p.Number, p.URL)
		}
	}
	return nil
}

func short12(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return dash(s)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func titleBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// oneLine keeps a message on its table row.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
