package reconciler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
)

func overrideFile(name string, until time.Time, body string) []byte {
	return []byte(fmt.Sprintf("kind: Override\nname: %s\nuntil: %s\nreason: test %s\n%s", name, until.UTC().Format(time.RFC3339Nano), name, body))
}

// ovGauge reads a gauge of the agent's registry.
func ovGauge(t *testing.T, a *Agent, name string) float64 {
	t.Helper()
	mfs, err := a.cfg.Registry.(*prometheus.Registry).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestOverrideExpires: a drain, maint or weight override applies at
// runtime (no reload), survives a drift check, and lifts itself at its
// until with no new commit, under a request loop that sees no failure.
func TestOverrideExpires(t *testing.T) {
	for _, c := range []struct {
		action, body, target string
		during               func(s haproxy.ActualServer) bool
		byHand               string // a hand-made change the drift check must undo
	}{
		{"drain", "state: drain", "be/n-000 drain", func(s haproxy.ActualServer) bool { return s.State == "drain" }, "set server be/n-000 state ready"},
		{"maint", "state: maint", "be/n-000 maint", func(s haproxy.ActualServer) bool { return s.State == "maint" }, "set server be/n-000 state ready"},
		{"weight", "weight: 5", "be/n-000 weight 5", func(s haproxy.ActualServer) bool { return s.State == "ready" && s.Weight == 5 }, "set server be/n-000 weight 100"},
	} {
		t.Run(c.action, func(t *testing.T) {
			h := newHarness(t, harnessOpts{nodes: 3, seed: []int{0, 1, 2}})
			loop := h.loop(4)
			reloads := h.reloads()

			until := time.Now().Add(4 * time.Second)
			rev := h.commit(map[string][]byte{"overrides/o.yaml": overrideFile("o", until,
				"servers:\n  - {backend: be, server: n-000, "+c.body+"}\n")}, nil, c.action+" n-000")
			out := h.reconcile(rev)
			if out.Reloads != 0 || out.RuntimeChanges == 0 {
				t.Errorf("override: %+v, want a runtime change and no reload", out)
			}
			if s := h.servers()["n-000"]; !c.during(s) {
				t.Fatalf("n-000 during the override: %+v", s)
			}
			if d := out.RetryAfter; d <= 0 || d > time.Until(until)+time.Second {
				t.Errorf("RetryAfter %s, want the time to the override's end (%s)", d, time.Until(until))
			}
			st := h.agent.Status()
			if len(st.Overrides) != 1 || st.Overrides[0].Name != "o" || st.Overrides[0].Targets[0] != c.target || !st.Overrides[0].Until.Equal(until) {
				t.Errorf("status overrides: %+v", st.Overrides)
			}
			if g := ovGauge(t, h.agent, "ddc_gitops_agent_overrides_active"); g != 1 {
				t.Errorf("overrides_active = %v, want 1", g)
			}
			if c.action != "weight" {
				for range 20 {
					if body, err := h.get("/"); err == nil && body == "n-000" {
						t.Fatal("the server out of service took a new request")
					}
				}
			}

			// Drift correction compares with the overridden state: a
			// hand-made change is undone, not the override.
			if _, err := h.rt.Exec(testCtx(t, 5*time.Second), []string{c.byHand}); err != nil {
				t.Fatal(err)
			}
			out = h.agent.Reconcile(testCtx(t, 30*time.Second))
			if s := h.servers()["n-000"]; out.Err != nil || !c.during(s) || len(h.agent.Status().Drift) == 0 {
				t.Fatalf("drift check during the override: %+v, server %+v, drift %v", out, s, h.agent.Status().Drift)
			}

			// The agent's own loop lifts the override at its end.
			h.runAgent()
			eventually(t, time.Until(until)+15*time.Second, "n-000 back in its base state after the override's end", func() bool {
				s := h.servers()["n-000"]
				return s.State == "ready" && s.Weight == 100 && h.agent.Status().LastResult == "applied"
			})
			if time.Now().Before(until) {
				t.Fatal("the override was lifted before its until")
			}
			st = h.agent.Status()
			if st.AppliedRevision != rev || len(st.Overrides) != 0 || len(st.Drift) != 0 {
				t.Errorf("after expiry: applied %s (want %s, no new commit), overrides %v, drift %v", short(st.AppliedRevision), short(rev), st.Overrides, st.Drift)
			}
			if g := ovGauge(t, h.agent, "ddc_gitops_agent_overrides_active"); g != 0 {
				t.Errorf("overrides_active = %v after expiry, want 0", g)
			}
			if n := h.reloads(); n != reloads {
				t.Errorf("%d reloads, want none", n-reloads)
			}
			eventually(t, 10*time.Second, "n-000 serving again", func() bool {
				body, err := h.get("/")
				return err == nil && body == "n-000"
			})
			if ok, failed := loop.end(); failed != 0 || ok == 0 {
				t.Errorf("request loop: %d ok, %d failed (first: %v)", ok, failed, loop.firstErr.Load())
			}
		})
	}
}

// TestOverrideFreezeBackend: a frozen backend keeps the servers the host
// runs while a commit changes them; at the override's end the change applies.
func TestOverrideFreezeBackend(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 3, seed: []int{0, 1, 2}})
	loop := h.loop(2)
	until := time.Now().Add(4 * time.Second)
	h.commit(map[string][]byte{"overrides/freeze.yaml": overrideFile("freeze", until, "freeze: [be]\n")}, nil, "freeze be")
	rev := h.commit(map[string][]byte{nodePath(1): nodeFile(1, h.fleet.farm.ports[1], 42)}, nil, "weight 42")
	out := h.reconcile(rev)
	if out.RuntimeChanges != 0 || out.Reloads != 0 {
		t.Errorf("a change to a frozen backend was applied: %+v", out)
	}
	if w := h.servers()["n-001"].Weight; w != 100 {
		t.Fatalf("n-001 weight %d while frozen, want 100", w)
	}
	h.runAgent()
	eventually(t, time.Until(until)+15*time.Second, "the weight change applied after the freeze", func() bool {
		return h.servers()["n-001"].Weight == 42 && h.agent.Status().LastResult == "applied"
	})
	if time.Now().Before(until) {
		t.Fatal("applied before the override's end")
	}
	if ok, failed := loop.end(); failed != 0 || ok == 0 {
		t.Errorf("request loop: %d ok, %d failed (first: %v)", ok, failed, loop.firstErr.Load())
	}
}

