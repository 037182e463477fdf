package reconciler

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/trust"
	"github.com/ddc-gitops/ddc-gitops/trust/trusttest"
)

// trustFixture is a harness whose agent verifies commits, and a work
// clone of its repository to push signed and unsigned commits from.
type trustFixture struct {
	h          *harness
	work       *trusttest.Work
	alice, bot trusttest.SSHKey
	reg        *prometheus.Registry
	policy     *trust.Policy
}

// restart replaces the agent by a new one on the same state directory
// (a restarted process: no verdict cached, new metrics).
func (f *trustFixture) restart() {
	f.h.agent = f.h.newAgentWith(func(c *Config) {
		c.Trust = trust.NewVerifier(f.policy)
		f.reg = prometheus.NewRegistry()
		c.Registry = f.reg
	})
}

func newTrustFixture(t *testing.T) *trustFixture {
	h := newHarness(t, harnessOpts{nodes: 4, seed: []int{0, 1}})
	dir := t.TempDir()
	f := &trustFixture{h: h, alice: trusttest.NewSSHKey(t, dir, "alice"), bot: trusttest.NewSSHKey(t, dir, "ddc-bot")}
	p, err := trust.Parse("policy.yaml", []byte(fmt.Sprintf(`kind: TrustPolicy
keys:
  - name: alice
    ssh: %s
  - name: ddc-bot
    ssh: %s
rules:
  - name: bot-admits-nodes
    keys: [ddc-bot]
    paths: ["nodes/*.yaml"]
    changes: [add, delete]
  - name: people
    keys: [alice]
    paths: ["**"]
`, f.alice.Pub, f.bot.Pub)))
	if err != nil {
		t.Fatal(err)
	}
	// The host runs the (unsigned) seed: verification starts from it.
	f.policy = p
	f.restart()
	f.work = trusttest.Clone(t, h.git.RepoPath())
	return f
}

// push commits files signed with key (nil: unsigned) and pushes them.
func (f *trustFixture) push(key *trusttest.SSHKey, files map[string]string) string {
	h := f.work.Change(key, files)
	f.work.Git("push", "-q", "origin", "HEAD:"+f.h.git.Branch())
	return h
}

// refusedSeries returns the trust_refused series as "revision commit".
func (f *trustFixture) refusedSeries(t *testing.T) []string {
	fams, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, fam := range fams {
		if fam.GetName() != "ddc_gitops_agent_trust_refused" {
			continue
		}
		for _, m := range fam.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			out = append(out, l["revision"]+" "+l["commit"])
		}
	}
	return out
}

// TestAgentTrust: signed commits converge; an unsigned commit and a bot
// commit outside nodes/ are refused (stalled, named in the status and the
// metric) while haproxy keeps serving the last good revision with no
// failed request; a signed revert converges again.
func TestAgentTrust(t *testing.T) {
	f := newTrustFixture(t)
	h := f.h
	node := func(i int) string { return string(nodeFile(i, h.fleet.farm.ports[i], 100)) }

	// The bot admits node 2.
	r1 := f.push(&f.bot, map[string]string{nodePath(2): node(2)})
	h.reconcile(r1)
	if _, ok := h.servers()["n-002"]; !ok {
		t.Fatal("n-002 not added")
	}
	if st := h.agent.Status(); st.Trust == nil || st.Trust.Verified != r1 || st.Trust.Refused != nil {
		t.Fatalf("trust status %+v", st.Trust)
	}

	// Traffic runs through every refusal below.
	var failed, sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			sent.Add(1)
			if _, err := h.get("/"); err != nil {
				failed.Add(1)
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
		if failed.Load() != 0 || sent.Load() == 0 {
			t.Errorf("%d of %d requests failed", failed.Load(), sent.Load())
		}
	}()

	before := h.servers()
	refuse := func(rev, commit, key, rule, reason string, series int) {
		t.Helper()
		ctx := testCtx(t, 30*time.Second)
		out := h.agent.Reconcile(ctx)
		if out.Result != agentapi.ResultStalled || out.Revision != rev || out.Err == nil || !strings.Contains(out.Err.Error(), reason) {
			t.Fatalf("reconcile of %s: %+v, want stalled for %q", short(rev), out, reason)
		}
		st := h.agent.Status()
		if st.AppliedRevision != r1 || st.Trust == nil || st.Trust.Refused == nil {
			t.Fatalf("status applied %s trust %+v", short(st.AppliedRevision), st.Trust)
		}
		ref := st.Trust.Refused
		if ref.Revision != rev || ref.Commit != commit || !strings.Contains(ref.Key, key) || ref.Rule != rule ||
			!strings.Contains(ref.Reason, reason) || ref.Author != "Tess Ter <tess@example.test>" || st.Trust.Verified != r1 {
			t.Fatalf("refusal %+v (verified %s), want commit %s key %q rule %q reason %q", ref, st.Trust.Verified, short(commit), key, rule, reason)
		}
		if got := f.refusedSeries(t); len(got) != series || !slices.Contains(got, rev+" "+commit) {
			t.Fatalf("trust_refused series %v", got)
		}
		// Not retried: the next reconcile stops at once, same refusal.
		if out := h.agent.Reconcile(ctx); out.Result != agentapi.ResultStalled {
			t.Fatalf("second reconcile: %+v", out)
		}
		after := h.servers()
		if len(after) != len(before) {
			t.Fatalf("servers changed: %v -> %v", before, after)
		}
		for name, s := range before {
			if after[name].Weight != s.Weight || after[name].Address != s.Address {
				t.Fatalf("server %s changed: %+v -> %+v", name, s, after[name])
			}
		}
	}

	// An unsigned push that would remove node 1.
	u := f.push(nil, map[string]string{nodePath(1): ""})
	refuse(u, u, "", "", "unsigned", 1)
	// A restarted agent refuses it again and says so again.
	f.restart()
	refuse(u, u, "", "", "unsigned", 1)

	// A bot commit on top, outside nodes/: the unsigned one is still
	// named first, both are refused.
	b := f.push(&f.bot, map[string]string{"backends/be.yaml": strings.Replace(string(h.fleet.files(nil)["backends/be.yaml"]), "roundrobin", "leastconn", 1)})
	refuse(b, u, "", "", "unsigned", 2)
	res := h.agent.trust.last
	if len(res.Refusals) != 2 || res.Refusals[1].Commit != b || res.Refusals[1].Rule != "bot-admits-nodes" || res.Refusals[1].KeyName != "ddc-bot" {
		t.Fatalf("refusals %v", res.Refusals)
	}

	// Alice reverts both, signed: accepted, converges, nothing refused.
	f.work.N++
	f.work.Git(trusttest.Signed(&f.alice, "revert", "--no-edit", "HEAD", "HEAD~1")...)
	f.work.Git("push", "-q", "origin", "HEAD:"+h.git.Branch())
	rv := f.work.Head()
	h.reconcile(rv)
	st := h.agent.Status()
	if st.Trust == nil || st.Trust.Refused != nil || st.Trust.Verified != rv || st.AppliedRevision != rv {
		t.Fatalf("after the revert: applied %s trust %+v", short(st.AppliedRevision), st.Trust)
	}
	if got := f.refusedSeries(t); len(got) != 0 {
		t.Fatalf("trust_refused series after the revert: %v", got)
	}
	if len(h.agent.trust.last.Reverted) != 2 {
		t.Fatalf("reverted %v", h.agent.trust.last.Reverted)
	}
}

