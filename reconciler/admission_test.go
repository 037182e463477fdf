package reconciler

import (
	"context"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// serviceWatch polls `show servers state be` and records the fewest
// servers in service (readiness: admin_state & ^4 == 0 and op_state 2).
type serviceWatch struct {
	min, polls atomic.Int64
	stop       chan struct{}
	done       chan struct{}
}

func (h *harness) watchService(ctx context.Context) *serviceWatch {
	w := &serviceWatch{stop: make(chan struct{}), done: make(chan struct{})}
	w.min.Store(1 << 30)
	go func() {
		defer close(w.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			rows, err := h.rt.ShowServersState(ctx, "be")
			if err == nil {
				n := int64(0)
				for _, r := range rows {
					if r.InService() {
						n++
					}
				}
				if n < w.min.Load() {
					w.min.Store(n)
				}
				w.polls.Add(1)
			}
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *serviceWatch) end() (min, polls int64) {
	close(w.stop)
	<-w.done
	return w.min.Load(), w.polls.Load()
}

// requestLoop runs clients on the frontend until stopped.
type requestLoop struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

func (h *harness) loop(clients int) *requestLoop {
	ctx, cancel := context.WithCancel(context.Background())
	l := &requestLoop{cancel: cancel}
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for ctx.Err() == nil {
				if _, err := h.get("/"); err != nil {
					if ctx.Err() == nil {
						l.failed.Add(1)
						l.firstErr.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				l.ok.Add(1)
			}
		}()
	}
	return l
}

func (l *requestLoop) end() (ok, failed int64) {
	l.cancel()
	l.wg.Wait()
	return l.ok.Load(), l.failed.Load()
}

// runAgent runs the agent's loop (with its admission watch) until the test ends.
func (h *harness) runAgent() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.agent.Run(ctx) }()
	h.t.Cleanup(func() { cancel(); <-done })
}

func beFile(extra string) []byte {
	return []byte(`kind: Backend
name: be
balance: roundrobin
check:
  interval: 100ms
  rise: 1
  fall: 2
nodes:
  port: http
` + extra)
}

// TestServerSettingChangesUnderLoad is issue 10's acceptance: a commit that
// only changes the backend's serverDefaults.maxconn (4 servers, clients
// looping on the frontend) is a runtime `set maxconn server` per server: no
// reload, every server in service throughout, 0 failed requests. A change
// only a replace can make (the check interval) replaces the servers in
// rolling batches of one, each admitted before the next: at least 3 of 4 in
// service throughout, no reload, 0 failed requests.
func TestServerSettingChangesUnderLoad(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 4, seed: seq(0, 4)})
	h.runAgent()
	before := h.reloads()
	ctx := testCtx(t, 2*time.Minute)
	for _, tc := range []struct {
		name       string
		be         string
		want       string // on every server line once converged
		minService int64
		check      func(t *testing.T)
	}{
		{"maxconn 0 -> 50", "serverDefaults:\n  maxconn: 50\n", " maxconn 50 ", 4, func(t *testing.T) {
			for n, s := range h.servers() {
				if s.Maxconn != 50 {
					t.Errorf("%s: maxconn %d, want 50", n, s.Maxconn)
				}
			}
		}},
		{"maxconn 50 -> 80", "serverDefaults:\n  maxconn: 80\n", " maxconn 80 ", 4, func(t *testing.T) {
			for n, s := range h.servers() {
				if s.Maxconn != 80 {
					t.Errorf("%s: maxconn %d, want 80", n, s.Maxconn)
				}
			}
		}},
		{"check interval: rolling replace", "serverDefaults:\n  maxconn: 80\n", " inter 150ms ", 3, func(t *testing.T) {
			if n := counter(h.agent.metrics.runtimeChanges.WithLabelValues("replace")); n != 4 {
				t.Errorf("%v replace ops, want 4", n)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string][]byte{"backends/be.yaml": beFile(tc.be)}
			if strings.HasPrefix(tc.name, "check interval") {
				files["backends/be.yaml"] = []byte(strings.Replace(string(beFile(tc.be)), "interval: 100ms", "interval: 150ms", 1))
			}
			load := h.loop(4)
			watch := h.watchService(ctx)
			eventually(t, 10*time.Second, "the request loop to run", func() bool { return load.ok.Load() > 20 })
			prev, err := h.git.Head()
			if err != nil {
				t.Fatal(err)
			}
			ops := h.appliedOps()
			rev := h.commit(files, nil, tc.name)
			h.agent.Trigger().Notify("push")
			eventually(t, 30*time.Second, "the commit applied and converged", func() bool {
				s := h.agent.Status()
				if s.AppliedRevision != rev || len(s.Pending) != 0 || (s.LastResult != "applied" && s.LastResult != "noop") {
					return false
				}
				cfg, err := os.ReadFile(h.paths.ConfigPath)
				return err == nil && strings.Count(string(cfg), tc.want) == 4
			})
			// Keep the load on a little after convergence.
			n := load.ok.Load()
			eventually(t, 10*time.Second, "more requests", func() bool { return load.ok.Load() > n+50 })
			minIn, polls := watch.end()
			ok, failed := load.end()
			t.Logf("%d requests, %d failed; fewest servers in service %d of 4 over %d polls", ok+failed, failed, minIn, polls)
			if failed != 0 {
				t.Errorf("%d failed requests (first: %v)", failed, load.firstErr.Load())
			}
			if minIn < tc.minService {
				t.Errorf("only %d of 4 servers in service at one point, want at least %d", minIn, tc.minService)
			}
			if tc.check != nil {
				tc.check(t)
			}
			h.checkPlanApplied(prev, rev, ops, h.appliedOps())
		})
	}
	if n := h.reloads() - before; n != 0 {
		t.Errorf("%d reloads, want none", n)
	}
}

