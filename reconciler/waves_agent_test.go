package reconciler

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy/haproxytest"
)

// waveHost is one host of the two-host wave fleet: a real haproxy, an
// agent and the agent's status endpoint, which the other host reads.
type waveHost struct {
	*harness
	name     string
	fePort   int
	listener net.Listener
	srv      *http.Server
	statusOn atomic.Bool // false: the status endpoint answers 503 (unreachable)
}

// waveFleet is two zones, a (host h1, wave 0) and b (host h2, wave 1),
// each with its own frontend on loopback and one backend of static servers.
type waveFleet struct {
	nodes    *nodeFarm
	h1, h2   *waveHost
	headerV  string // value of a header both frontends set: changing it is a structural change
	weight   int    // the servers' weight: changing it is a server change
	extraFl  string // appended to fleet.yaml
	statsPts [2]int
}

func (f *waveFleet) files() map[string][]byte {
	zone := func(name, host, addr string, fe, stats int, agentURL string, net int) []byte {
		return []byte(fmt.Sprintf(`kind: Zone
name: %s
network:
  cidr: 198.18.%d.0/24
vips:
  - name: %s-vip
    address: 198.18.%d.100
    routerId: %d
hosts:
  - name: %s
    address: %s
    agentURL: %s
    owns: [%s-vip]
frontends:
  - name: web
    binds:
      - address: 127.0.0.1
        port: %d
    defaultBackend: be
    setHeaders:
      - name: X-Wave-Test
        value: %s
stats:
  bind:
    address: 127.0.0.1
    port: %d
`, name, net, name, net, net, host, addr, agentURL, name, fe, f.headerV, stats))
	}
	be := "kind: Backend\nname: be\nbalance: roundrobin\ncheck:\n  interval: 100ms\n  rise: 1\n  fall: 2\nservers:\n"
	for i, p := range f.nodes.ports {
		be += fmt.Sprintf("  - name: s%d\n    address: 127.0.0.1\n    port: %d\n    weight: %d\n", i, p, f.weight)
	}
	return map[string][]byte{
		"fleet.yaml": []byte(`kind: Fleet
name: t
haproxy:
  hardStopAfter: 5s
  maxconn: 4096
  crtBase: /nonexistent-certs
  logTarget: none
  serverDefaults:
    slowstart: 0s
addressPolicy:
  allowLoopback: true
rollout:
  peerTimeout: 500ms
  recheckInterval: 200ms
healthGate: # these tests reconcile by hand, with no gate sampling: applied is good
  enabled: false
` + f.extraFl),
		"zones/a/zone.yaml": zone("a", "h1", "198.18.110.11", f.h1.fePort, f.statsPts[0], "http://"+f.h1.listener.Addr().String(), 110),
		"zones/b/zone.yaml": zone("b", "h2", "198.18.111.11", f.h2.fePort, f.statsPts[1], "http://"+f.h2.listener.Addr().String(), 111),
		"backends/be.yaml":  []byte(be),
	}
}

func newWaveFleet(t *testing.T) (*waveFleet, string) {
	t.Helper()
	if _, err := os.Stat(haproxytest.Bin()); err != nil {
		t.Skip("haproxy not installed (make test installs it)")
	}
	git := gitservertest.New(t, gitserver.Options{})
	f := &waveFleet{nodes: newNodeFarm(t, 2), headerV: "one", weight: 100, statsPts: [2]int{stablePort(t), stablePort(t)}}
	mk := func(name string) *waveHost {
		dir, err := os.MkdirTemp("", "wv")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		h := &waveHost{name: name, fePort: stablePort(t), listener: l, harness: &harness{
			t: t, git: git, dir: dir, state: filepath.Join(dir, "state"),
			paths: HAProxyPaths{
				Bin: haproxytest.Bin(), ConfigPath: filepath.Join(dir, "haproxy.cfg"),
				MasterSocket: filepath.Join(dir, "master.sock"), AdminSocket: filepath.Join(dir, "admin.sock"),
			},
		}}
		h.statusOn.Store(true)
		return h
	}
	f.h1, f.h2 = mk("h1"), mk("h2")
	seed := gitservertest.MustCommit(t, git, f.files(), nil, "seed")
	for _, h := range []*waveHost{f.h1, f.h2} {
		h.agent = h.newAgentWith(func(c *Config) { c.Host = h.name })
		status := agentapi.NewHandler(agentapi.Endpoints{Status: h.agent.Status, Sync: http.NotFoundHandler()})
		h.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !h.statusOn.Load() {
				http.Error(w, "switched off by the test", http.StatusServiceUnavailable)
				return
			}
			status.ServeHTTP(w, r)
		})}
		go h.srv.Serve(h.listener)
		t.Cleanup(func() { h.srv.Close() })
		ctx := testCtx(t, 30*time.Second)
		if err := h.agent.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
		h.startHAProxy("")
		h.m = haproxy.NewMaster(h.paths.MasterSocket, nil)
		if out := h.agent.ReconcileOnce(ctx); out.Err != nil || out.Revision != seed {
			t.Fatalf("%s: first reconcile: %+v", h.name, out)
		}
	}
	return f, seed
}

