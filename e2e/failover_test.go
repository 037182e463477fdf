//go:build e2e

package e2e

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/lab"
	"github.com/ddc-gitops/ddc-gitops/reconciler/keepalived"
)

// TestCrossZoneFailover stops the three EU node simulators: the EU load
// balancer then answers from US nodes (its backup servers are the US
// VIPs); once they run again, EU nodes answer again.
func TestCrossZoneFailover(t *testing.T) {
	e := startLab(t, labOptions{})
	eu := e.zone("eu")
	nodes := []string{"eu-node-1", "eu-node-2", "eu-node-3"}
	start := time.Now()
	for _, n := range nodes {
		if err := e.ctl.Stop(n); err != nil {
			t.Fatal(err)
		}
	}
	var node string
	e.waitFor(40*time.Second, "the EU load balancer answers from a US node", func() error {
		h, err := health(e.client, eu.LBURL)
		if err != nil {
			return err
		}
		node = h.Node
		if !strings.HasPrefix(h.Node, "us-node-") || h.Zone != "us" {
			return fmt.Errorf("answered by %s (zone %s)", h.Node, h.Zone)
		}
		return nil
	})
	t.Logf("EU nodes down: %s answers after %v", node, time.Since(start).Round(time.Millisecond))
	bench(t, "cross_zone_failover", "to_us_ms", time.Since(start).Milliseconds())
	// Stable: several answers in a row come from the US.
	for range 10 {
		if h, err := health(e.client, eu.LBURL); err != nil || h.Zone != "us" {
			t.Fatalf("after failover: %+v, %v", h, err)
		}
	}

	start = time.Now()
	for _, n := range nodes {
		if err := e.ctl.Start(n); err != nil {
			t.Fatal(err)
		}
	}
	e.waitFor(40*time.Second, "the EU load balancer answers from an EU node again", func() error {
		h, err := health(e.client, eu.LBURL)
		if err != nil {
			return err
		}
		node = h.Node
		if !strings.HasPrefix(h.Node, "eu-node-") {
			return fmt.Errorf("answered by %s (zone %s)", h.Node, h.Zone)
		}
		return nil
	})
	t.Logf("EU nodes back: %s answers after %v", node, time.Since(start).Round(time.Millisecond))
	bench(t, "cross_zone_failover", "back_to_eu_ms", time.Since(start).Milliseconds())
}

// TestVIPFailover stops the agent of eu-haproxy-1 (and with it that host's
// haproxy and keepalived): EU VIP 1 moves to eu-haproxy-2, and a bounded
// client loop through it counts failed requests; once the agent runs again
// the VIP returns (preempt, preemptDelay 5s).
func TestVIPFailover(t *testing.T) {
	e := startLab(t, labOptions{})
	eu := e.zone("eu")
	vip := eu.VIPs[0]
	ns1, ns2 := e.prefix+"-eu-haproxy-1", e.prefix+"-eu-haproxy-2"
	holders := func() []string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		h, err := keepalived.Holders(ctx, "eth0", vip, ns1, ns2)
		if err != nil {
			t.Fatalf("VIP holders: %v", err)
		}
		return h
	}
	if h := holders(); !slices.Equal(h, []string{ns1}) {
		t.Fatalf("before: %s held by %v, want %s", vip, h, ns1)
	}
	ld := startLoad(eu.LBURL, 2, false, 60*time.Second)
	defer ld.stop()
	// Wait for some traffic before the failure.
	e.waitFor(5*time.Second, "load running", func() error {
		if ld.ok.Load() < 20 {
			return fmt.Errorf("%d ok", ld.ok.Load())
		}
		return nil
	})

	start := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- e.ctl.Stop("eu-haproxy-1") }()
	e.waitFor(30*time.Second, vip+" moves to eu-haproxy-2", func() error {
		if h := holders(); !slices.Equal(h, []string{ns2}) {
			return fmt.Errorf("held by %v", h)
		}
		return nil
	})
	moved := time.Since(start)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	// Traffic through the VIP is served by eu-haproxy-2.
	e.waitFor(10*time.Second, "the EU load balancer answers through eu-haproxy-2", func() error {
		_, err := health(e.client, eu.LBURL)
		return err
	})
	okDown, failedDown := ld.ok.Load(), ld.failed.Load()
	ld.mu.Lock()
	outage := time.Duration(0)
	if !ld.firstFail.IsZero() {
		outage = ld.lastFail.Sub(ld.firstFail)
	}
	ld.mu.Unlock()
	t.Logf("VIP moved in %v; %d failed requests (%v between the first and the last failure); first errors: %s",
		moved.Round(time.Millisecond), failedDown, outage.Round(time.Millisecond), strings.Join(ld.errs, "; "))
	bench(t, "vip_failover", "move_ms", moved.Milliseconds(), "failed", failedDown, "ok", okDown, "failed_span_ms", outage.Milliseconds())
	t.Log(e.describeFailures(ld, "eu"))

	start = time.Now()
	if err := e.ctl.Start("eu-haproxy-1"); err != nil {
		t.Fatal(err)
	}
	e.waitFor(45*time.Second, vip+" returns to eu-haproxy-1", func() error {
		if h := holders(); !slices.Equal(h, []string{ns1}) {
			return fmt.Errorf("held by %v", h)
		}
		return nil
	})
	back := time.Since(start)
	ok, failed := ld.stop()
	t.Logf("VIP back after %v (agent start, haproxy, preempt delay); load: %d ok, %d failed in all", back.Round(time.Millisecond), ok, failed)
	bench(t, "vip_failback", "back_ms", back.Milliseconds(), "failed_total", failed, "ok_total", ok)
	if _, err := health(e.client, eu.LBURL); err != nil {
		t.Errorf("after failback: %v", err)
	}
}