// TestFreezeWindow: during a freeze window a normal commit is held (and
// reported), an emergency one applies, and the held one applies by itself
// at the window's end.
func TestFreezeWindow(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 3, seed: []int{0, 1, 2}})
	from, until := time.Now().Add(-time.Hour), time.Now().Add(5*time.Second)
	files := h.fleet.files([]int{0, 1, 2})
	fleet := string(files["fleet.yaml"]) + fmt.Sprintf("freeze:\n  - name: peak\n    from: %s\n    until: %s\n    reason: peak traffic\n",
		from.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339Nano))
	frozen := h.commit(map[string][]byte{"fleet.yaml": []byte(fleet)}, nil, "freeze\n\nEmergency: yes")
	h.reconcile(frozen)

	held := h.commit(map[string][]byte{nodePath(1): nodeFile(1, h.fleet.farm.ports[1], 42)}, nil, "weight 42")
	out := h.agent.Reconcile(testCtx(t, 30*time.Second))
	st := h.agent.Status()
	if out.Err != nil || st.AppliedRevision != frozen || h.servers()["n-001"].Weight != 100 {
		t.Fatalf("a non-emergency commit applied during the freeze: %+v, applied %s", out, short(st.AppliedRevision))
	}
	if st.Freeze == nil || st.Freeze.Name != "peak" || st.Freeze.Holding != held || !st.Freeze.Until.Equal(until) {
		t.Errorf("status freeze: %+v", st.Freeze)
	}
	if g := ovGauge(t, h.agent, "ddc_gitops_agent_freeze_holding"); g != 1 {
		t.Errorf("freeze_holding = %v, want 1", g)
	}
	if out.RetryAfter <= 0 || out.RetryAfter > time.Until(until)+time.Second {
		t.Errorf("RetryAfter %s, want the window's end in %s", out.RetryAfter, time.Until(until))
	}

	emergency := h.commit(map[string][]byte{nodePath(2): nodeFile(2, h.fleet.farm.ports[2], 7)}, nil, "weight 7\n\nfixes the outage\n\nEmergency: yes")
	h.reconcile(emergency)
	if s := h.servers(); s["n-002"].Weight != 7 || s["n-001"].Weight != 42 {
		t.Errorf("emergency head: n-002 weight %d (want 7), n-001 weight %d (want 42: the head's trailer decides for its tree)", s["n-002"].Weight, s["n-001"].Weight)
	}
	if st := h.agent.Status(); st.Freeze != nil {
		t.Errorf("status freeze after the emergency head applied: %+v", st.Freeze)
	}

	// A normal commit again, held until the window ends; the agent's loop
	// applies it then.
	next := h.commit(map[string][]byte{nodePath(0): nodeFile(0, h.fleet.farm.ports[0], 3)}, nil, "weight 3")
	h.runAgent()
	eventually(t, time.Until(until)+15*time.Second, "the held commit applied at the window's end", func() bool {
		return h.agent.Status().AppliedRevision == next
	})
	if time.Now().Before(until) {
		t.Fatal("applied before the window's end")
	}
	if w := h.servers()["n-000"].Weight; w != 3 {
		t.Errorf("n-000 weight %d, want 3", w)
	}
	if st := h.agent.Status(); st.Freeze != nil || !strings.Contains(st.LastResult, "applied") {
		t.Errorf("after the window: freeze %+v, result %s", st.Freeze, st.LastResult)
	}
}