// reconcileTo reconciles h and checks the result and revision.
func (h *waveHost) reconcileTo(result, rev string) Outcome {
	h.t.Helper()
	out := h.agent.Reconcile(testCtx(h.t, 60*time.Second))
	if out.Result != result || out.Revision != rev || (result != resultHolding && out.Err != nil) {
		h.t.Fatalf("%s: reconcile %+v, want %s of %s", h.name, out, result, short(rev))
	}
	return out
}

// waiting is what h's status says it waits for.
func (h *waveHost) waiting() (holding string, waitingFor []string) {
	st := h.agent.Status()
	if st.Wave == nil {
		h.t.Fatalf("%s: no wave status", h.name)
	}
	return st.Wave.Holding, st.Wave.WaitingFor
}

// TestWaveHoldsUntilEarlierWaveDone is the agent-level test of waves: two
// agents on real haproxy, h2 (wave 1) holds a structural revision until h1
// (wave 0) reports it done, holds while h1 is unreachable, applies server
// changes at once, and follows a person's hold and promote; a client
// looping through both frontends sees no failed request.
func TestWaveHoldsUntilEarlierWaveDone(t *testing.T) {
	f, seed := newWaveFleet(t)
	for _, h := range []*waveHost{f.h1, f.h2} {
		if st := h.agent.Status(); st.LastGoodRevision != seed {
			t.Fatalf("%s: last good %q, want the seed", h.name, st.LastGoodRevision)
		}
	}
	loop := newDualLoop(f.h1.fePort, f.h2.fePort)
	defer func() {
		ok, failed, first := loop.end()
		t.Logf("client: %d requests ok, %d failed", ok, failed)
		if ok == 0 || failed != 0 {
			t.Errorf("client through both frontends: %d ok, %d failed (first: %v)", ok, failed, first)
		}
	}()
	r1Reloads, r2Reloads := f.h1.reloads(), f.h2.reloads()

	// 1. A structural commit: h2 holds it, h1 (wave 0) applies it, then h2.
	f.headerV = "two"
	rev1 := f.h1.commit(f.files(), nil, "structural")
	out := f.h2.reconcileTo(resultHolding, rev1)
	if out.RetryAfter != 200*time.Millisecond {
		t.Errorf("holding retries after %s, want the recheck interval 200ms", out.RetryAfter)
	}
	if held, why := f.h2.waiting(); held != rev1 || len(why) != 1 || !strings.HasPrefix(why[0], "h1 (wave 0): not yet applied (runs "+short(seed)) {
		t.Fatalf("h2 holds %q waiting for %q", short(held), why)
	}
	if f.h2.reloads() != r2Reloads || f.h2.agent.Status().AppliedRevision != seed {
		t.Fatal("h2 applied the revision while holding it")
	}
	f.h1.reconcileTo(agentapi.ResultApplied, rev1)
	if st := f.h1.agent.Status(); st.LastGoodRevision != rev1 || st.Wave == nil || st.Wave.Wave != 0 || st.Wave.Holding != "" {
		t.Fatalf("h1 after applying: last good %s, wave %+v", short(st.LastGoodRevision), st.Wave)
	}
	h1Applied := f.h1.agent.Status().AppliedAt
	f.h2.reconcileTo(agentapi.ResultApplied, rev1)
	if st := f.h2.agent.Status(); st.Wave.Holding != "" || !st.AppliedAt.After(h1Applied) {
		t.Errorf("h2 after applying: wave %+v, applied at %s (h1 at %s)", st.Wave, st.AppliedAt, h1Applied)
	}
	if f.h1.reloads() != r1Reloads+1 || f.h2.reloads() != r2Reloads+1 {
		t.Errorf("reloads: h1 %d, h2 %d; want one each", f.h1.reloads()-r1Reloads, f.h2.reloads()-r2Reloads)
	}

	// 2. h1 unreachable: h2 holds the next structural revision with a clear status.
	f.headerV = "three"
	rev2 := f.h1.commit(f.files(), nil, "structural 2")
	f.h1.reconcileTo(agentapi.ResultApplied, rev2)
	f.h1.statusOn.Store(false)
	f.h2.reconcileTo(resultHolding, rev2)
	if _, why := f.h2.waiting(); len(why) != 1 || !strings.Contains(why[0], "h1 (wave 0): unreachable: status from http://") {
		t.Fatalf("h2 waits for %q, want h1 unreachable", why)
	}
	f.h1.statusOn.Store(true)
	f.h2.reconcileTo(agentapi.ResultApplied, rev2)

	// 3. A server change (weights) skips waves: h2 applies it before h1.
	f.weight = 50
	rev3 := f.h1.commit(f.files(), nil, "weights")
	f.h2.reconcileTo(agentapi.ResultApplied, rev3)
	f.h1.reconcileTo(agentapi.ResultApplied, rev3)

	// 4. A person holds the next structural revision: even wave 0 waits.
	f.headerV = "four"
	rev4 := f.h1.commit(f.files(), nil, "structural 4")
	gitIn(t, f.h1.git.RepoPath(), "update-ref", agentapi.RolloutRef(agentapi.DecisionHold, rev4), rev4)
	f.h1.reconcileTo(resultHolding, rev4)
	if held, why := f.h1.waiting(); held != rev4 || len(why) != 1 || !strings.Contains(why[0], "held by a person") {
		t.Fatalf("h1 holds %q waiting for %q, want a person's hold", short(held), why)
	}
	// ... then promotes it while h1 is unreachable: h2 applies it without waiting.
	gitIn(t, f.h1.git.RepoPath(), "update-ref", "-d", agentapi.RolloutRef(agentapi.DecisionHold, rev4))
	gitIn(t, f.h1.git.RepoPath(), "update-ref", agentapi.RolloutRef(agentapi.DecisionPromote, rev4), rev4)
	f.h1.statusOn.Store(false)
	f.h2.reconcileTo(agentapi.ResultApplied, rev4)
	if st := f.h2.agent.Status(); st.Wave == nil || st.Wave.Decision != agentapi.DecisionPromote {
		t.Errorf("h2's wave status %+v, want the promote decision", st.Wave)
	}
	f.h1.statusOn.Store(true)
	f.h1.reconcileTo(agentapi.ResultApplied, rev4)

	// The holding metric names nothing once nothing is held.
	if n := countSeries(t, f.h2.agent, "ddc_gitops_agent_rollout_holding"); n != 0 {
		t.Errorf("%d holding series left", n)
	}
}

