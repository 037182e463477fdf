package keepalived

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// vipWatch polls State on one host until stopped and counts the polls that
// did not see the VIP.
type vipWatch struct {
	stop chan struct{}
	res  chan [2]int // polls, misses
}

func watchVIP(t *testing.T, n *node, vip string) *vipWatch {
	w := &vipWatch{stop: make(chan struct{}), res: make(chan [2]int, 1)}
	ctx := testCtx(t, 2*waitMax)
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		polls, misses := 0, 0
		for {
			held, err := State(ctx, n.host.Netns, iface, vip)
			polls++
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

func (w *vipWatch) done() (polls, misses int) {
	close(w.stop)
	r := <-w.res
	return r[0], r[1]
}

// TestReloadKeepsMaster applies changed configs to both hosts (a second
// VRRP instance on the master, a new priority on the backup): each is
// checked, installed and reloaded with SIGHUP, keepalived keeps running with
// the same processes, and the master never drops its VIP.
func TestReloadKeepsMaster(t *testing.T) {
	a, b := pair(t, "0.2", false)
	a.start(t)
	b.start(t)
	waitHolder(t, vip1, a, a, b)
	ctx := testCtx(t, waitMax)

	type snapshot struct {
		pid     int
		kids    string
		reloads int
	}
	snap := func(n *node) snapshot {
		return snapshot{n.proc.Pid(), childPids(t, n.proc.Pid()), n.proc.Reloads()}
	}
	beforeA, beforeB := snap(a), snap(b)
	watch := watchVIP(t, a, vip1)

	a.opts.Second = true
	confA := a.opts.render(t)
	b.opts.Prio = 120
	confB := b.opts.render(t)
	for _, step := range []struct {
		n    *node
		conf []byte
	}{{a, confA}, {b, confB}} {
		start := time.Now()
		changed, err := step.n.proc.Driver().Apply(ctx, step.conf)
		if err != nil || !changed {
			t.Fatalf("Apply on %s = %v, %v; want true, nil", step.n.host.Name, changed, err)
		}
		t.Logf("Apply on %s took %v", step.n.host.Name, time.Since(start))
		fileEquals(t, step.n.confPath(), step.conf)
	}
	waitHolder(t, vip2, a, a, b) // the new instance is up on a (b has none)
	polls, misses := watch.done()

	for _, c := range []struct {
		n      *node
		before snapshot
	}{{a, beforeA}, {b, beforeB}} {
		after := snap(c.n)
		if after.pid != c.before.pid || after.kids != c.before.kids {
			t.Errorf("%s: keepalived processes changed across the reload: %+v -> %+v", c.n.host.Name, c.before, after)
		}
		if after.reloads != c.before.reloads+1 {
			t.Errorf("%s: %d reloads logged, want %d", c.n.host.Name, after.reloads, c.before.reloads+1)
		}
	}
	if polls < 20 || misses != 0 {
		t.Fatalf("master's VIP missing in %d of %d polls during the reloads", misses, polls)
	}
	t.Logf("VIP held in all %d polls during the reloads", polls)

	// The same bytes again: nothing to do, no reload.
	changed, err := a.proc.Driver().Apply(ctx, confA)
	if err != nil || changed {
		t.Fatalf("Apply of unchanged config = %v, %v; want false, nil", changed, err)
	}
	if got := a.proc.Reloads(); got != beforeA.reloads+1 {
		t.Fatalf("unchanged Apply reloaded keepalived (%d reloads)", got)
	}
}

// TestInvalidConfigRejected: a config keepalived -t refuses leaves the file
// and the running keepalived untouched.
func TestInvalidConfigRejected(t *testing.T) {
	a, b := pair(t, "0.2", false)
	a.start(t)
	b.start(t)
	waitHolder(t, vip1, a, a, b)
	ctx := testCtx(t, waitMax)
	good := a.opts.render(t)
	with := func(f func(*confOpts)) []byte {
		o := a.opts
		f(&o)
		return o.render(t)
	}
	tests := []struct {
		name string
		conf []byte
		want string
	}{
		{"syntax error", with(func(o *confOpts) { o.Garbage = true }), "Unknown keyword"},
		{"interface missing in the namespace", with(func(o *confOpts) { o.Iface = "nope0" }), "nope0"},
		{"warning: fractional advert_int with VRRPv2", bytes.Replace(good, []byte("vrrp_version 3"), []byte("vrrp_version 2"), 1), "must be an integer"},
	}
	pid, kids, reloads := a.proc.Pid(), childPids(t, a.proc.Pid()), a.proc.Reloads()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changed, err := a.proc.Driver().Apply(ctx, tt.conf)
			var ce *CheckError
			if changed || !errors.As(err, &ce) || !strings.Contains(ce.Output, tt.want) {
				t.Fatalf("Apply = %v, %v; want false and a *CheckError mentioning %q", changed, err, tt.want)
			}
			fileEquals(t, a.confPath(), good)
			if a.proc.Pid() != pid || childPids(t, pid) != kids || a.proc.Reloads() != reloads {
				t.Fatal("keepalived was touched by a rejected config")
			}
			if held, err := State(ctx, a.host.Netns, iface, vip1); err != nil || !held {
				t.Fatalf("master lost its VIP after a rejected config: %v, %v", held, err)
			}
		})
	}
}

// TestFailoverOnCrash kills the master's keepalived outright: the backup
// takes the VIP after the master-down interval (about 3 x advert_int).
func TestFailoverOnCrash(t *testing.T) {
	a, b := pair(t, "0.2", false)
	a.start(t)
	b.start(t)
	waitHolder(t, vip1, a, a, b)

	start := time.Now()
	a.kill(t)
	if err := WaitState(testCtx(t, 10*time.Second), b.host.Netns, iface, vip1, true); err != nil {
		t.Fatalf("backup did not take the VIP: %v", err)
	}
	t.Logf("failover after crash with advert_int 0.2s: %v", time.Since(start))
	a.waitExit(t)
	if _, err := b.proc.Driver().Running(); err != nil {
		t.Fatalf("backup keepalived: %v", err)
	}
}

// TestTrackProcessFailover stops the process the master tracks: its
// priority drops by 60 (150 -> 90 < 100), the backup takes the VIP; the
// process back, the master preempts again.
func TestTrackProcessFailover(t *testing.T) {
	a, b := pair(t, "0.2", true)
	tracked := trackedProcess(t, a.host.Netns, a.opts.Track)
	trackedProcess(t, b.host.Netns, b.opts.Track)
	a.start(t)
	b.start(t)
	waitHolder(t, vip1, a, a, b)

	start := time.Now()
	if err := tracked.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, vip1, b, a, b)
	t.Logf("failover after the tracked process died: %v", time.Since(start))

	trackedProcess(t, a.host.Netns, a.opts.Track)
	waitHolder(t, vip1, a, a, b)
}