// TestStuckNodeDelaysNothing is issue 11's acceptance: a node that never
// passes its check is added (it stays out of service, reported in
// /v1/status and by the admission metrics) and an unrelated weight change
// pushed after it applies within its normal time.
func TestStuckNodeDelaysNothing(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 3, seed: seq(0, 2)})
	reg := prometheus.NewRegistry()
	h.agent = h.newAgentWith(func(c *Config) { c.Registry = reg; c.AdmitTimeout = time.Second })
	h.runAgent()
	eventually(t, 10*time.Second, "the restarted agent to converge", func() bool {
		s := h.agent.Status()
		return s.LastResult == "noop" || s.LastResult == "applied"
	})

	// Node 2 listens nowhere: close its farm port's listener by pointing it
	// at a port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().(*net.TCPAddr).Port
	l.Close()
	h.commit(map[string][]byte{nodePath(2): nodeFile(2, dead, 100)}, nil, "stuck node")
	h.agent.Trigger().Notify("push")
	eventually(t, 10*time.Second, "the stuck node added and waiting", func() bool {
		_, ok := h.servers()["n-002"]
		return ok && len(h.agent.Status().Pending) == 1
	})

	start := time.Now()
	rev := h.commit(map[string][]byte{nodePath(1): nodeFile(1, h.fleet.farm.ports[1], 42)}, nil, "weight")
	h.agent.Trigger().Notify("push")
	eventually(t, 10*time.Second, "the weight change in haproxy", func() bool { return h.servers()["n-001"].Weight == 42 })
	inHAProxy := time.Since(start)
	eventually(t, 10*time.Second, "the weight change reported applied", func() bool { return h.agent.Status().AppliedRevision == rev })
	applied := time.Since(start)
	t.Logf("weight change: in haproxy after %s, reported applied after %s", inHAProxy, applied)
	if applied > 2*time.Second {
		t.Errorf("the weight change took %s with a stuck node waiting, want its normal time (< 2s)", applied)
	}

	// The stuck node: out of service, reported, counted; once past the
	// admit timeout the status says so.
	rows, err := h.rt.ShowServersState(testCtx(t, 10*time.Second), "be")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Name == "n-002" && r.InService() {
			t.Errorf("the stuck node is in service: %+v", r)
		}
	}
	eventually(t, 10*time.Second, "the stuck node reported stuck", func() bool {
		h.agent.Trigger().Notify("poll")
		s := h.agent.Status()
		return len(s.Pending) == 1 && strings.Contains(s.Pending[0], "be/n-002") && strings.Contains(s.Pending[0], "stuck") &&
			s.LastResult == "degraded"
	})
	s := h.agent.Status()
	t.Logf("status: pending %q, last error %q", s.Pending, s.LastError)
	if got := gauge(h.agent.metrics.pendingAdmission); got != 1 {
		t.Errorf("ddc_gitops_agent_servers_pending_admission = %v, want 1", got)
	}
	if got := gauge(h.agent.metrics.pendingSince.WithLabelValues("be", "n-002")); got <= 0 {
		t.Errorf("ddc_gitops_agent_server_pending_admission_since_seconds{be,n-002} = %v", got)
	}

	// Fixed (the node's port now answers): admitted without any commit.
	h.commit(map[string][]byte{nodePath(2): nodeFile(2, h.fleet.farm.ports[2], 100)}, nil, "fix node")
	h.agent.Trigger().Notify("push")
	eventually(t, 10*time.Second, "the fixed node admitted", func() bool {
		return len(h.agent.Status().Pending) == 0 && h.servers()["n-002"].State == "ready"
	})
	if got := gauge(h.agent.metrics.pendingAdmission); got != 0 {
		t.Errorf("ddc_gitops_agent_servers_pending_admission = %v, want 0", got)
	}
}

