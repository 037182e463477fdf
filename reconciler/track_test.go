package reconciler

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/internal/netns"
	"github.com/ddc-gitops/ddc-gitops/internal/netns/netnstest"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy/haproxytest"
	"github.com/ddc-gitops/ddc-gitops/reconciler/keepalived"
)

const trackVIP = "198.18.100.100"

// vipWatch polls whether a namespace holds a VIP until stopped.
type vipWatch struct {
	stop  chan struct{}
	res   chan [2]int // polls, misses
	polls atomic.Int64
}

func watchVIP(ctx context.Context, ns string) *vipWatch {
	w := &vipWatch{stop: make(chan struct{}), res: make(chan [2]int, 1)}
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		polls, misses := 0, 0
		for {
			held, err := keepalived.State(ctx, ns, "eth0", trackVIP)
			polls++
			w.polls.Add(1)
			if err != nil || !held {
				misses++
			}
			select {
			case <-w.stop:
				w.res <- [2]int{polls, misses}
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// more waits until the watch has polled n more times (keepalived acts on
// a process event at once: n polls of 5ms give a late reaction time to show).
func (w *vipWatch) more(t *testing.T, n int64) {
	t.Helper()
	target := w.polls.Load() + n
	eventually(t, 10*time.Second, "the VIP watch to poll", func() bool { return w.polls.Load() >= target })
}

func (w *vipWatch) done() (polls, misses int) {
	close(w.stop)
	r := <-w.res
	return r[0], r[1]
}

// TestKeepalivedTracksOwnHAProxyOnly runs the agent's haproxy under an
// alias path and keepalived in a network namespace. Once the agent tracks
// the running master's argv[0], keepalived.conf names that path (applied
// with SIGHUP, no drift on the next reconcile); another haproxy of the
// machine dying leaves the VIP alone; keepalived re-reading /proc (a
// reload) followed by haproxy reloads, whose re-executed master and workers
// carry -sf/-x in their arguments, never drops the VIP (parameter matching
// on "-W -f CONFIG" would: keepalived drops the master at each re-exec);
// the agent's own haproxy dying releases it.
func TestKeepalivedTracksOwnHAProxyOnly(t *testing.T) {
	if _, err := os.Stat(keepalived.DefaultBin); err != nil {
		t.Skip("keepalived not installed (make test installs it)")
	}
	lab := netnstest.NewLab(t)
	ctx := testCtx(t, 120*time.Second)
	host, err := lab.AddHost(ctx, "h1", netns.Link{Zone: "lo", Iface: "eth0", Addr: netip.MustParsePrefix("198.18.100.11/24")})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "tk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ka := &keepalived.Process{Bin: keepalived.DefaultBin, ConfigPath: filepath.Join(dir, "keepalived.conf"),
		PIDFile: filepath.Join(dir, "keepalived.pid"), Netns: host.Netns}
	alias := filepath.Join(dir, "bin", "haproxy")
	h := newHarness(t, harnessOpts{nodes: 2, seed: seq(0, 2), keepalived: ka, haproxyAlias: alias})
	if err := keepalived.WaitState(ctx, host.Netns, "eth0", trackVIP, true); err != nil {
		t.Fatalf("the VIP never came up: %v\n%s", err, strings.Join(ka.Output(30), "\n"))
	}

	argv0, err := h.proc.MasterArgv0()
	if err != nil || argv0 != alias {
		t.Fatalf("haproxy master runs as %q (%v), want %s", argv0, err, alias)
	}
	reloads := ka.Reloads()
	if err := h.agent.TrackHAProxy(ctx, argv0); err != nil {
		t.Fatal(err)
	}
	conf, _ := os.ReadFile(ka.ConfigPath)
	if !bytes.Contains(conf, []byte("    process "+alias+"\n    full_command\n")) {
		t.Fatalf("keepalived.conf does not track %s:\n%s", alias, conf)
	}
	if ka.Reloads() != reloads+1 || h.agent.Status().Counts.KeepalivedReloads != 1 {
		t.Fatalf("keepalived reloads %d -> %d, agent count %d: want one reload", reloads, ka.Reloads(), h.agent.Status().Counts.KeepalivedReloads)
	}
	if err := h.agent.TrackHAProxy(ctx, argv0); err != nil || ka.Reloads() != reloads+1 {
		t.Fatalf("tracking the same path again: %v, %d reloads; want nothing done", err, ka.Reloads()-reloads)
	}
	out := h.agent.Reconcile(ctx)
	if out.Err != nil || out.Result != agentapi.ResultNoop || len(h.agent.Status().Drift) != 0 {
		t.Fatalf("reconcile after tracking: %+v, drift %v; want a no-op", out, h.agent.Status().Drift)
	}
	if err := keepalived.WaitState(ctx, host.Netns, "eth0", trackVIP, true); err != nil {
		t.Fatalf("VIP lost after tracking %s: %v\n%s", alias, err, strings.Join(ka.Output(30), "\n"))
	}

	// Another haproxy on the machine, started as the plain binary.
	other := filepath.Join(dir, "other.cfg")
	if err := os.WriteFile(other, []byte("global\n    maxconn 10\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"+
		"frontend f\n    bind unix@"+filepath.Join(dir, "other.http")+"\n    http-request return status 200\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	otherSock := filepath.Join(dir, "other.sock")
	foreign := exec.Command(haproxytest.Bin(), "-W", "-f", other, "-S", otherSock)
	foreign.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := foreign.Start(); err != nil {
		t.Fatal(err)
	}
	reaped := make(chan struct{})
	go func() { _ = foreign.Wait(); close(reaped) }()
	t.Cleanup(func() { _ = syscall.Kill(-foreign.Process.Pid, syscall.SIGKILL); <-reaped })
	if err := (&haproxy.Process{MasterSocket: otherSock}).Ready(ctx); err != nil {
		t.Fatal(err)
	}

	watch := watchVIP(ctx, host.Netns)
	if err := syscall.Kill(-foreign.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-reaped
	// Workers with -sf/-x in their arguments, then keepalived re-reads
	// /proc (a reload), then more haproxy reloads.
	if err := h.m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.agent.cfg.Keepalived.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := h.m.Reload(ctx); err != nil {
			t.Fatalf("haproxy reload %d: %v", i+1, err)
		}
	}
	watch.more(t, 60)
	polls, misses := watch.done()
	if polls < 50 || misses != 0 {
		t.Fatalf("VIP missing in %d of %d polls while another haproxy died and ours reloaded\n%s", misses, polls, strings.Join(ka.Output(30), "\n"))
	}
	t.Logf("VIP held in all %d polls while another haproxy died, keepalived reloaded and haproxy reloaded 4 times", polls)

	// The agent's haproxy dies: the host gives the VIP up (FAULT).
	start := time.Now()
	if err := syscall.Kill(h.proc.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := keepalived.WaitState(testCtx(t, 10*time.Second), host.Netns, "eth0", trackVIP, false); err != nil {
		t.Fatalf("VIP kept after the tracked haproxy died: %v\n%s", err, strings.Join(ka.Output(30), "\n"))
	}
	t.Logf("VIP released %v after the tracked haproxy was killed", time.Since(start).Round(time.Millisecond))
	if out := strings.Join(ka.Output(0), "\n"); !strings.Contains(out, fmt.Sprintf("Quorum lost for tracked process %s", "track_haproxy")) {
		t.Errorf("keepalived did not log the lost quorum:\n%s", out)
	}
}
