package reconciler

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/reconciler/keepalived"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// TestPlanFromApplied checks the plan from the previous rendered revision
// without haproxy: which changes it plans (op by op) and which it leaves
// to the full path.
func TestPlanFromApplied(t *testing.T) {
	srv := func(name string, weight int) render.Server {
		return render.Server{Name: name, Address: "198.18.0.1", Port: 8080, Weight: weight, Check: true, Inter: time.Second, Rise: 2, Fall: 3}
	}
	host := func(balance string, servers ...render.Server) *render.Host {
		h := &render.Host{Backends: []render.Backend{{Name: "be", Balance: balance, Dynamic: balance != "static-rr", Servers: servers}}}
		var cfg strings.Builder
		fmt.Fprintf(&cfg, "global\n    maxconn 100\n\nbackend be\n    balance %s\n", balance)
		for _, s := range servers {
			fmt.Fprintf(&cfg, "    %s\n", s.Line())
		}
		h.HAProxy = []byte(cfg.String())
		h.Keepalived = []byte("vrrp\n")
		return h
	}
	a, b, c := srv("a", 100), srv("b", 100), srv("c", 100)
	prev := host("roundrobin", a, b, c)
	drained := b
	drained.State = "drain"
	moved := c
	moved.Address = "198.18.0.2"
	ssl := a
	ssl.SSL = true
	for _, tc := range []struct {
		name string
		want *render.Host
		ok   bool
		ops  []string
	}{
		{"nothing", host("roundrobin", a, b, c), true, nil},
		{"weight", host("roundrobin", srv("a", 5), b, c), true, []string{"set-weight be/a"}},
		{"drain", host("roundrobin", a, drained, c), true, []string{"set-state be/b"}},
		{"address", host("roundrobin", a, b, moved), true, []string{"set-addr be/c"}},
		{"settings", host("roundrobin", ssl, b, c), true, []string{"replace be/a"}},
		{"add", host("roundrobin", a, b, c, srv("d", 100)), true, []string{"add be/d"}},
		{"remove", host("roundrobin", a, c), true, []string{"del be/b"}},
		{"reorder and rename", host("roundrobin", c, srv("b2", 100), a), true, []string{"add be/b2", "del be/b"}},
		{"balance", host("leastconn", a, b, c), false, nil},
		{"static backend add", nil, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := prev
			want := tc.want
			if tc.name == "static backend add" {
				p = host("static-rr", a, b)
				want = host("static-rr", a, b, c)
			}
			ag := &Agent{cfg: Config{DriftInterval: time.Hour}, lastCheck: time.Now()}
			r := &run{a: ag, start: time.Now(), prev: p}
			d, ok := r.planFromApplied(want)
			if ok != tc.ok {
				t.Fatalf("planned %v, want %v (diff %+v)", ok, tc.ok, d)
			}
			var ops []string
			for _, op := range d.Ops {
				ops = append(ops, op.Op+" "+op.Backend+"/"+op.Server)
			}
			slices.Sort(ops)
			w := slices.Clone(tc.ops)
			slices.Sort(w)
			if !slices.Equal(ops, w) {
				t.Errorf("ops %v, want %v", ops, w)
			}
		})
	}

	// Not trusted: no plan.
	want := host("roundrobin", srv("a", 5), b, c)
	for name, ag := range map[string]*Agent{
		"never checked":      {cfg: Config{DriftInterval: time.Hour}},
		"check too old":      {cfg: Config{DriftInterval: time.Hour}, lastCheck: time.Now().Add(-2 * time.Hour)},
		"check always":       {cfg: Config{DriftInterval: DriftCheckAlways}, lastCheck: time.Now()},
		"servers pending":    {cfg: Config{DriftInterval: time.Hour}, lastCheck: time.Now(), state: persisted{Pending: []string{"be/x"}}},
		"a revision failed":  {cfg: Config{DriftInterval: time.Hour}, lastCheck: time.Now(), state: persisted{FailedRevision: "f"}},
		"keepalived changed": {cfg: Config{DriftInterval: time.Hour, Keepalived: &keepalived.Driver{}}, lastCheck: time.Now()},
	} {
		r := &run{a: ag, start: time.Now(), prev: prev}
		w := want
		if name == "keepalived changed" {
			w = host("roundrobin", srv("a", 5), b, c)
			w.Keepalived = []byte("vrrp changed\n")
		}
		if _, ok := r.planFromApplied(w); ok {
			t.Errorf("%s: planned from the previous revision", name)
		}
	}
	managed := &Agent{cfg: Config{DriftInterval: time.Hour, Keepalived: &keepalived.Driver{}}, lastCheck: time.Now()}
	if _, ok := (&run{a: managed, start: time.Now(), prev: prev}).planFromApplied(want); !ok {
		t.Error("keepalived managed and unchanged: not planned from the previous revision")
	}
	if _, ok := (&run{a: &Agent{cfg: Config{DriftInterval: time.Hour}, lastCheck: time.Now()}, start: time.Now()}).planFromApplied(want); ok {
		t.Error("planned without a previous revision")
	}
}
