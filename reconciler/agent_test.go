package reconciler

import (
	"context"
	"errors"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
)

// TestRuntimeOnlyAddAndRemove: a commit adding 200 nodes is applied with no
// reload, every server is running and persisted; removing 100 needs no
// reload either.
func TestRuntimeOnlyAddAndRemove(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 202, seed: seq(0, 2)})
	before := h.reloads()

	files := map[string][]byte{}
	for _, i := range seq(2, 202) {
		files[nodePath(i)] = nodeFile(i, h.fleet.farm.ports[i], 100)
	}
	rev := h.commit(files, nil, "add 200 nodes")
	out := h.reconcile(rev)
	if out.Reloads != 0 || out.RuntimeChanges != 200 {
		t.Fatalf("outcome %+v, want 200 runtime changes and no reload", out)
	}
	if got := h.reloads(); got != before {
		t.Fatalf("master reload count %d -> %d: a reload happened", before, got)
	}
	srv := h.servers()
	if len(srv) != 202 {
		t.Fatalf("%d servers running, want 202", len(srv))
	}
	for name, s := range srv {
		if s.State != haproxy.StateReady {
			t.Errorf("server %s is %s, want ready", name, s.State)
		}
	}
	cfg, _ := os.ReadFile(h.paths.ConfigPath)
	if n := strings.Count(string(cfg), "    server n-"); n != 202 {
		t.Fatalf("haproxy.cfg has %d server lines, want 202", n)
	}

	var dels []string
	for _, i := range seq(100, 200) {
		dels = append(dels, nodePath(i))
	}
	rev = h.commit(nil, dels, "remove 100 nodes")
	out = h.reconcile(rev)
	if out.Reloads != 0 || out.RuntimeChanges != 100 {
		t.Fatalf("outcome %+v, want 100 runtime changes and no reload", out)
	}
	if got := h.reloads(); got != before {
		t.Fatalf("master reload count %d -> %d after removals", before, got)
	}
	if n := len(h.servers()); n != 102 {
		t.Fatalf("%d servers running, want 102", n)
	}
	cfg, _ = os.ReadFile(h.paths.ConfigPath)
	if n := strings.Count(string(cfg), "    server n-"); n != 102 {
		t.Fatalf("haproxy.cfg has %d server lines, want 102", n)
	}
	if body, err := h.get("/"); err != nil || !strings.HasPrefix(body, "n-") {
		t.Fatalf("traffic: %q %v", body, err)
	}
}

func TestWeightChangeIsRuntimeOnly(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 2, seed: seq(0, 2)})
	before := h.reloads()
	rev := h.commit(map[string][]byte{nodePath(1): nodeFile(1, h.fleet.farm.ports[1], 37)}, nil, "weight")
	out := h.reconcile(rev)
	if out.Reloads != 0 || out.RuntimeChanges != 1 {
		t.Fatalf("outcome %+v", out)
	}
	if w := h.servers()["n-001"].Weight; w != 37 {
		t.Fatalf("weight %d, want 37", w)
	}
	if h.reloads() != before {
		t.Fatal("a weight change reloaded haproxy")
	}
}

// TestStructuralChangesAreCoalesced: one structural commit is one verified
// reload; ten in quick succession are at most two.
func TestStructuralChangesAreCoalesced(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 2, seed: seq(0, 2), debounce: 2 * time.Second})
	before := h.reloads()
	h.fleet.extraFrontend = "    setHeaders:\n      - name: X-Rev\n        value: one\n"
	rev := h.commit(h.fleet.files(seq(0, 2)), nil, "structural")
	out := h.reconcile(rev)
	if out.Reloads != 1 || h.reloads() != before+1 {
		t.Fatalf("outcome %+v, master reloads %d -> %d: want exactly one", out, before, h.reloads())
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.agent.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	var last string
	for i := range 10 {
		h.fleet.extraFrontend = "    setHeaders:\n      - name: X-Rev\n        value: v" + string(rune('a'+i)) + "\n"
		last = h.commit(h.fleet.files(seq(0, 2)), nil, "burst")
		h.agent.Trigger().Notify("push")
	}
	eventually(t, 30*time.Second, "the last commit applied", func() bool {
		return h.agent.Status().AppliedRevision == last
	})
	cfg, _ := os.ReadFile(h.paths.ConfigPath)
	if !strings.Contains(string(cfg), `"vj"`) {
		t.Fatal("the running config is not the last commit's")
	}
	if n := h.reloads() - (before + 1); n < 1 || n > 2 {
		t.Fatalf("ten structural commits caused %d reloads, want 1 or 2", n)
	}
}

