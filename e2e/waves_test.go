//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
)

// The example fleet's default waves (desired/rollout.go).
var exampleWaves = map[string]int{"eu-haproxy-1": 0, "eu-haproxy-2": 1, "us-haproxy-1": 1, "us-haproxy-2": 2}

// hostRollout is what the test saw of one host during one rollout.
type hostRollout struct {
	held       bool      // seen holding the revision
	waitedFor  []string  // what it said it waited for
	start, end time.Time // the reconcile that applied it: its start and AppliedAt
	applied    bool
	reloads    int // HAProxy reloads counted by the agent before the rollout
}

// watchRollout polls every agent's status every 25ms until each applied
// rev, and returns what it saw per host.
func (e *env) watchRollout(rev string, before map[string]*agentapi.Status, d time.Duration) map[string]*hostRollout {
	e.t.Helper()
	seen := map[string]*hostRollout{}
	for h := range e.agents {
		seen[h] = &hostRollout{reloads: before[h].Counts.HAProxyReloads}
	}
	e.waitFor(d, "every host applies "+short(rev)+" wave by wave", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		sts, _ := e.statuses(ctx)
		var missing []string
		for h, s := range seen {
			st := sts[h]
			if st == nil {
				missing = append(missing, h+": unreachable")
				continue
			}
			if st.Wave != nil && st.Wave.Holding == rev {
				s.held, s.waitedFor = true, st.Wave.WaitingFor
			}
			if !s.applied && st.AppliedRevision == rev {
				s.applied, s.end = true, st.AppliedAt
				// The reconcile that applied rev, when it is still the last one.
				if st.LastResult == agentapi.ResultApplied && st.LastReconcile.Sub(st.AppliedAt) < time.Second {
					s.start = st.LastReconcile.Add(-time.Duration(st.LastDuration * float64(time.Second)))
				}
			}
			if !s.applied {
				missing = append(missing, fmt.Sprintf("%s: %s", h, st.LastResult))
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return fmt.Errorf("%s", strings.Join(missing, "; "))
		}
		return nil
	})
	return seen
}

// structuralCommit commits a change of the HTTP backend's retries (a line
// of every host's haproxy.cfg skeleton: a reload everywhere) and returns it.
func (e *env) structuralCommit(retries int, promote bool) (string, time.Time) {
	e.t.Helper()
	be := e.fleetFile("backends/ddc_nodes_http.yaml")
	files := map[string][]byte{"backends/ddc_nodes_http.yaml": e.replaceOnce(be, "retries: 3", fmt.Sprintf("retries: %d", retries))}
	start := time.Now()
	rev := e.commit(files, fmt.Sprintf("e2e: retries %d", retries))
	if promote {
		// The decision ref, as the API writes it (agents have not looked
		// at the branch yet: webhooks are off and their poll is long).
		out, err := exec.Command("git", "-C", e.ctl.Git().RepoPath(), "update-ref", agentapi.RolloutRef(agentapi.DecisionPromote, rev), rev).CombinedOutput()
		if err != nil {
			e.t.Fatalf("promoting %s: %v: %s", short(rev), err, out)
		}
	}
	e.syncAll("e2e structural commit")
	return rev, start
}