// vipCase is the first VIP of a zone, its owner and the peer that takes it
// over, with the fleet's preemption policy.
type vipCase struct {
	zone              lab.ZoneInfo
	vip               string
	owner, peer       string // hosts
	ownerNS, peerNS   string // their namespaces
	ownerDir          string // the owner's lab directory
	preempt           bool
	preemptDelay, adv time.Duration
	iface             string
}

// firstVIP reads the desired state the lab was seeded with (its working
// clone) and returns the case of zone's first VIP.
func (e *env) firstVIP(zone string) vipCase {
	e.t.Helper()
	f, err := desired.Load(os.DirFS(e.info.CloneDir))
	if err != nil {
		e.t.Fatal(err)
	}
	c := vipCase{zone: e.zone(zone), preempt: f.Keepalived.Preempt == nil || *f.Keepalived.Preempt,
		preemptDelay: f.Keepalived.PreemptDelay.D(), adv: f.Keepalived.AdvertInt.D()}
	for _, z := range f.Zones {
		if z.Name != zone || len(z.VIPs) == 0 {
			continue
		}
		v := z.VIPs[0]
		c.vip = v.Address
		for _, h := range z.Hosts {
			if slices.Contains(h.Owns, v.Name) {
				c.owner, c.iface = h.Name, cmp.Or(v.Interface, h.Interface)
			} else if c.peer == "" {
				c.peer = h.Name
			}
		}
	}
	if c.owner == "" || c.peer == "" || c.vip == "" {
		e.t.Fatalf("zone %s: no first VIP with an owner and a peer", zone)
	}
	c.ownerNS, c.peerNS = e.prefix+"-"+c.owner, e.prefix+"-"+c.peer
	for _, a := range e.info.Agents {
		if a.Host == c.owner {
			c.ownerDir = a.Dir
		}
	}
	return c
}

// holders lists which of the owner's and the peer's namespaces hold the VIP.
func (c vipCase) holders(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	h, err := keepalived.Holders(ctx, c.iface, c.vip, c.ownerNS, c.peerNS)
	if err != nil {
		t.Fatalf("VIP holders: %v", err)
	}
	return h
}

// reTracked is the process line of keepalived.conf's track block.
var reTracked = regexp.MustCompile(`(?m)^\s*process (\S+)\n\s*full_command$`)

