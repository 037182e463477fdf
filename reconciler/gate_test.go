package reconciler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/gittree"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// flakyPath answers 200 on the strict farm until nodeFarm.failing is set,
// then 503.
const flakyPath = "/flaky"

// newStrictFarm is a node farm whose servers answer like a real node: 200
// on / and /health, 404 on any other path (the harness's farm answers 200
// on any path, so a bad health check path would break nothing), and
// flakyPath as the farm's failing flag says.
func newStrictFarm(t testing.TB, n int) *nodeFarm {
	t.Helper()
	f := &nodeFarm{}
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("n-%03d", i)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/health":
				io.WriteString(w, `{"status":"healthy"}`)
			case "/":
				io.WriteString(w, name)
			case flakyPath:
				if f.failing.Load() {
					http.Error(w, "failing", http.StatusServiceUnavailable)
					return
				}
				io.WriteString(w, "ok")
			default:
				http.NotFound(w, r)
			}
		}), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
		f.ports = append(f.ports, l.Addr().(*net.TCPAddr).Port)
	}
	return f
}

// gateFleet is the harness fleet on the strict farm with a short health
// gate window; checkPath, when set, is the backend's health check path.
func (h *harness) gateFleet(nodes []int, checkPath string, weight int) map[string][]byte {
	files := h.fleet.files(nodes)
	files["fleet.yaml"] = append(files["fleet.yaml"], []byte("healthGate:\n  window: 4s\n  sampleInterval: 200ms\n  probeTimeout: 100ms\n")...)
	be := "kind: Backend\nname: be\nbalance: roundrobin\ncheck:\n  interval: 100ms\n  rise: 1\n  fall: 2\n"
	if checkPath != "" {
		be += "  path: " + checkPath + "\n"
	}
	files["backends/be.yaml"] = []byte(be + "nodes:\n  port: http\n")
	for _, i := range nodes {
		files[nodePath(i)] = nodeFile(i, h.fleet.farm.ports[i], weight)
	}
	return files
}

// runAgentUntil runs the agent's loop until the returned stop is called.
func (h *harness) runAgentUntil() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.agent.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	h.t.Cleanup(stop)
	return stop
}

func counterValue(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matchLabels(m, labels) {
				if m.Counter != nil {
					return m.GetCounter().GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func matchLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			n++
		}
	}
	return n == len(want)
}

func quarantined(st agentapi.Status, rev string) bool {
	return slices.ContainsFunc(st.Quarantined, func(q agentapi.Quarantine) bool { return q.Revision == rev })
}

