package reconciler

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/internal/netns"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
)

// gateStatCmd reads the frontend, backend and server rows of `show stat`
// (no listeners): one command per sample.
const gateStatCmd = "show stat -1 7 -1"

// gateSample is one reading of this host's data plane.
type gateSample struct {
	at time.Time
	// up counts each backend's active servers UP and not in maintenance.
	up map[string]UpCount
	// fe5xx are each HTTP frontend's cumulative 5xx responses and requests.
	fe5xx map[string]Count
	// beConn are each backend's cumulative connection errors and sessions.
	beConn map[string]Count
	// probes says which probes answered.
	probes map[Probe]bool
}

// gateTarget is one TCP probe target.
type gateTarget struct {
	Probe
	addr string // host:port to connect to
	// vip, when valid, is probed only while this host holds it.
	vip netip.Addr
	// self, when valid, is the host's address for a wildcard bind on
	// port: probed there when it is on this host, else on loopback.
	self netip.Addr
	port string
}

// dialAddr is where the probe connects, given the addresses held here.
func (t gateTarget) dialAddr(held map[netip.Addr]bool) string {
	if t.port == "" {
		return t.addr
	}
	if t.self.IsValid() && held[t.self] {
		return net.JoinHostPort(t.self.String(), t.port)
	}
	return net.JoinHostPort("127.0.0.1", t.port)
}

// gateColumns are the `show stat` columns the gate reads, all of them
// before the first column HAProxy may quote (last_chk).
var gateColumns = []string{"pxname", "svname", "stot", "econ", "status", "bck", "type", "hrsp_5xx", "req_tot"}

const (
	colPx = iota
	colSv
	colStot
	colEcon
	colStatus
	colBck
	colType
	colH5xx
	colReqTot
)

// parseGateStat reads the gate's columns from `show stat` CSV output into
// s (the whole output at once; takeSample streams it). Servers in heldOut
// ("backend/server") are left out of the UP counts, like servers in
// maintenance.
func parseGateStat(out string, s *gateSample, heldOut map[string]bool) error {
	c := gateCounter{s: s, heldOut: heldOut}
	err := haproxy.ParseStatColumns(out, gateColumns, c.row)
	c.flush()
	return err
}

// gateCounter adds `show stat` rows (gateColumns) to a sample; strings are
// made only for the names kept in the sample's maps.
type gateCounter struct {
	s       *gateSample
	heldOut map[string]bool
	key     []byte // backend/server, for heldOut
	// The backend whose server rows are being counted (`show stat` lists
	// each proxy's rows together).
	curPx []byte
	cur   UpCount
	inCur bool
}

func (c *gateCounter) row(f [][]byte) error {
	px := f[colPx]
	s := c.s
	switch atoiStat(f[colType]) {
	case haproxy.StatFrontend:
		s.fe5xx[string(px)] = Count{Errors: atoi64(f[colH5xx]), Total: atoi64(f[colReqTot])}
	case haproxy.StatBackend:
		s.beConn[string(px)] = Count{Errors: atoi64(f[colEcon]), Total: atoi64(f[colStot])}
	case haproxy.StatServer:
		if string(f[colBck]) == "1" {
			return nil // backups (failover zones) are not this backend's health
		}
		if len(c.heldOut) > 0 {
			c.key = append(append(append(c.key[:0], px...), '/'), f[colSv]...)
			if c.heldOut[string(c.key)] {
				return nil
			}
		}
		if !c.inCur || string(c.curPx) != string(px) {
			c.flush()
			c.curPx = append(c.curPx[:0], px...)
			c.inCur = true
		}
		st := f[colStatus]
		if !bytes.HasPrefix(st, []byte("MAINT")) {
			c.cur.Eligible++
			if serverUp(st) {
				c.cur.Up++
			}
		}
	}
	return nil
}

// flush adds the UP count of the backend whose rows were being read.
func (c *gateCounter) flush() {
	if !c.inCur {
		return
	}
	u := c.s.up[string(c.curPx)]
	u.Eligible += c.cur.Eligible
	u.Up += c.cur.Up
	c.s.up[string(c.curPx)] = u
	c.cur, c.inCur = UpCount{}, false
}

// serverUp reads a server's `show stat` status: UP, NOLB (up with no
// weight yet, e.g. in slowstart) and DRAIN, also while going down ("UP
// 1/3", "NOLB 1/3", "DRAIN 1/3": still up), and "no check" carry traffic
// or could; DOWN (also "DOWN 1/2", going up) does not.
func serverUp(status []byte) bool {
	for _, p := range []string{"UP", "NOLB", "DRAIN", "no check"} {
		if bytes.HasPrefix(status, []byte(p)) {
			return true
		}
	}
	return false
}

