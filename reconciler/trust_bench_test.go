package reconciler

import (
	"fmt"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/trust"
	"github.com/ddc-gitops/ddc-gitops/trust/trusttest"
)

// BenchmarkPushToApplied is the time from a push of 1 or 1,000 signed
// commits (each changing a node's weight; the head's weight is applied at
// runtime) to the agent's reconcile returning it applied, on a real
// haproxy, with and without --trust-policy. The commits are written into
// the served repository before the timer runs; the reconcile fetches,
// verifies (with the policy), loads, renders and applies.
func BenchmarkPushToApplied(b *testing.B) {
	for _, commits := range []int{1, 1000} {
		for _, verify := range []bool{false, true} {
			b.Run(fmt.Sprintf("commits=%d/trust=%v", commits, verify), func(b *testing.B) {
				benchPush(b, commits, verify)
			})
		}
	}
}

func benchPush(b *testing.B, commits int, verify bool) {
	h := newHarness(b, harnessOpts{nodes: 2, seed: []int{0, 1}})
	alice := trusttest.NewSSHKey(b, b.TempDir(), "alice")
	if verify {
		p, err := trust.Parse("policy.yaml", []byte("kind: TrustPolicy\nkeys:\n  - name: alice\n    ssh: "+alice.Pub+"\nrules:\n  - name: people\n    keys: [alice]\n    paths: [\"**\"]\n"))
		if err != nil {
			b.Fatal(err)
		}
		h.agent = h.newAgentWith(func(c *Config) {
			c.Trust = trust.NewVerifier(p)
			c.Registry = prometheus.NewRegistry()
		})
	}
	bare, err := git.PlainOpen(h.git.RepoPath())
	if err != nil {
		b.Fatal(err)
	}
	ref := plumbing.NewBranchReferenceName(h.git.Branch())
	weight := 100
	when := time.Now()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		r, err := bare.Reference(ref, true)
		if err != nil {
			b.Fatal(err)
		}
		head := r.Hash()
		for range commits {
			weight = weight%200 + 1
			when = when.Add(time.Second)
			head = trusttest.Commit(b, bare.Storer, head, map[string][]byte{nodePath(1): nodeFile(1, h.fleet.farm.ports[1], weight)}, &alice, when, "weight")
		}
		if err := bare.Storer.SetReference(plumbing.NewHashReference(ref, head)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		out := h.agent.Reconcile(testCtx(b, time.Minute))
		if out.Result != agentapi.ResultApplied || out.Revision != head.String() || out.Err != nil {
			b.Fatalf("reconcile: %+v", out)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/push")
}