// TestHealthGateTripsRollsBackAndQuarantines is issue 17's gate on a real
// haproxy under a request loop: a good commit passes the gate and becomes
// the last good revision; a commit whose health check path every server
// fails trips the gate within the window and is rolled back (servers UP
// again) and quarantined; it is not applied again by later reconciles nor
// by a restarted agent; a newer commit is applied and lifts the quarantine.
func TestHealthGateTripsRollsBackAndQuarantines(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 3, seed: seq(0, 3)})
	h.fleet.farm = newStrictFarm(t, 3)
	// Servers waiting for admission count in the UP ratio once they waited
	// longer than the admit timeout: keep it below the window.
	admit1s := func(c *Config) { c.AdmitTimeout = time.Second }
	h.agent = h.newAgentWith(admit1s)
	stop := h.runAgentUntil()
	sync := func() { h.agent.Trigger().Notify("test") }
	status := func() agentapi.Status { return h.agent.Status() }
	reg := h.agent.cfg.Registry.(*prometheus.Registry)

	// A good commit (the strict farm, the gate's short window) passes.
	good := h.commit(h.gateFleet(seq(0, 3), "", 100), nil, "strict nodes, short gate window")
	sync()
	eventually(t, 20*time.Second, "the good commit to pass the gate", func() bool {
		st := status()
		return st.AppliedRevision == good && st.LastGoodRevision == good && st.Gate != nil && st.Gate.State == agentapi.GatePassed
	})
	if _, err := h.get("/"); err != nil {
		t.Fatalf("frontend before the bad commit: %v", err)
	}

	// A good structural commit (a reload) passes too, with no failed request.
	loop := h.loop(4)
	eventually(t, 10*time.Second, "traffic in the before samples", func() bool { return loop.ok.Load() > 200 })
	reloads := h.reloads()
	h.fleet.extraFrontend = "    setHeaders:\n      - name: X-Gate\n        value: one\n"
	good = h.commit(h.gateFleet(seq(0, 3), "", 100), nil, "a structural change")
	sync()
	eventually(t, 20*time.Second, "the structural commit to pass the gate", func() bool {
		st := status()
		return st.AppliedRevision == good && st.LastGoodRevision == good && st.Gate != nil && st.Gate.Revision == good && st.Gate.State == agentapi.GatePassed
	})
	if h.reloads() <= reloads {
		t.Fatalf("the structural commit did not reload haproxy")
	}
	if ok, failed := loop.end(); failed != 0 {
		t.Fatalf("good structural commit: %d ok, %d failed (first: %v)", ok, failed, loop.firstErr.Load())
	}

	loop = h.loop(4)
	eventually(t, 10*time.Second, "traffic in the before samples", func() bool { return loop.ok.Load() > 200 })
	bad := h.commit(h.gateFleet(seq(0, 3), "/nope", 100), nil, "health check path every node fails")
	sync()
	eventually(t, 20*time.Second, "the gate to trip and roll back", func() bool {
		st := status()
		return st.Gate != nil && st.Gate.Revision == bad && st.Gate.State == agentapi.GateTripped &&
			quarantined(st, bad) && st.AppliedRevision == good
	})
	st := status()
	t.Logf("gate: %s %s after the apply (window %s); verdict: %s", st.Gate.State, st.Quarantined[len(st.Quarantined)-1].At.Sub(st.Gate.Since).Round(time.Millisecond), st.Gate.Until.Sub(st.Gate.Since), st.Gate.Verdict)
	if st.LastGoodRevision != good || st.DesiredRevision != bad || st.Counts.Rollbacks < 1 {
		t.Errorf("status after the trip: lastGood %s desired %s rollbacks %d", short(st.LastGoodRevision), short(st.DesiredRevision), st.Counts.Rollbacks)
	}
	q := st.Quarantined[len(st.Quarantined)-1]
	if q.Reason == "" || len(q.Evidence) == 0 || !q.Evidence[0].Tripped || q.Evidence[0].Signal != signalUpRatio || q.Evidence[0].Subject != "be" {
		t.Errorf("quarantine %+v: want the backend's UP ratio as the evidence", q)
	}
	if q.At.After(st.Gate.Until) {
		t.Errorf("tripped at %s, after the window's end %s", q.At, st.Gate.Until)
	}
	eventually(t, 10*time.Second, "every server UP again", func() bool {
		for _, s := range h.servers() {
			if !s.Up {
				return false
			}
		}
		return true
	})
	eventually(t, 5*time.Second, "requests to succeed again", func() bool { _, err := h.get("/"); return err == nil })
	ok, failed := loop.end()
	t.Logf("requests during the bad revision and its rollback: %d ok, %d failed", ok, failed)
	if got := counterValue(t, reg, "ddc_gitops_agent_gate_tripped_total", nil); got != 1 {
		t.Errorf("gate_tripped_total = %v, want 1", got)
	}
	if got := counterValue(t, reg, "ddc_gitops_agent_quarantined_revision", map[string]string{"revision": bad}); got != 1 {
		t.Errorf("quarantined_revision{%s} = %v, want 1", short(bad), got)
	}

	// Later reconciles keep the last good revision: no reload, no change.
	reloads = h.reloads()
	n := status().Counts.Reconciles
	for i := range 3 {
		sync()
		eventually(t, 10*time.Second, "a reconcile", func() bool { return status().Counts.Reconciles > n+i })
	}
	if st := status(); st.AppliedRevision != good || !quarantined(st, bad) || h.reloads() != reloads {
		t.Fatalf("after more reconciles: applied %s, quarantined %v, reloads %d -> %d", short(st.AppliedRevision), st.Quarantined, reloads, h.reloads())
	}

	// A restarted agent keeps the quarantine.
	stop()
	h.agent = h.newAgentWith(admit1s)
	if st := status(); !quarantined(st, bad) || st.LastGoodRevision != good {
		t.Fatalf("restarted agent: lastGood %s, quarantined %v", short(st.LastGoodRevision), st.Quarantined)
	}
	if out := h.agent.Reconcile(testCtx(t, 30*time.Second)); out.Err != nil || out.Revision != good {
		t.Fatalf("restarted agent's reconcile: %+v, want the last good revision %s", out, short(good))
	}
	if h.reloads() != reloads {
		t.Fatalf("the restarted agent reloaded haproxy")
	}
	h.runAgentUntil()
	reg = h.agent.cfg.Registry.(*prometheus.Registry)

	// A newer commit (the path fixed, a weight changed) is applied, passes
	// and lifts the quarantine.
	loop = h.loop(4)
	fixed := h.commit(h.gateFleet(seq(0, 3), "/health", 50), nil, "fix the health check path")
	sync()
	eventually(t, 20*time.Second, "the newer commit to pass the gate", func() bool {
		st := status()
		return st.AppliedRevision == fixed && st.LastGoodRevision == fixed && len(st.Quarantined) == 0
	})
	ok, failed = loop.end()
	t.Logf("requests during the newer commit: %d ok, %d failed", ok, failed)
	if failed != 0 {
		t.Errorf("%d failed requests during a good commit (first: %v)", failed, loop.firstErr.Load())
	}
	if got := counterValue(t, reg, "ddc_gitops_agent_quarantined_revision", map[string]string{"revision": bad}); got != 0 {
		t.Errorf("quarantined_revision{%s} = %v after the newer commit, want no series", short(bad), got)
	}
}