// TestInvalidForHAProxyNeverApplied: a revision that validates but that
// haproxy rejects (a certificate that is not on the host) is never applied,
// is reported, and the next good commit applies.
func TestInvalidForHAProxyNeverApplied(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 2, seed: seq(0, 2)})
	good, _ := os.ReadFile(h.paths.ConfigPath)
	before := h.reloads()
	h.fleet.extraFrontend = "  - name: tls\n    binds:\n      - address: 127.0.0.1\n        port: 1\n    tls:\n      certificate: missing.pem\n    defaultBackend: be\n"
	bad := h.commit(h.fleet.files(seq(0, 2)), nil, "bad tls")
	out := h.agent.Reconcile(testCtx(t, 30*time.Second))
	if out.Result != agentapi.ResultStalled || out.Err == nil {
		t.Fatalf("outcome %+v, want stalled", out)
	}
	st := h.agent.Status()
	if st.FailedRevision != bad || !strings.Contains(st.LastError, "missing.pem") || st.AppliedRevision == bad {
		t.Fatalf("status %+v does not name the bad revision and its error", st)
	}
	if cfg, _ := os.ReadFile(h.paths.ConfigPath); string(cfg) != string(good) {
		t.Fatal("the config on disk changed")
	}
	if h.reloads() != before {
		t.Fatal("haproxy was reloaded")
	}
	if _, err := h.get("/"); err != nil {
		t.Fatalf("traffic broken: %v", err)
	}
	// Stalled: not retried until the branch moves.
	if out := h.agent.Reconcile(testCtx(t, 30*time.Second)); out.Result != agentapi.ResultStalled || out.RetryAfter != 0 {
		t.Fatalf("second reconcile %+v, want stalled without retry", out)
	}
	h.fleet.extraFrontend = ""
	fixed := h.commit(h.fleet.files(seq(0, 2)), nil, "fix")
	h.reconcile(fixed)
	if st := h.agent.Status(); st.AppliedRevision != fixed || st.FailedRevision != "" {
		t.Fatalf("status after the fix: %+v", st)
	}
}

// TestFailedReloadRollsBack: a config that passes `haproxy -c` but cannot
// start (its bind port is taken) is rolled back and verified.
func TestFailedReloadRollsBack(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 2, seed: seq(0, 2)})
	good, _ := os.ReadFile(h.paths.ConfigPath)
	taken := listenTaken(t)
	h.fleet.extraFrontend = "  - name: clash\n    binds:\n      - address: 127.0.0.1\n        port: " + itoa(taken) + "\n    defaultBackend: be\n"
	rev := h.commit(h.fleet.files(seq(0, 2)), nil, "bind on a taken port")
	before := h.reloads()
	out := h.agent.Reconcile(testCtx(t, 60*time.Second))
	if out.Result != agentapi.ResultFailed || out.Err == nil || !strings.Contains(out.Err.Error(), "rolled back") {
		t.Fatalf("outcome %+v, want failed and rolled back", out)
	}
	if cfg, _ := os.ReadFile(h.paths.ConfigPath); string(cfg) != string(good) {
		t.Fatal("the last good config was not restored on disk")
	}
	p, err := h.m.ShowProc(testCtx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if p.ReloadFailed {
		t.Fatalf("master still reports a failed reload after the rollback: %+v", p)
	}
	if h.reloads() <= before {
		t.Fatal("no rollback reload happened")
	}
	if _, err := h.get("/"); err != nil {
		t.Fatalf("traffic broken after the rollback: %v", err)
	}
	if st := h.agent.Status(); st.FailedRevision != rev || st.AppliedRevision == rev {
		t.Fatalf("status %+v", st)
	}
}

// TestDriftAtTheSocketIsCorrected: a server put in maintenance by hand is
// reported and put back; with --drift=warn it is only reported.
func TestDriftAtTheSocketIsCorrected(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 2, seed: seq(0, 2)})
	rev, _ := h.git.Head()
	if _, err := h.rt.Exec(testCtx(t, 5*time.Second), []string{"set server be/n-001 state maint"}); err != nil {
		t.Fatal(err)
	}
	h.agent.cfg.Drift = DriftWarn
	h.agent.Reconcile(testCtx(t, 30*time.Second))
	if st := h.agent.Status(); len(st.Drift) != 1 || !strings.Contains(st.Drift[0], "n-001") {
		t.Fatalf("drift not reported: %+v", st.Drift)
	}
	if h.servers()["n-001"].State != haproxy.StateMaint {
		t.Fatal("--drift=warn corrected the drift")
	}
	h.agent.cfg.Drift = DriftCorrect
	h.reconcile(rev)
	if s := h.servers()["n-001"]; s.State != haproxy.StateReady {
		t.Fatalf("server still %s after correction", s.State)
	}
	if out := h.reconcile(rev); out.Result != agentapi.ResultNoop || len(h.agent.Status().Drift) != 0 {
		t.Fatalf("after correction: %+v drift %v", out, h.agent.Status().Drift)
	}
}