// TestWaveHoldMetric checks the holding series while a revision is held.
func TestWaveHoldMetric(t *testing.T) {
	f, _ := newWaveFleet(t)
	f.headerV = "two"
	rev := f.h1.commit(f.files(), nil, "structural")
	f.h2.reconcileTo(resultHolding, rev)
	if n := countSeries(t, f.h2.agent, "ddc_gitops_agent_rollout_holding"); n != 1 {
		t.Errorf("%d holding series, want 1", n)
	}
	f.h1.reconcileTo(agentapi.ResultApplied, rev)
	f.h2.reconcileTo(agentapi.ResultApplied, rev)
	if n := countSeries(t, f.h2.agent, "ddc_gitops_agent_rollout_holding"); n != 0 {
		t.Errorf("%d holding series after applying, want 0", n)
	}
}

func countSeries(t *testing.T, a *Agent, name string) int {
	t.Helper()
	mfs, err := a.cfg.Registry.(prometheus.Gatherer).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// dualLoop is a client looping through two frontends, one request each in
// turn, each on a new connection (a reload closes idle keep-alive
// connections, which a client may see as a reset: FIELD-NOTES).
type dualLoop struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

func newDualLoop(ports ...int) *dualLoop {
	ctx, cancel := context.WithCancel(context.Background())
	l := &dualLoop{cancel: cancel}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range 2 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				port := ports[i%len(ports)]
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
				resp, err := c.Do(req)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = errors.New(resp.Status)
					}
				}
				if err != nil {
					if ctx.Err() == nil {
						l.failed.Add(1)
						l.firstErr.CompareAndSwap(nil, fmt.Sprintf("port %d: %v", port, err))
					}
					continue
				}
				l.ok.Add(1)
			}
		}()
	}
	return l
}

func (l *dualLoop) end() (ok, failed int64, first any) {
	l.cancel()
	l.wg.Wait()
	return l.ok.Load(), l.failed.Load(), l.firstErr.Load()
}