// TestGateSubstituteWithoutHistory: a source without history (DirSource)
// rolls back to the rendered host saved when the last good revision
// passed, from the state directory (a restarted agent has nothing in
// memory); a head that is not quarantined is reconciled as it is.
func TestGateSubstituteWithoutHistory(t *testing.T) {
	dir := t.TempDir()
	a, err := New(Config{Host: "h1", Source: fakeSource{}, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	good := &render.Host{Name: "h1", Zone: "lo", HAProxy: []byte("global\n"), Backends: []render.Backend{{Name: "be", Servers: []render.Server{{Name: "n-000", Address: "127.0.0.1", Port: 8080, Weight: 100}}}}}
	a.mu.Lock()
	a.gate.setLastGood("dir-good", good)
	a.gate.quarantine(&gateResult{rev: "dir-bad", tripped: true, verdict: "backend be: servers UP 100% -> 0% (trips below 75%)"})
	a.mu.Unlock()

	a, err = New(Config{Host: "h1", Source: fakeSource{}, StateDir: dir}) // restarted
	if err != nil {
		t.Fatal(err)
	}
	if st := a.Status(); st.LastGoodRevision != "dir-good" || !quarantined(st, "dir-bad") {
		t.Fatalf("restarted: %+v", st)
	}
	r := &run{a: a, steps: map[string]float64{}}
	snap, err := r.gateSubstitute(context.Background(), &source.Snapshot{Revision: gittree.Revision{Hash: "dir-bad"}})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision.Hash != "dir-good" || !r.substituted || a.cached.rev != "dir-good" || !reflect.DeepEqual(a.cached.host, good) {
		t.Fatalf("substituted %s (substituted %v), cached %s %+v", snap.Revision.Hash, r.substituted, a.cached.rev, a.cached.host)
	}
	r = &run{a: a, steps: map[string]float64{}}
	head := &source.Snapshot{Revision: gittree.Revision{Hash: "dir-newer"}}
	if snap, err := r.gateSubstitute(context.Background(), head); err != nil || snap != head || r.substituted {
		t.Fatalf("a newer head: %v %v %v", snap, err, r.substituted)
	}
}

// TestGateRollbackTo: the host goes back to its last good revision when
// the head or the revision it runs is quarantined, never to the head
// itself, and never without a last good revision.
func TestGateRollbackTo(t *testing.T) {
	tests := []struct {
		name                  string
		lastGood, head, apply string
		want                  bool
	}{
		{"head quarantined", "good", "bad", "good", true},
		{"head quarantined, host still runs it", "good", "bad", "bad", true},
		{"newer head while the host runs a quarantined revision", "good", "newer", "bad", true},
		{"newer head, host runs the last good revision", "good", "newer", "good", false},
		{"head is the last good revision", "good", "good", "bad", false},
		{"no last good revision", "", "bad", "bad", false},
		{"nothing quarantined", "good", "newer", "other", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &gate{st: gatePersisted{LastGoodRevision: tt.lastGood, Quarantined: []agentapi.Quarantine{{Revision: "bad"}}}}
			lg, due := g.rollbackTo(tt.head, tt.apply)
			if due != tt.want || due && lg != tt.lastGood {
				t.Fatalf("rollbackTo(%s, %s) = %q, %v; want %v", tt.head, tt.apply, lg, due, tt.want)
			}
		})
	}
}

// TestGateSubstituteNewerHeadAndStaleSavedHost: a newer head that arrived
// while the host runs a quarantined revision does not keep the bad
// revision running (the host rolls back first, without the bad revision's
// cached fleet); a saved host of an earlier revision is never applied
// under the last good revision's name.
func TestGateSubstituteNewerHeadAndStaleSavedHost(t *testing.T) {
	dir := t.TempDir()
	a, err := New(Config{Host: "h1", Source: fakeSource{}, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	good := &render.Host{Name: "h1", Zone: "lo", HAProxy: []byte("global\n")}
	a.mu.Lock()
	a.gate.setLastGood("dir-good", good)
	a.gate.quarantine(&gateResult{rev: "dir-bad", tripped: true, verdict: "tripped"})
	a.state.AppliedRevision = "dir-bad"
	a.cached.rev, a.cached.fleet = "dir-bad", &desired.Fleet{}
	r := &run{a: a, steps: map[string]float64{}}
	snap, err := r.gateSubstitute(context.Background(), &source.Snapshot{Revision: gittree.Revision{Hash: "dir-newer"}})
	a.mu.Unlock()
	if err != nil || snap.Revision.Hash != "dir-good" || !r.substituted {
		t.Fatalf("newer head over a quarantined applied revision: %v, %v, substituted %v; want the last good revision", snap, err, r.substituted)
	}
	if a.cached.fleet != nil || a.cached.host != good {
		t.Fatalf("cached after the rollback: fleet %v, host %p; want no fleet and the saved host", a.cached.fleet, a.cached.host)
	}

	// A later revision becomes the last good one without a rendered host:
	// the saved host (of dir-good) must not stand in for it.
	a.mu.Lock()
	a.gate.setLastGood("dir-later", nil)
	a.gate.quarantine(&gateResult{rev: "dir-worse", tripped: true, verdict: "tripped"})
	a.state.AppliedRevision = "dir-worse"
	a.cached.rev, a.cached.host, a.cached.fleet = "", nil, nil
	r = &run{a: a, steps: map[string]float64{}}
	_, err = r.gateSubstitute(context.Background(), &source.Snapshot{Revision: gittree.Revision{Hash: "dir-worse"}})
	a.mu.Unlock()
	if err == nil || !strings.Contains(err.Error(), "last good revision") {
		t.Fatalf("rollback with only an older revision's saved host: err %v, want a clear error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, gateLastGoodFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the saved host of an earlier revision is still on disk: %v", err)
	}
}