// TestTrustRefusedHeadDoesNotStopRollback: a signed revision that breaks
// the data plane is applied and watched; an unsigned commit lands on top of
// it before the gate trips. The refused head must not keep the bad
// revision running: the host rolls back to its last good revision, the
// bad one is quarantined and the unsigned head stays refused.
//
// The bad revision's check path answers until the test has seen the
// unsigned head refused, then fails: a path that fails at once could trip
// the gate before the unsigned commit lands (after a reload a server is UP
// at its lowest health, so one failed check, at a random moment of the
// first interval, takes it down).
func TestTrustRefusedHeadDoesNotStopRollback(t *testing.T) {
	f := newTrustFixture(t)
	h := f.h
	h.fleet.farm = newStrictFarm(t, 3)
	h.agent = h.newAgentWith(func(c *Config) {
		c.Trust = trust.NewVerifier(f.policy)
		f.reg = prometheus.NewRegistry()
		c.Registry = f.reg
		c.AdmitTimeout = time.Second
	})
	h.runAgentUntil()
	sync := func() { h.agent.Trigger().Notify("test") }
	status := func() agentapi.Status { return h.agent.Status() }
	files := func(checkPath string) map[string]string {
		out := map[string]string{}
		for p, b := range h.gateFleet(seq(0, 3), checkPath, 100) {
			s := string(b)
			if checkPath != "" {
				// The window outlasts the steps below.
				s = strings.Replace(s, "window: 4s", "window: 20s", 1)
			}
			out[p] = s
		}
		return out
	}

	good := f.push(&f.alice, files(""))
	sync()
	eventually(t, 30*time.Second, "the good revision to pass the gate", func() bool {
		st := status()
		return st.AppliedRevision == good && st.LastGoodRevision == good
	})
	bad := f.push(&f.alice, files(flakyPath))
	sync()
	eventually(t, 30*time.Second, "the bad revision to be applied and watched", func() bool {
		st := status()
		return st.AppliedRevision == bad && st.Gate != nil && st.Gate.Revision == bad && st.Gate.State == agentapi.GateWatching
	})
	unsigned := f.push(nil, map[string]string{"README.md": "unsigned\n"})
	sync()
	eventually(t, 30*time.Second, "the unsigned head refused while the bad revision runs", func() bool {
		st := status()
		return st.AppliedRevision == bad && st.Trust != nil && st.Trust.Refused != nil && st.Trust.Refused.Revision == unsigned
	})
	h.fleet.farm.failing.Store(true) // the bad revision's data plane breaks now
	eventually(t, 40*time.Second, "the rollback to the last good revision under the refused head", func() bool {
		st := status()
		return st.AppliedRevision == good && quarantined(st, bad) && st.Trust != nil && st.Trust.Refused != nil && st.Trust.Refused.Revision == unsigned
	})
	st := status()
	t.Logf("rolled back to %s with the head %s refused (%s); quarantined %s", short(good), short(unsigned), st.Trust.Refused.Reason, short(bad))
	if st.Counts.Rollbacks < 1 || st.LastGoodRevision != good {
		t.Fatalf("after the rollback: rollbacks %d, last good %s", st.Counts.Rollbacks, short(st.LastGoodRevision))
	}
	// Later reconciles keep the last good revision and the refusal.
	n := st.Counts.Reconciles
	sync()
	eventually(t, 10*time.Second, "another reconcile", func() bool { return status().Counts.Reconciles > n })
	if st := status(); st.AppliedRevision != good || st.Trust.Refused == nil {
		t.Fatalf("after another reconcile: applied %s, trust %+v", short(st.AppliedRevision), st.Trust)
	}
}
