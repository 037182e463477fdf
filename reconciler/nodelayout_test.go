package reconciler

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/gittree"
	"github.com/ddc-gitops/ddc-gitops/plan"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// TestNodeLayoutChangeTouchesNoServer: the commit that moves every node
// file into its shard (fleet.yaml nodeLayout: sharded) keeps every node's
// name, so the agent applies it with no reload and no runtime change,
// haproxy.cfg stays byte for byte, and a weight change in a shard is then
// runtime-only; the request loop sees no failure. What `ddc-gitops plan`
// computes between the revisions is what the agent did.
func TestNodeLayoutChangeTouchesNoServer(t *testing.T) {
	const n = 6
	h := newHarness(t, harnessOpts{nodes: n, seed: seq(0, n)})
	before := h.reloads()
	cfgBefore, err := os.ReadFile(h.paths.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := h.git.Head()
	if err != nil {
		t.Fatal(err)
	}
	load := h.loop(4)
	eventually(t, 10*time.Second, "the request loop to run", func() bool { return load.ok.Load() > 20 })

	sharded := func(i int) string { return desired.NodeFile(desired.NodeLayoutSharded, fmt.Sprintf("n-%03d", i)) }
	files := map[string][]byte{desired.FleetFile: append(h.fleet.files(nil)[desired.FleetFile], "nodeLayout: sharded\n"...)}
	var flat []string
	for i := range n {
		files[sharded(i)] = nodeFile(i, h.fleet.farm.ports[i], 100)
		flat = append(flat, nodePath(i))
	}
	rev := h.commit(files, flat, "shard the node files")
	if out := h.reconcile(rev); out.Reloads != 0 || out.RuntimeChanges != 0 {
		t.Errorf("moving the node files: %+v, want no reload and no runtime change", out)
	}
	if p := h.plan(seed, rev); len(p.Hosts) != 1 || p.Hosts[0].Changed() || len(p.Hosts[0].Ops) != 0 {
		t.Errorf("plan of the move: %+v, want no change", p.Hosts)
	}
	moved := rev
	if cfg, err := os.ReadFile(h.paths.ConfigPath); err != nil || string(cfg) != string(cfgBefore) {
		t.Errorf("haproxy.cfg changed (%v)", err)
	}

	rev = h.commit(map[string][]byte{sharded(2): nodeFile(2, h.fleet.farm.ports[2], 41)}, nil, "weight in a shard")
	if out := h.reconcile(rev); out.Reloads != 0 || out.RuntimeChanges != 1 {
		t.Errorf("a weight change in a shard: %+v, want one runtime change", out)
	}
	if p := h.plan(moved, rev); len(p.Hosts) != 1 || p.Hosts[0].HAProxy != plan.ActionRuntime || len(p.Hosts[0].Ops) != 1 ||
		p.Hosts[0].Ops[0].Op != plan.OpSetWeight || p.Hosts[0].Ops[0].Server != "n-002" {
		t.Errorf("plan of the weight change: %+v, want one set-weight of n-002", p.Hosts)
	}
	if w := h.servers()["n-002"].Weight; w != 41 {
		t.Errorf("n-002 weight %d, want 41", w)
	}
	n0 := load.ok.Load()
	eventually(t, 10*time.Second, "more requests", func() bool { return load.ok.Load() > n0+50 })
	ok, failed := load.end()
	t.Logf("%d requests, %d failed", ok+failed, failed)
	if failed != 0 {
		t.Errorf("%d failed requests (first: %v)", failed, load.firstErr.Load())
	}
	if r := h.reloads() - before; r != 0 {
		t.Errorf("%d reloads, want none", r)
	}
}

// plan is `ddc-gitops plan OLD NEW` on the harness's repository.
func (h *harness) plan(old, new string) *plan.Plan {
	h.t.Helper()
	var fleets [2]*desired.Fleet
	for i, rev := range []string{old, new} {
		fsys, _, err := gittree.Open(h.git.RepoPath(), rev)
		if err != nil {
			h.t.Fatal(err)
		}
		if fleets[i], err = desired.Load(fsys); err != nil {
			h.t.Fatal(err)
		}
	}
	p, err := plan.Compute(fleets[0], fleets[1], render.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// appliedOps reads the agent's count of runtime ops by kind
// (ddc_gitops_agent_runtime_changes_total).
func (h *harness) appliedOps() map[string]float64 {
	out := map[string]float64{}
	for _, k := range []string{plan.OpAdd, plan.OpDel, plan.OpSetWeight, plan.OpSetAddr, plan.OpSetState, plan.OpSetMaxconn, plan.OpReplace, plan.OpAdmit} {
		out[k] = counter(h.agent.metrics.runtimeChanges.WithLabelValues(k))
	}
	return out
}

// checkPlanApplied requires that `ddc-gitops plan OLD NEW` for the
// harness's one host shows what the agent applied between the counts
// before and after: a runtime change (no reload), and per kind of op as
// many as the agent made. Only set-state may come on top: the agent puts
// an added server in service once its first check passed, which the plan
// shows as the add.
func (h *harness) checkPlanApplied(old, new string, before, after map[string]float64) {
	h.t.Helper()
	p := h.plan(old, new)
	if len(p.Hosts) != 1 || p.Hosts[0].HAProxy != plan.ActionRuntime {
		h.t.Errorf("plan %s..%s: %+v, want one host changed at runtime", short(old), short(new), p.Hosts)
		return
	}
	planned := map[string]float64{}
	for _, op := range p.Hosts[0].Ops {
		planned[op.Op]++
	}
	for k, a := range after {
		applied := a - before[k]
		if applied != planned[k] && (k != plan.OpSetState || applied < planned[k]) {
			h.t.Errorf("plan %s..%s shows %v %s ops, the agent made %v", short(old), short(new), planned[k], k, applied)
		}
	}
	for k := range planned {
		if _, ok := after[k]; !ok {
			h.t.Errorf("plan %s..%s shows an op the agent does not count: %s", short(old), short(new), k)
		}
	}
}
