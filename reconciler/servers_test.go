package reconciler

import (
	"reflect"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// TestDiffHost checks how the agent builds its "before" from HAProxy and the
// file on disk; the rule itself is plan.ServerChanges's (plan tests).
func TestDiffHost(t *testing.T) {
	srv := func(name string, weight int, state string) render.Server {
		return render.Server{Name: name, Address: "198.18.1.21", Port: 8080, Weight: weight, Check: true, State: state}
	}
	act := func(s render.Server, check string) haproxy.ActualServer {
		return haproxy.ActualServer{Server: s, CheckStatus: check, Up: check == "L7OK"}
	}
	dyn := func(servers ...render.Server) []render.Backend {
		return []render.Backend{{Name: "be", Balance: "roundrobin", Dynamic: true, Servers: servers}}
	}
	withMaxconn := srv("a", 100, "ready")
	withMaxconn.Maxconn = 10
	tests := []struct {
		name       string
		want       []render.Backend
		actual     []haproxy.ActualServer
		disk       map[string]map[string]string
		pending    []string
		ops        []string
		needReload bool
	}{
		{"equal", dyn(srv("a", 100, "ready")), []haproxy.ActualServer{act(srv("a", 100, "ready"), "L7OK")}, nil, nil, nil, false},
		{"same servers in another order", dyn(srv("a", 100, "ready"), srv("b", 100, "ready")), []haproxy.ActualServer{act(srv("b", 100, "ready"), "L7OK"), act(srv("a", 100, "ready"), "L7OK")}, nil, nil, nil, false},
		{"aligned with one weight change", dyn(srv("a", 100, "ready"), srv("b", 5, "ready")), []haproxy.ActualServer{act(srv("a", 100, "ready"), "L7OK"), act(srv("b", 100, "ready"), "L7OK")}, nil, nil, []string{"set-weight be/b"}, false},
		{"add and delete", dyn(srv("a", 100, "ready")), []haproxy.ActualServer{act(srv("b", 100, "ready"), "L7OK")}, nil, nil, []string{"add be/a", "del be/b"}, false},
		{"drained by hand", dyn(srv("a", 100, "ready")), []haproxy.ActualServer{act(srv("a", 100, "drain"), "L7OK")}, nil, nil, []string{"set-weight be/a", "set-state be/a"}, false},
		{"drain written as weight 0 after a reload", dyn(srv("a", 100, "drain")), []haproxy.ActualServer{act(srv("a", 0, "ready"), "L7OK")}, nil, nil, nil, false},
		{"maint with a check: admission", dyn(srv("a", 100, "ready")), []haproxy.ActualServer{act(srv("a", 100, "maint"), "")}, nil, nil, []string{"admit be/a"}, false},
		{"waiting, check not passed: nothing", dyn(srv("a", 100, "ready")), []haproxy.ActualServer{act(srv("a", 100, "drain"), "L4CON")}, nil, []string{"be/a"}, nil, false},
		{"waiting, check passed: in service", dyn(srv("a", 100, "ready")), []haproxy.ActualServer{act(srv("a", 100, "drain"), "L7OK")}, nil, []string{"be/a"}, []string{"set-state be/a"}, false},
		{"waiting, in maint after a reload: admitted again", dyn(srv("a", 100, "ready")), []haproxy.ActualServer{act(srv("a", 100, "maint"), "")}, nil, []string{"be/a"}, []string{"admit be/a"}, false},
		{"maxconn from the file on disk", dyn(withMaxconn), []haproxy.ActualServer{act(srv("a", 100, "ready"), "L7OK")},
			map[string]map[string]string{"be": {"a": srv("a", 100, "ready").Line()}}, nil, []string{"set-maxconn be/a"}, false},
		{"a line on disk edited by hand: replace", dyn(srv("a", 100, "ready")), []haproxy.ActualServer{act(srv("a", 100, "ready"), "L7OK")},
			map[string]map[string]string{"be": {"a": srv("a", 100, "ready").Line() + " send-proxy"}}, nil, []string{"replace be/a"}, false},
		{"static-rr add needs a reload", []render.Backend{{Name: "be", Balance: "static-rr", Servers: []render.Server{srv("a", 100, "ready")}}}, nil, map[string]map[string]string{"be": {}}, nil, []string{"add be/a"}, true},
		{"hostname add needs a reload", dyn(render.Server{Name: "h", Address: "node.example", Hostname: true, Port: 80, Weight: 1}), nil, nil, nil, []string{"add be/h"}, true},
		{"backend not running", dyn(srv("a", 100, "ready")), nil, map[string]map[string]string{}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adm := &admissionState{since: map[string]time.Time{}, replacing: map[string]bool{}}
			for _, k := range tt.pending {
				adm.since[k] = time.Now()
			}
			actual := map[string][]haproxy.ActualServer{}
			if tt.actual != nil {
				actual["be"] = tt.actual
			}
			c := diffHost(tt.want, actual, tt.disk, adm, nil)
			var ops []string
			for _, op := range c.Ops {
				ops = append(ops, op.Op+" "+op.Backend+"/"+op.Server)
			}
			if !reflect.DeepEqual(ops, tt.ops) {
				t.Errorf("ops = %v, want %v", ops, tt.ops)
			}
			if (len(c.Reasons) > 0) != tt.needReload {
				t.Errorf("reasons = %v, want reload %v", c.Reasons, tt.needReload)
			}
		})
	}
}
