package reconciler

import (
	"os"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// TestIncrementalApply: on a host known to run the previous revision, a
// new revision is planned from what changed, without reading the running
// servers or haproxy.cfg (no "actual" step), for each kind of runtime
// change; a weight change is verified by reading that server alone. A
// full drift check afterwards finds the host exactly as desired, and
// haproxy.cfg on disk is the desired one.
func TestIncrementalApply(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 4, seed: seq(0, 3)})
	h.agent.cfg.DriftInterval = time.Hour
	head, _ := h.git.Head()
	h.reconcile(head) // the full read the trust starts from

	incremental := func(what string, wantVerify bool) {
		t.Helper()
		st := h.agent.Status()
		if _, ok := st.Steps["actual"]; ok {
			t.Fatalf("%s: the running servers were read (steps %v)", what, st.Steps)
		}
		if _, ok := st.Steps["verify"]; ok != wantVerify {
			t.Fatalf("%s: verify step %v, want %v (steps %v)", what, ok, wantVerify, st.Steps)
		}
	}
	before := h.reloads()

	rev := h.commit(map[string][]byte{nodePath(0): nodeFile(0, h.fleet.farm.ports[0], 42)}, nil, "weight")
	out := h.reconcile(rev)
	incremental("weight", true)
	if out.RuntimeChanges != 1 || h.servers()["n-000"].Weight != 42 {
		t.Fatalf("weight: %+v, n-000 %+v", out, h.servers()["n-000"])
	}

	drained := append(nodeFile(1, h.fleet.farm.ports[1], 100), "state: drain\n"...)
	rev = h.commit(map[string][]byte{nodePath(1): drained}, nil, "drain")
	out = h.reconcile(rev)
	incremental("drain", true)
	if s := h.servers()["n-001"]; out.RuntimeChanges == 0 || s.State != haproxy.StateDrain {
		t.Fatalf("drain: %+v, n-001 %+v", out, s)
	}

	// The add is planned from what changed; the new server's admission is
	// then tracked by the following reconciles, which read the host.
	rev = h.commit(map[string][]byte{nodePath(3): nodeFile(3, h.fleet.farm.ports[3], 100)}, []string{nodePath(2)}, "add 3, remove 2")
	out = h.agent.Reconcile(testCtx(t, 30*time.Second))
	incremental("add and remove", true)
	if out.Err != nil || out.RuntimeChanges != 2 {
		t.Fatalf("add and remove: %+v", out)
	}
	h.reconcile(rev)
	srv := h.servers()
	if _, ok := srv["n-002"]; ok || srv["n-003"].State != haproxy.StateReady {
		t.Fatalf("add and remove: servers %v", srv)
	}
	if h.reloads() != before {
		t.Fatalf("reloads %d -> %d", before, h.reloads())
	}

	// A full drift check finds nothing to do, and the file on disk is the
	// desired configuration.
	h.agent.cfg.DriftInterval = time.Nanosecond
	out = h.reconcile(rev)
	st := h.agent.Status()
	if out.Result != agentapi.ResultNoop || len(st.Drift) != 0 || st.Steps["actual"] == 0 {
		t.Fatalf("full check after incremental applies: %+v, drift %v, steps %v", out, st.Drift, st.Steps)
	}
	disk, err := os.ReadFile(h.paths.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(disk) != string(h.agent.cached.host.HAProxy) {
		t.Fatal("haproxy.cfg on disk is not the desired configuration")
	}
}

// TestIncrementalFallsBack: a structural change on a trusted host takes
// the full path (a verified reload).
func TestIncrementalFallsBack(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 2, seed: seq(0, 2), debounce: time.Millisecond})
	h.agent.cfg.DriftInterval = time.Hour
	head, _ := h.git.Head()
	h.reconcile(head)
	h.fleet.balance = "leastconn"
	files := h.fleet.files(seq(0, 2))
	rev := h.commit(map[string][]byte{"backends/be.yaml": files["backends/be.yaml"]}, nil, "balance")
	out := h.reconcile(rev)
	if out.Reloads != 1 || h.agent.Status().Steps["actual"] == 0 {
		t.Fatalf("structural change: %+v, steps %v", out, h.agent.Status().Steps)
	}
}

func TestAddedState(t *testing.T) {
	for _, c := range []struct {
		admin string
		check bool
		state string
		ok    bool
	}{
		{haproxy.StateDrain, true, "", true},                  // admission running
		{haproxy.StateReady, true, "", true},                  // admitted since
		{haproxy.StateMaint, true, "", false},                 // never left maintenance
		{haproxy.StateMaint, true, haproxy.StateMaint, true},  // parked
		{haproxy.StateDrain, true, haproxy.StateMaint, false}, // to stay parked
		{haproxy.StateReady, false, "", true},
		{haproxy.StateDrain, false, "", false}, // no check: no admission
		{haproxy.StateDrain, false, haproxy.StateDrain, true},
	} {
		s := &render.Server{Check: c.check, State: c.state}
		if got := addedState(c.admin, s); got != c.ok {
			t.Errorf("addedState(%s, check %v state %q) = %v, want %v", c.admin, c.check, c.state, got, c.ok)
		}
	}
}