// requireOwnTracking fails the test unless every host's keepalived tracks
// a haproxy path of its own: otherwise a host's keepalived counts the other
// hosts' haproxys too, and killing one haproxy cannot move its VIP.
func (e *env) requireOwnTracking() {
	e.t.Helper()
	seen := map[string]string{}
	for _, a := range e.info.Agents {
		b, err := os.ReadFile(filepath.Join(a.Dir, "keepalived.conf"))
		if err != nil {
			e.t.Fatal(err)
		}
		m := reTracked.FindSubmatch(b)
		if m == nil {
			e.t.Fatalf("%s: keepalived.conf tracks haproxy by name, not by the path its agent runs it as:\n%s", a.Host, b)
		}
		p := string(m[1])
		if other, dup := seen[p]; dup {
			e.t.Fatalf("the keepalived of %s and %s both track every haproxy started as %s: the lab must let each agent start "+
				"its haproxy itself (--haproxy-bin the real binary, --netns NS), not through a wrapper script that execs one shared path", other, a.Host, p)
		}
		seen[p] = a.Host
	}
}

// pidOf reads a pid file and checks the process is alive.
func pidOf(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("pid %d of %s: %w", pid, path, err)
	}
	if i := bytes.LastIndexByte(st, ')'); i < 0 || i+2 >= len(st) || st[i+2] == 'Z' {
		return 0, fmt.Errorf("pid %d of %s has exited", pid, path)
	}
	return pid, nil
}