func gauge(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		return -1
	}
	return m.GetGauge().GetValue()
}

func counter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

// TestReloadDuringAdmissionKeepsServers: servers are persisted before
// admission, so a reload while a new server waits for its first check
// (here one the agent did not ask for) neither loses it nor puts it in
// service unchecked; the agent admits it again and it enters service once
// its check passes.
func TestReloadDuringAdmissionKeepsServers(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 3, seed: seq(0, 2)})
	h.runAgent()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().(*net.TCPAddr).Port
	l.Close()
	h.commit(map[string][]byte{nodePath(2): nodeFile(2, dead, 100)}, nil, "node not up yet")
	h.agent.Trigger().Notify("push")
	eventually(t, 10*time.Second, "the new node added and waiting", func() bool {
		_, ok := h.servers()["n-002"]
		return ok && len(h.agent.Status().Pending) == 1
	})
	cfg, err := os.ReadFile(h.paths.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "server n-002 ") || !strings.Contains(string(cfg), " disabled\n") {
		t.Fatalf("the waiting server is not persisted disabled:\n%s", cfg)
	}

	before := h.reloads()
	if err := h.m.Reload(testCtx(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if h.reloads() != before+1 {
		t.Fatal("no reload")
	}
	s, ok := h.servers()["n-002"]
	if !ok {
		t.Fatal("the reload lost the server waiting for admission")
	}
	if s.Up && s.State == "ready" {
		t.Fatalf("after the reload the unchecked server is in service: %+v", s)
	}
	eventually(t, 10*time.Second, "the agent to admit it again (drain, check running)", func() bool {
		return h.servers()["n-002"].State == "drain" && len(h.agent.Status().Pending) == 1
	})
	h.commit(map[string][]byte{nodePath(2): nodeFile(2, h.fleet.farm.ports[2], 100)}, nil, "node up")
	h.agent.Trigger().Notify("push")
	eventually(t, 10*time.Second, "the node in service", func() bool {
		return len(h.agent.Status().Pending) == 0 && h.servers()["n-002"].State == "ready"
	})
}

// TestAdmissionPollDelay: the watch reads a tenth as often as the newest
// waiting server has waited, from 100 ms to 2 s.
func TestAdmissionPollDelay(t *testing.T) {
	for _, tc := range []struct{ waited, want time.Duration }{
		{-time.Second, 100 * time.Millisecond}, // a clock step back
		{0, 100 * time.Millisecond},
		{500 * time.Millisecond, 100 * time.Millisecond},
		{time.Second, 100 * time.Millisecond},
		{5 * time.Second, 500 * time.Millisecond},
		{20 * time.Second, 2 * time.Second},
		{time.Hour, 2 * time.Second},
	} {
		if got := admissionPollDelay(tc.waited); got != tc.want {
			t.Errorf("admissionPollDelay(%s) = %s, want %s", tc.waited, got, tc.want)
		}
	}
}