// TestRestartConvergesWithoutReload: a new agent on the same state
// directory (as after kill -9) finds nothing to do and does not reload.
func TestRestartConvergesWithoutReload(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 3, seed: seq(0, 2)})
	rev := h.commit(map[string][]byte{nodePath(2): nodeFile(2, h.fleet.farm.ports[2], 100)}, nil, "add")
	h.reconcile(rev)
	before := h.reloads()
	h.agent = h.newAgent(0)
	out := h.reconcile(rev)
	if out.Reloads != 0 || out.RuntimeChanges != 0 || h.reloads() != before {
		t.Fatalf("restart: %+v, reloads %d -> %d", out, before, h.reloads())
	}
}

// TestZeroFailedRequestsAcrossRuntimeChanges drives a bounded keep-alive
// load through haproxy while 500 server changes (adds, removals, weights)
// are applied at runtime: no reload, 0 failed requests, and each round's
// plan is what the agent applied.
func TestZeroFailedRequestsAcrossRuntimeChanges(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 40, seed: seq(0, 20)})
	before := h.reloads()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50000 && ctx.Err() == nil; i++ {
				if _, err := h.get("/"); err != nil {
					if ctx.Err() != nil {
						return
					}
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
			}
		}()
	}
	changes := 0
	present := map[int]bool{}
	for _, i := range seq(0, 20) {
		present[i] = true
	}
	prev, err := h.git.Head()
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; changes < 500; round++ {
		files := map[string][]byte{}
		var dels []string
		// Per round: 10 adds or removes among nodes 20-39, and 10 weight changes among 0-19.
		for k := range 10 {
			i := 20 + (round*10+k)%20
			if present[i] {
				dels = append(dels, nodePath(i))
			} else {
				files[nodePath(i)] = nodeFile(i, h.fleet.farm.ports[i], 100)
			}
			present[i] = !present[i]
			j := (round*7 + k) % 20
			files[nodePath(j)] = nodeFile(j, h.fleet.farm.ports[j], 10+(round*13+k)%200)
		}
		rev := h.commit(files, dels, "churn")
		ops := h.appliedOps()
		out := h.reconcile(rev)
		changes += out.RuntimeChanges
		// What `ddc-gitops plan` shows is what the agent did.
		h.checkPlanApplied(prev, rev, ops, h.appliedOps())
		if n := len(h.plan(prev, rev).Hosts[0].Ops); n != out.RuntimeChanges {
			t.Errorf("round %d: the plan has %d ops, the applying reconcile made %d runtime changes", round, n, out.RuntimeChanges)
		}
		prev = rev
	}
	cancel()
	wg.Wait()
	if h.reloads() != before {
		t.Fatalf("%d reloads during runtime changes", h.reloads()-before)
	}
	t.Logf("%d runtime changes, %d requests ok, %d failed", changes, ok.Load(), failed.Load())
	if ok.Load() == 0 {
		t.Fatal("the load generator sent nothing")
	}
	if failed.Load() != 0 {
		t.Fatalf("%d failed requests (first: %v)", failed.Load(), firstErr.Load())
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no host":   {Source: fakeSource{}, StateDir: t.TempDir()},
		"no source": {Host: "h", StateDir: t.TempDir()},
		"no state":  {Host: "h", Source: fakeSource{}},
		"bad drift": {Host: "h", Source: fakeSource{}, StateDir: t.TempDir(), Drift: "ignore"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

type fakeSource struct{}

func (fakeSource) Sync(context.Context) (*source.Snapshot, error) { return nil, errors.New("unused") }

// listenTaken holds a loopback port for the test's duration.
func listenTaken(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestNewFillsDefaults checks that a Config with only the required fields
// gets DefaultConfig's values, and that given values are kept.
func TestNewFillsDefaults(t *testing.T) {
	dir := t.TempDir()
	a, err := New(Config{Host: "h", Source: fakeSource{}, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Host, want.Source, want.StateDir = "h", fakeSource{}, dir
	want.Render.AdminSocket = want.HAProxy.AdminSocket
	got := a.cfg
	got.Logger, got.Now = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("New filled\n%+v\nwant DefaultConfig's\n%+v", got, want)
	}

	a, err = New(Config{Host: "h", Source: fakeSource{}, StateDir: dir, DrainTimeout: time.Second,
		HAProxy: HAProxyPaths{AdminSocket: "/x/admin.sock"}, RestartMin: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	c := a.cfg
	if c.DrainTimeout != time.Second || c.HAProxy.AdminSocket != "/x/admin.sock" || c.Render.AdminSocket != "/x/admin.sock" ||
		c.HAProxy.MasterSocket != want.HAProxy.MasterSocket || c.RestartMax != time.Minute {
		t.Errorf("New with overrides: %+v", c)
	}
}