// restarts reads ddc_gitops_agent_process_restarts_total{process} from
// host's agent (0 while the series does not exist).
func (e *env) restarts(host, process string) (int, error) {
	var url string
	for _, a := range e.info.Agents {
		if a.Host == host {
			url = a.URL
		}
	}
	resp, err := e.client.Get(url + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	prefix := `ddc_gitops_agent_process_restarts_total{process="` + process + `"} `
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, nil
}

// TestVIPFailoverHAProxyKill kills haproxy alone (master and workers,
// SIGKILL) on the host that owns the first EU VIP, while its agent is
// paused so the failure lasts: the host's keepalived, which tracks only
// that haproxy, gives the VIP up and the peer takes it (the peer's own
// haproxy keeps running); a bounded client loop through the VIP counts the
// failed requests. Resumed, the agent restarts haproxy and the VIP returns
// to its owner if the fleet preempts (else it stays on the peer).
func TestVIPFailoverHAProxyKill(t *testing.T) {
	vipKillScenario(t, "haproxy", "")
}

// TestVIPFailoverHAProxyKillFastAdvert is TestVIPFailoverHAProxyKill with
// keepalived.advertInt 200ms (VRRPv3), committed before the failure.
func TestVIPFailoverHAProxyKillFastAdvert(t *testing.T) {
	vipKillScenario(t, "haproxy", "200ms")
}

// TestVIPFailoverKeepalivedKill kills keepalived (SIGKILL to its process
// group: a crash, no priority-0 advert, the VIP left on the interface) on
// the owner of the first EU VIP, its agent paused: the peer takes the VIP
// over after its master-down interval; resumed, the agent restarts
// keepalived, which drops the stale VIP and, if the fleet preempts, takes
// it back.
func TestVIPFailoverKeepalivedKill(t *testing.T) {
	vipKillScenario(t, "keepalived", "")
}

func vipKillScenario(t *testing.T, component, advert string) {
	e := startLab(t, labOptions{})
	c := e.firstVIP("eu")
	if advert != "" {
		// The seeded fleet.yaml (the lab may have lowered maxconn).
		seeded, err := os.ReadFile(filepath.Join(e.info.CloneDir, "fleet.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		fleet := e.replaceOnce(seeded, "advertInt: "+secsYAML(c.adv), "advertInt: "+advert)
		rev := e.commit(map[string][]byte{"fleet.yaml": fleet}, "keepalived.advertInt "+advert)
		e.syncAll("advertInt " + advert)
		// A keepalived change goes wave by wave: each wave waits for the
		// earlier one's health gate window (30 s by default).
		e.waitApplied(rev, nil, 3*time.Minute)
		d, err := time.ParseDuration(advert)
		if err != nil {
			t.Fatal(err)
		}
		c.adv = d
	}
	e.requireOwnTracking()
	e.waitFor(30*time.Second, c.vip+" held by its owner "+c.owner, func() error {
		if h := c.holders(t); !slices.Equal(h, []string{c.ownerNS}) {
			return fmt.Errorf("held by %v", h)
		}
		return nil
	})
	pidFile := filepath.Join(c.ownerDir, component+".pid")
	oldPid, err := pidOf(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	peerMasters := haproxyMasters(t, filepath.Join(filepath.Dir(c.ownerDir), c.peer, "haproxy.cfg"))

	ld := startLoad(c.zone.LBURL, 2, false, 120*time.Second)
	defer ld.stop()
	e.waitFor(5*time.Second, "load running", func() error {
		if ld.ok.Load() < 20 {
			return fmt.Errorf("%d ok", ld.ok.Load())
		}
		return nil
	})

	// Hold the failure: a paused agent cannot restart what is killed.
	if err := e.ctl.Pause(c.owner); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.ctl.Resume(c.owner) }) // before the lab's teardown
	okBefore, failedBefore := ld.ok.Load(), ld.failed.Load()
	pr := startProbe(c.zone.LBURL, 60*time.Second)
	start := time.Now()
	kill := e.ctl.KillHAProxy
	if component == "keepalived" {
		kill = e.ctl.KillKeepalived
	}
	if err := kill(c.owner); err != nil {
		t.Fatal(err)
	}
	// The peer takes the VIP. A crashed keepalived leaves it on the owner's
	// interface too (nobody removes it) until keepalived starts again.
	e.waitFor(30*time.Second, c.vip+" moves to "+c.peer, func() error {
		h := c.holders(t)
		if !slices.Contains(h, c.peerNS) || (component == "haproxy" && slices.Contains(h, c.ownerNS)) {
			return fmt.Errorf("held by %v", h)
		}
		return nil
	})
	moved := time.Since(start)
	stale := slices.Contains(c.holders(t), c.ownerNS)
	e.waitFor(10*time.Second, "the "+c.zone.Name+" load balancer answers through "+c.vip, func() error {
		_, err := health(e.client, c.zone.LBURL)
		return err
	})
	answered := time.Since(start)
	// Requests sent before the move complete (or fail) by now.
	e.waitFor(10*time.Second, "a request through "+c.vip+" answered within 100ms", func() error {
		t0 := time.Now()
		if _, err := health(e.client, c.zone.LBURL); err != nil {
			return err
		}
		if d := time.Since(t0); d > 100*time.Millisecond {
			return fmt.Errorf("took %v", d)
		}
		return nil
	})
	pr.stop()
	if got := haproxyMasters(t, filepath.Join(filepath.Dir(c.ownerDir), c.peer, "haproxy.cfg")); !slices.Equal(got, peerMasters) {
		t.Errorf("the peer's haproxy masters changed from %v to %v: the kill was not limited to %s", peerMasters, got, c.owner)
	}
	ld.mu.Lock()
	failedDown, span := ld.failed.Load()-failedBefore, time.Duration(0)
	if !ld.firstFail.IsZero() {
		span = ld.lastFail.Sub(ld.firstFail)
	}
	errs := strings.Join(ld.errs, "; ")
	ld.mu.Unlock()
	t.Logf("%s killed on %s: %s on %s after %v (stale copy on the owner: %v), answered after %v; load: %d failed, %d ok requests (%v between the first and the last failure; first errors: %s); probe: %d requests, %d failed, %d over 500ms, slowest %v (sent %v after the kill)",
		component, c.owner, c.vip, c.peer, moved.Round(time.Millisecond), stale, answered.Round(time.Millisecond),
		failedDown, ld.ok.Load()-okBefore, span.Round(time.Millisecond), errs,
		pr.n, pr.failed, pr.slow, pr.max.Round(time.Millisecond), pr.slowestStart.Sub(start).Round(time.Millisecond))
	name := "vip_failover_" + component + "_kill"
	if advert != "" {
		name += "_advert_" + advert
	}
	bench(t, name, "advert_ms", c.adv.Milliseconds(), "move_ms", moved.Milliseconds(), "answered_ms", answered.Milliseconds(),
		"failed", failedDown, "failed_span_ms", span.Milliseconds(), "max_latency_ms", pr.max.Milliseconds(), "over_500ms", pr.slow)

	// Restore: the agent restarts what was killed.
	resumed := time.Now()
	if err := e.ctl.Resume(c.owner); err != nil {
		t.Fatal(err)
	}
	var newPid int
	e.waitFor(30*time.Second, "the agent of "+c.owner+" restarts "+component, func() error {
		pid, err := pidOf(pidFile)
		if err != nil {
			return err
		}
		if pid == oldPid {
			return fmt.Errorf("pid file still names the killed %d", pid)
		}
		n, err := e.restarts(c.owner, component)
		if err != nil || n != 1 {
			return fmt.Errorf("restarts_total{process=%s} = %d (%v), want 1", component, n, err)
		}
		newPid = pid
		return nil
	})
	restarted := time.Since(resumed)
	var back time.Duration
	if c.preempt {
		e.waitFor(c.preemptDelay+30*time.Second, c.vip+" returns to "+c.owner+" (preempt)", func() error {
			if h := c.holders(t); !slices.Equal(h, []string{c.ownerNS}) {
				return fmt.Errorf("held by %v", h)
			}
			return nil
		})
		back = time.Since(resumed)
	} else {
		// nopreempt: the peer keeps it past the preemption delay and a
		// master-down interval.
		hold := c.preemptDelay + 4*c.adv + 2*time.Second
		err := poll(hold, 50*time.Millisecond, func() error {
			if h := c.holders(t); !slices.Equal(h, []string{c.peerNS}) {
				return nil // stop: someone else holds it
			}
			return errors.New("still on the peer")
		})
		if err == nil {
			t.Fatalf("nopreempt: %s left %s: held by %v", c.vip, c.peer, c.holders(t))
		}
	}
	ok, failed := ld.stop()
	t.Logf("agent resumed: %s restarted (pid %d, was %d) after %v; %s back on %s after %v (preempt %v, delay %v); load: %d ok, %d failed in all",
		component, newPid, oldPid, restarted.Round(time.Millisecond), c.vip, c.owner, back.Round(time.Millisecond), c.preempt, c.preemptDelay, ok, failed)
	bench(t, strings.Replace(name, "failover", "failback", 1), "restart_ms", restarted.Milliseconds(), "back_ms", back.Milliseconds(),
		"preempt_delay_ms", c.preemptDelay.Milliseconds(), "failed_total", failed, "ok_total", ok)
	if _, err := health(e.client, c.zone.LBURL); err != nil {
		t.Errorf("after failback: %v", err)
	}
}

// probe is a sequential client loop that records how long each request
// took: a failover can stall requests (a SYN sent to the old holder is
// retransmitted after a second) without failing them.
type probe struct {
	cancel       context.CancelFunc
	done         chan struct{}
	n, failed    int
	slow         int // requests over 500ms
	max          time.Duration
	slowestStart time.Time
}

// startProbe GETs url/health one request after the other, at most one
// every 10ms, until stop or max passes.
func startProbe(url string, max time.Duration) *probe {
	ctx, cancel := context.WithTimeout(context.Background(), max)
	p := &probe{cancel: cancel, done: make(chan struct{})}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for ctx.Err() == nil {
			t0 := time.Now()
			_, err := health(c, url)
			d := time.Since(t0)
			p.n++
			if err != nil {
				p.failed++
			}
			if d > 500*time.Millisecond {
				p.slow++
			}
			if d > p.max {
				p.max, p.slowestStart = d, t0
			}
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	}()
	return p
}

// stop lets the request in flight finish and ends the loop.
func (p *probe) stop() *probe {
	p.cancel()
	<-p.done
	return p
}

// secsYAML writes d as the example fleet does ("1s", "200ms").
func secsYAML(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.Itoa(int(d/time.Second)) + "s"
	}
	return strconv.Itoa(int(d/time.Millisecond)) + "ms"
}