// TestWavesRollOutWaveByWave is issue 17's wave acceptance: a good
// structural commit rolls out wave by wave (eu-haproxy-1, then
// eu-haproxy-2 and us-haproxy-1, then us-haproxy-2: each host's apply
// starts after every earlier-wave host applied it), the two hosts of each
// zone never reload at the same time, and a client looping through both
// zones' VIPs (both hosts of each pair) sees no failed request. It then
// measures push-to-everywhere with waves against the same commit promoted
// (no waiting): the cost of safety (BENCH rollout_waves).
func TestWavesRollOutWaveByWave(t *testing.T) {
	e := startLab(t, labOptions{agentPoll: time.Minute})
	e.ctl.SetWebhooks(false) // the test syncs the agents itself, after a promote when it wants one
	var loads []*load
	var targets, zones []string
	for _, z := range []string{"eu", "us"} {
		for _, vip := range e.zone(z).VIPs {
			u := "http://" + vip
			targets, zones = append(targets, u), append(zones, z)
			loads = append(loads, startLoad(u, 2, false, 10*time.Minute))
		}
	}
	defer func() {
		for i, ld := range loads {
			ok, failed := ld.stop()
			t.Logf("client on %s: %d ok, %d failed", targets[i], ok, failed)
			bench(t, "failed_requests", "scenario", "waves", "target", targets[i], "ok", ok, "failed", failed)
			if ok == 0 || failed != 0 {
				t.Errorf("client on %s: %d ok, %d failed (%s)", targets[i], ok, failed, strings.Join(ld.errs, "; "))
			}
			if failed != 0 {
				t.Log(e.describeFailures(ld, zones[i]))
			}
		}
	}()

	rounds := rounds(2)
	var withWaves, promoted []time.Duration
	for i := range 2 * rounds {
		promote := i%2 == 1
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		before, err := e.statuses(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		rev, start := e.structuralCommit(4+i, promote)
		seen := e.watchRollout(rev, before, 90*time.Second)
		var last time.Time
		for h, s := range seen {
			if s.end.After(last) {
				last = s.end
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			st, err := e.agents[h].Status(ctx)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if n := st.Counts.HAProxyReloads - s.reloads; n != 1 {
				t.Errorf("round %d: %s reloaded %d times, want once", i, h, n)
			}
		}
		took := last.Sub(start)
		if promote {
			promoted = append(promoted, took)
			t.Logf("round %d (promoted): every host applied %s %v after the commit", i, short(rev), took.Round(time.Millisecond))
			continue
		}
		withWaves = append(withWaves, took)
		t.Logf("round %d (waves): every host applied %s %v after the commit", i, short(rev), took.Round(time.Millisecond))
		hosts := make([]string, 0, len(seen))
		for h := range seen {
			hosts = append(hosts, h)
		}
		sort.Slice(hosts, func(a, b int) bool { return seen[hosts[a]].end.Before(seen[hosts[b]].end) })
		for _, h := range hosts {
			s := seen[h]
			t.Logf("  %s (wave %d): applied at %s (reconcile from %s), held %v waiting for %q", h, exampleWaves[h],
				s.end.Format("15:04:05.000"), s.start.Format("15:04:05.000"), s.held, s.waitedFor)
		}
		for h, s := range seen {
			w := exampleWaves[h]
			if w > 0 && !s.held {
				t.Errorf("round %d: %s (wave %d) was never seen holding %s", i, h, w, short(rev))
			}
			for p, ps := range seen {
				if exampleWaves[p] >= w {
					continue
				}
				// Every earlier-wave host applied before this one started.
				if !s.end.After(ps.end) {
					t.Errorf("round %d: %s (wave %d) applied at %s, not after %s (wave %d) at %s", i, h, w, s.end.Format("15:04:05.000"),
						p, exampleWaves[p], ps.end.Format("15:04:05.000"))
				}
				if !s.start.IsZero() && s.start.Before(ps.end) {
					t.Errorf("round %d: %s (wave %d) started applying at %s, before %s (wave %d) finished at %s", i, h, w,
						s.start.Format("15:04:05.000"), p, exampleWaves[p], ps.end.Format("15:04:05.000"))
				}
			}
		}
		// The two hosts of a zone (a VRRP pair) never reloaded at the same time.
		for _, pair := range [][2]string{{"eu-haproxy-1", "eu-haproxy-2"}, {"us-haproxy-1", "us-haproxy-2"}} {
			a, b := seen[pair[0]], seen[pair[1]]
			if a.start.IsZero() || b.start.IsZero() {
				t.Logf("round %d: %s/%s: the applying reconcile was not the last one seen; the order check above stands", i, pair[0], pair[1])
				continue
			}
			if a.start.Before(b.end) && b.start.Before(a.end) {
				t.Errorf("round %d: %s [%s, %s] and %s [%s, %s] applied at the same time", i, pair[0], a.start.Format("15:04:05.000"),
					a.end.Format("15:04:05.000"), pair[1], b.start.Format("15:04:05.000"), b.end.Format("15:04:05.000"))
			}
		}
	}
	slices.Sort(withWaves)
	slices.Sort(promoted)
	t.Logf("a good structural commit reaches every host in %v with waves (p50 of %d) and %v when promoted past them (p50 of %d): the cost of safety is the waves' wait (recheck interval 3s)",
		withWaves[len(withWaves)/2].Round(time.Millisecond), len(withWaves), promoted[len(promoted)/2].Round(time.Millisecond), len(promoted))
	bench(t, "rollout_waves", "mode", "waves", "n", len(withWaves), "p50_ms", withWaves[len(withWaves)/2].Milliseconds(), "max_ms", slices.Max(withWaves).Milliseconds())
	bench(t, "rollout_waves", "mode", "promoted", "n", len(promoted), "p50_ms", promoted[len(promoted)/2].Milliseconds(), "max_ms", slices.Max(promoted).Milliseconds())
}
