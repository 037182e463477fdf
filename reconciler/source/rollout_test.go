package source_test

import (
	"context"
	"os/exec"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
)

// TestRolloutDecisionsAndAncestry checks the optional interfaces waves use:
// decision refs are fetched by Sync with the branch (over HTTP and from a
// path), a withdrawn one disappears, and ancestry is read from the clone.
func TestRolloutDecisionsAndAncestry(t *testing.T) {
	for _, tr := range transports[:2] {
		t.Run(tr.name, func(t *testing.T) {
			srv := gitservertest.New(t, gitserver.Options{})
			seed := gitservertest.MustSeed(t, srv, "../../examples/fleet", "seed")
			next := gitservertest.MustCommit(t, srv, map[string][]byte{"README": []byte("x\n")}, nil, "next")
			src := newSource(t, tr.url(srv))
			mustSync(t, src)
			ctx := context.Background()
			git := func(args ...string) {
				t.Helper()
				out, err := exec.Command("git", append([]string{"-C", srv.RepoPath()}, args...)...).CombinedOutput()
				if err != nil {
					t.Fatalf("git %v: %v\n%s", args, err, out)
				}
			}

			d, err := src.RolloutDecisions(ctx)
			if err != nil || len(d) != 0 {
				t.Fatalf("no decisions: got %v, %v", d, err)
			}
			git("update-ref", agentapi.RolloutRef(agentapi.DecisionHold, next), next)
			git("update-ref", agentapi.RolloutRef(agentapi.DecisionPromote, seed), seed)
			git("update-ref", "refs/ddc-rollout/other/"+seed, seed) // not a decision: ignored
			if d, _ = src.RolloutDecisions(ctx); len(d) != 0 {
				t.Fatalf("decisions seen before a Sync fetched them: %v", d)
			}
			mustSync(t, src)
			d, err = src.RolloutDecisions(ctx)
			if err != nil || d[next] != agentapi.DecisionHold || d[seed] != agentapi.DecisionPromote || len(d) != 2 {
				t.Fatalf("decisions: got %v, %v", d, err)
			}
			git("update-ref", "-d", agentapi.RolloutRef(agentapi.DecisionHold, next))
			mustSync(t, src)
			d, err = src.RolloutDecisions(ctx)
			if err != nil || d[next] != "" || len(d) != 1 {
				t.Fatalf("after withdrawing the hold: got %v, %v", d, err)
			}
			// The branch did not move: a Sync still returns next.
			if snap := mustSync(t, src); snap.Revision.Hash != next {
				t.Errorf("head %s, want %s", snap.Revision.Hash, next)
			}
			// A fresh clone brings the decisions with it.
			fresh := newSource(t, tr.url(srv))
			mustSync(t, fresh)
			if d, err = fresh.RolloutDecisions(ctx); err != nil || d[seed] != agentapi.DecisionPromote || len(d) != 1 {
				t.Fatalf("decisions of a fresh clone: got %v, %v", d, err)
			}

			for _, tc := range []struct {
				a, b string
				want bool
			}{
				{seed, next, true}, {next, seed, false}, {next, next, true},
				{"0123456789abcdef0123456789abcdef01234567", next, false}, {"short", next, false},
			} {
				got, err := src.IsAncestor(ctx, tc.a, tc.b)
				if err != nil || got != tc.want {
					t.Errorf("IsAncestor(%.7s, %.7s) = %v, %v; want %v", tc.a, tc.b, got, err, tc.want)
				}
			}
		})
	}
}
