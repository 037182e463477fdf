package reconciler

import (
	"reflect"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/render"
)

func TestDiffServers(t *testing.T) {
	srv := func(name string, weight int, state string) render.Server {
		return render.Server{Name: name, Address: "198.18.1.21", Port: 8080, Weight: weight, Check: true, State: state}
	}
	act := func(s render.Server, check string) haproxy.ActualServer {
		return haproxy.ActualServer{Server: s, CheckStatus: check}
	}
	dyn := func(servers ...render.Server) []render.Backend {
		return []render.Backend{{Name: "be", Balance: "roundrobin", Dynamic: true, Servers: servers}}
	}
	disk := map[string]map[string]string{"be": {}}
	tests := []struct {
		name       string
		want       []render.Backend
		actual     []haproxy.ActualServer
		pending    map[string]bool
		ops        []string
		needReload bool
	}{
		{"equal", dyn(srv("a", 100, "ready")), []haproxy.ActualServer{act(srv("a", 100, "ready"), "L7OK")}, nil, nil, false},
		{"same servers in another order", dyn(srv("a", 100, "ready"), srv("b", 100, "ready")), []haproxy.ActualServer{act(srv("b", 100, "ready"), "L7OK"), act(srv("a", 100, "ready"), "L7OK")}, nil, nil, false},
		{"aligned with one weight change", dyn(srv("a", 100, "ready"), srv("b", 5, "ready")), []haproxy.ActualServer{act(srv("a", 100, "ready"), "L7OK"), act(srv("b", 100, "ready"), "L7OK")}, nil, []string{"set-weight be/b"}, false},
		{"add and delete", dyn(srv("a", 100, "ready")), []haproxy.ActualServer{act(srv("b", 100, "ready"), "L7OK")}, nil, []string{"add be/a", "del be/b"}, false},
		{"weight", dyn(srv("a", 50, "ready")), []haproxy.ActualServer{act(srv("a", 100, "ready"), "L7OK")}, nil, []string{"set-weight be/a"}, false},
		{"drained by hand", dyn(srv("a", 100, "ready")), []haproxy.ActualServer{act(srv("a", 100, "drain"), "L7OK")}, nil, []string{"set-state be/a"}, false},
		{"drain written as weight 0 after a reload", dyn(srv("a", 100, "drain")), []haproxy.ActualServer{act(srv("a", 0, "ready"), "L7OK")}, nil, nil, false},
		{"maint, never checked: admission", dyn(srv("a", 100, "ready")), []haproxy.ActualServer{act(srv("a", 100, "maint"), "")}, nil, []string{"admit be/a"}, false},
		{"maint, check passed: drift", dyn(srv("a", 100, "ready")), []haproxy.ActualServer{act(srv("a", 100, "maint"), "L7OK")}, nil, []string{"set-state be/a"}, false},
		{"pending is not drift", dyn(srv("a", 100, "ready")), []haproxy.ActualServer{act(srv("a", 100, "drain"), "")}, map[string]bool{"be/a": true}, nil, false},
		{"static-rr add needs a reload", []render.Backend{{Name: "be", Balance: "static-rr", Servers: []render.Server{srv("a", 100, "ready")}}}, nil, nil, nil, true},
		{"hostname add needs a reload", dyn(render.Server{Name: "h", Address: "node.example", Hostname: true, Port: 80, Weight: 1}), nil, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := diffServers(tt.want, map[string][]haproxy.ActualServer{"be": tt.actual}, disk, tt.pending)
			var ops []string
			for _, op := range d.Ops {
				ops = append(ops, op.Op+" "+op.key())
			}
			if !reflect.DeepEqual(ops, tt.ops) {
				t.Errorf("ops = %v, want %v", ops, tt.ops)
			}
			if (len(d.NeedReload) > 0) != tt.needReload {
				t.Errorf("needReload = %v, want %v", d.NeedReload, tt.needReload)
			}
		})
	}
}

func TestStaticKeywordsAndServerLines(t *testing.T) {
	s := render.Server{Name: "a", Address: "198.18.1.21", Port: 8080, Weight: 100, Maxconn: 10, Check: true, State: "maint"}
	t2 := s
	t2.Weight, t2.State, t2.Address = 5, "ready", "198.18.1.22"
	if staticKeywords(s.Line()) != staticKeywords(t2.Line()) {
		t.Fatalf("weight/state/address must not count: %q vs %q", staticKeywords(s.Line()), staticKeywords(t2.Line()))
	}
	t2.Maxconn = 11
	if staticKeywords(s.Line()) == staticKeywords(t2.Line()) {
		t.Fatal("maxconn must count")
	}
	cfg := []byte("global\n    maxconn 1\n\nbackend be\n    balance roundrobin\n" + render.ServerIndent + s.Line() + "\n\nbackend empty\n    balance roundrobin\n")
	lines := serverLines(cfg)
	if lines["be"]["a"] != s.Line() || lines["empty"] == nil || len(lines["empty"]) != 0 {
		t.Fatalf("serverLines = %v", lines)
	}
	s.State = "ready"
	out := withServerLines(cfg, map[string]map[string]string{"be": {"a": s.Line()}})
	if got := serverLines(out)["be"]["a"]; got != s.Line() {
		t.Fatalf("withServerLines: %q", got)
	}
}