func atoi64(s []byte) int64 {
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' || n > (1<<62)/10 {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

func atoiStat(s []byte) int {
	if len(s) == 0 {
		return -1
	}
	n := atoi64(s)
	if n == 0 && string(s) != "0" {
		return -1
	}
	return int(n)
}

// takeSample reads HAProxy's stats and probes the targets (from network
// namespace ns when it is not empty: the lab runs haproxy in one);
// heldOut are servers left out of the UP counts (see parseGateStat).
func takeSample(ctx context.Context, rt *haproxy.Runtime, ns string, targets []gateTarget, timeout time.Duration, heldOut map[string]bool) (*gateSample, error) {
	s := &gateSample{up: map[string]UpCount{}, fe5xx: map[string]Count{}, beConn: map[string]Count{}, probes: map[Probe]bool{}}
	if len(targets) > 0 {
		// One connect after the other: inside a namespace every socket
		// must be made on the thread netns.Do entered it with. A refused
		// or accepted local connect takes microseconds; only a black hole
		// takes the timeout.
		err := netns.Do(ns, func() error {
			held := localAddrs()
			for _, t := range targets {
				if t.vip.IsValid() && !held[t.vip] {
					continue // the VIP is the peer's now: not this host's to answer
				}
				d := net.Dialer{Timeout: timeout}
				c, err := d.DialContext(ctx, "tcp", t.dialAddr(held))
				if err == nil {
					c.Close()
				}
				s.probes[t.Probe] = err == nil
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("health gate: probing: %w", err)
		}
	}
	c := gateCounter{s: s, heldOut: heldOut}
	err := rt.StatColumns(ctx, gateStatCmd, gateColumns, c.row)
	c.flush()
	if err != nil {
		// The probes still count (haproxy down: its frontends do not answer).
		s.up, s.fe5xx, s.beConn = map[string]UpCount{}, map[string]Count{}, map[string]Count{}
		return s, fmt.Errorf("health gate: reading %q: %w", gateStatCmd, err)
	}
	return s, nil
}

// localAddrs are the addresses on this host's interfaces (VIPs it holds).
func localAddrs() map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return out
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out[p.Addr().Unmap()] = true
		}
	}
	return out
}

// gateTargets lists what the gate probes on host: each frontend's binds on
// a specific address (a VIP only while the host holds it), and for a
// wildcard bind the host's own address when it is on this host (else
// loopback) and each VIP of the zone while the host holds it.
func gateTargets(f *desired.Fleet, host string) []gateTarget {
	z, h := f.Host(host)
	if z == nil || h == nil {
		return nil
	}
	type vip struct {
		name string
		addr netip.Addr
	}
	var vips []vip
	byAddr := map[netip.Addr]string{}
	for _, v := range z.VIPs {
		if a, err := netip.ParseAddr(v.Address); err == nil {
			vips = append(vips, vip{v.Name, a})
			byAddr[a] = v.Name
		}
	}
	self, _ := netip.ParseAddr(h.Address)
	vipTarget := func(name string, a netip.Addr, port, fe string) gateTarget {
		addr := net.JoinHostPort(a.String(), port)
		return gateTarget{Probe: Probe{signalVIP, fmt.Sprintf("vip %s %s (frontend %s)", name, addr, fe)}, addr: addr, vip: a}
	}
	var out []gateTarget
	for _, fe := range z.Frontends {
		for _, b := range fe.Binds {
			port := strconv.Itoa(b.Port)
			a, err := netip.ParseAddr(b.Address)
			if err != nil || a.IsUnspecified() {
				out = append(out, gateTarget{Probe: Probe{signalFrontend, fmt.Sprintf("frontend %s *:%s", fe.Name, port)}, self: self, port: port})
				for _, v := range vips {
					out = append(out, vipTarget(v.name, v.addr, port, fe.Name))
				}
				continue
			}
			if name, ok := byAddr[a]; ok {
				out = append(out, vipTarget(name, a, port, fe.Name))
				continue
			}
			addr := net.JoinHostPort(a.String(), port)
			out = append(out, gateTarget{Probe: Probe{signalFrontend, fmt.Sprintf("frontend %s %s", fe.Name, addr)}, addr: addr})
		}
	}
	return out
}

// beforeReading sums the samples taken before t (the last window of them)
// into the reading the gate compares with.
func beforeReading(samples []*gateSample, t time.Time) GateReading {
	var in []*gateSample
	for _, s := range samples {
		if s.at.Before(t) {
			in = append(in, s)
		}
	}
	return reading(in)
}

// afterReading is the reading of the samples taken after t.
func afterReading(samples []*gateSample, t time.Time) GateReading {
	var in []*gateSample
	for _, s := range samples {
		if s.at.After(t) {
			in = append(in, s)
		}
	}
	return reading(in)
}

// reading turns consecutive samples into a reading: UP counts of the last
// one, error counts summed over consecutive pairs (a counter that went down
// was reset by a reload: its new value is what happened since), and each
// probe's failures in a row at the end.
func reading(samples []*gateSample) GateReading {
	r := GateReading{Up: map[string]UpCount{}, HTTP5xx: map[string]Count{}, ConnErrors: map[string]Count{}, ProbeFailures: map[Probe]int{}}
	if len(samples) == 0 {
		return r
	}
	last := samples[len(samples)-1]
	for k, v := range last.up {
		r.Up[k] = v
	}
	sum := func(dst map[string]Count, get func(*gateSample) map[string]Count) {
		for k := range get(last) {
			dst[k] = Count{}
		}
		for i := 1; i < len(samples); i++ {
			prev, cur := get(samples[i-1]), get(samples[i])
			for k, c := range cur {
				if _, ok := dst[k]; !ok {
					continue
				}
				p, ok := prev[k]
				if !ok {
					continue
				}
				d := dst[k]
				d.Errors += delta(p.Errors, c.Errors)
				d.Total += delta(p.Total, c.Total)
				dst[k] = d
			}
		}
	}
	sum(r.HTTP5xx, func(s *gateSample) map[string]Count { return s.fe5xx })
	sum(r.ConnErrors, func(s *gateSample) map[string]Count { return s.beConn })
	for p := range last.probes {
		n := 0
		for i := len(samples) - 1; i >= 0; i-- {
			ok, probed := samples[i].probes[p]
			if !probed || ok {
				break
			}
			n++
		}
		r.ProbeFailures[p] = n
	}
	return r
}

// delta is how much a cumulative counter grew from prev to cur.
func delta(prev, cur int64) int64 {
	if cur < prev {
		return cur // reset (a reload started a new worker)
	}
	return cur - prev
}
