package reconciler

import (
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
)

// TestDriftCheckOnItsSchedule: with a DriftInterval, a reconcile of the
// revision the host runs stops after the fetch until the interval has
// passed since the last full read; then drift is found and corrected. A
// new revision is applied at once, planned from what changed: it does not
// look for drift either.
func TestDriftCheckOnItsSchedule(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 2, seed: seq(0, 2)})
	rev, _ := h.git.Head()
	h.agent.cfg.DriftInterval = time.Hour
	h.reconcile(rev) // a full read: the check clock starts
	if _, err := h.rt.Exec(testCtx(t, 5*time.Second), []string{"set server be/n-001 state maint"}); err != nil {
		t.Fatal(err)
	}
	out := h.reconcile(rev)
	st := h.agent.Status()
	if out.Result != agentapi.ResultNoop || len(st.Drift) != 0 || st.Steps["actual"] != 0 || st.Steps["fetch"] == 0 {
		t.Fatalf("reconcile before the drift check is due: %+v, drift %v, steps %v", out, st.Drift, st.Steps)
	}
	if h.servers()["n-001"].State != haproxy.StateMaint {
		t.Fatal("drift corrected before its check was due")
	}

	// A new revision is applied at once, from what changed.
	rev = h.commit(map[string][]byte{nodePath(0): nodeFile(0, h.fleet.farm.ports[0], 42)}, nil, "weight")
	out = h.reconcile(rev)
	if out.Result != agentapi.ResultApplied || h.servers()["n-000"].Weight != 42 {
		t.Fatalf("new revision: %+v, n-000 %+v", out, h.servers()["n-000"])
	}
	h.reconcile(rev)
	if h.servers()["n-001"].State != haproxy.StateMaint {
		t.Fatal("drift corrected before its check was due")
	}

	// The check becomes due: the drift is found and corrected.
	h.agent.cfg.DriftInterval = time.Nanosecond
	out = h.agent.Reconcile(testCtx(t, 30*time.Second))
	st = h.agent.Status()
	if len(st.Drift) != 1 || !strings.Contains(st.Drift[0], "n-001") {
		t.Fatalf("due drift check: %+v, drift %v", out, st.Drift)
	}
	h.reconcile(rev) // admitted again once its check passes
	if s := h.servers()["n-001"].State; s != haproxy.StateReady {
		t.Fatalf("n-001 %s after the drift was corrected", s)
	}
}