// TestFreezeAfterRestart: an agent restarted during a freeze reads the
// applied revision from its clone: a non-emergency head that removes the
// window is still held, and an override of the applied revision still
// lifts itself at its end.
func TestFreezeAfterRestart(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 3, seed: []int{0, 1, 2}})
	loop := h.loop(2)
	files := h.fleet.files([]int{0, 1, 2})
	base := string(files["fleet.yaml"])
	fleet := base + fmt.Sprintf("freeze:\n  - name: peak\n    from: %s\n    until: %s\n",
		time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	until := time.Now().Add(5 * time.Second)
	applied := h.commit(map[string][]byte{"fleet.yaml": []byte(fleet), "overrides/o.yaml": overrideFile("o", until,
		"servers:\n  - {backend: be, server: n-000, state: drain}\n")}, nil, "freeze and drain\n\nEmergency: yes")
	h.reconcile(applied)
	if h.servers()["n-000"].State != "drain" {
		t.Fatal("the override did not apply")
	}
	held := h.commit(map[string][]byte{"fleet.yaml": []byte(base)}, nil, "end the freeze early")

	h.agent = h.newAgent(0) // a restart: nothing cached, state from disk
	out := h.agent.Reconcile(testCtx(t, 30*time.Second))
	st := h.agent.Status()
	if out.Err != nil || st.AppliedRevision != applied || st.Freeze == nil || st.Freeze.Holding != held {
		t.Fatalf("after the restart: %+v, applied %s, freeze %+v: want the head held", out, short(st.AppliedRevision), st.Freeze)
	}
	if len(st.Overrides) != 1 || h.servers()["n-000"].State != "drain" {
		t.Fatalf("after the restart: overrides %+v, n-000 %q", st.Overrides, h.servers()["n-000"].State)
	}
	h.runAgent()
	eventually(t, time.Until(until)+15*time.Second, "the override lifted during the freeze", func() bool {
		return h.servers()["n-000"].State == "ready" && h.agent.Status().LastResult == "applied"
	})
	if st := h.agent.Status(); st.AppliedRevision != applied || st.Freeze == nil || len(st.Overrides) != 0 {
		t.Errorf("after the override's end: applied %s, freeze %+v, overrides %+v", short(st.AppliedRevision), st.Freeze, st.Overrides)
	}
	if ok, failed := loop.end(); failed != 0 || ok == 0 {
		t.Errorf("request loop: %d ok, %d failed (first: %v)", ok, failed, loop.firstErr.Load())
	}
}
