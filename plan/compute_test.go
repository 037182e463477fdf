package plan

import (
	"bytes"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/render"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// exampleFleet reads examples/fleet into memory.
func exampleFleet(t testing.TB) fstest.MapFS {
	t.Helper()
	root := filepath.Join("..", "examples", "fleet")
	fsys := fstest.MapFS{}
	err := fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(os.DirFS(root), p)
		if err != nil {
			return err
		}
		fsys[p] = &fstest.MapFile{Data: data, Mode: 0o644}
		return nil
	})
	if err != nil {
		t.Fatalf("reading the example fleet: %v", err)
	}
	return fsys
}

// clone copies fsys so one revision's edits do not touch another's.
func clone(fsys fstest.MapFS) fstest.MapFS {
	c := make(fstest.MapFS, len(fsys))
	for p, f := range fsys {
		cf := *f
		cf.Data = bytes.Clone(f.Data)
		c[p] = &cf
	}
	return c
}

// edit replaces old with new in file p, exactly once.
func edit(t testing.TB, fsys fstest.MapFS, p, old, new string) {
	t.Helper()
	f := fsys[p]
	if f == nil {
		t.Fatalf("edit: no file %s", p)
	}
	if n := bytes.Count(f.Data, []byte(old)); n != 1 {
		t.Fatalf("edit %s: %q occurs %d times, want once", p, old, n)
	}
	f.Data = bytes.Replace(f.Data, []byte(old), []byte(new), 1)
}

func load(t testing.TB, fsys fs.FS) *desired.Fleet {
	t.Helper()
	f, err := desired.Load(fsys)
	if err != nil {
		t.Fatalf("loading fleet: %v", err)
	}
	return f
}

var (
	euHosts = []string{"eu-haproxy-1", "eu-haproxy-2"}
	usHosts = []string{"us-haproxy-1", "us-haproxy-2"}
)

func TestComputeExampleFleet(t *testing.T) {
	opts := render.Options{FleetDir: "/etc/ddc-gitops/fleet"}
	tests := []struct {
		name string
		// before edits both revisions; after edits only the new one.
		before, after func(t testing.TB, fsys fstest.MapFS)
		check         func(t *testing.T, p *Plan)
	}{
		{
			name: "add-node",
			after: func(t testing.TB, fsys fstest.MapFS) {
				n := clone(fstest.MapFS{"x": fsys["nodes/eu-node-3.yaml"]})["x"]
				fsys["nodes/eu-node-4.yaml"] = n
				edit(t, fsys, "nodes/eu-node-4.yaml", "name: eu-node-3", "name: eu-node-4")
				edit(t, fsys, "nodes/eu-node-4.yaml", "host: 198.18.1.23", "host: 198.18.1.24")
				edit(t, fsys, "nodes/eu-node-4.yaml", "domain: eu-node-3.", "domain: eu-node-4.")
				edit(t, fsys, "nodes/eu-node-4.yaml", "0xc470a0a4", "0xc470a0a5")
			},
			check: func(t *testing.T, p *Plan) {
				for _, h := range euHosts {
					hp := host(t, p, h)
					want(t, hp, ActionRuntime, ActionNone)
					assertOps(t, hp, "add ddc_nodes_grpc/eu-node-4 -> 198.18.1.24:9091", "add ddc_nodes_http/eu-node-4 -> 198.18.1.24:8080")
				}
				unchanged(t, p, usHosts...)
			},
		},
		{
			name: "node-weight",
			after: func(t testing.TB, fsys fstest.MapFS) {
				edit(t, fsys, "nodes/us-node-2.yaml", "weight: 100", "weight: 50")
			},
			check: func(t *testing.T, p *Plan) {
				for _, h := range usHosts {
					hp := host(t, p, h)
					want(t, hp, ActionRuntime, ActionNone)
					assertOps(t, hp, "set-weight ddc_nodes_grpc/us-node-2 100 -> 50", "set-weight ddc_nodes_http/us-node-2 100 -> 50")
				}
				unchanged(t, p, euHosts...)
			},
		},
		{
			name: "remove-node",
			after: func(t testing.TB, fsys fstest.MapFS) {
				delete(fsys, "nodes/us-node-3.yaml")
			},
			check: func(t *testing.T, p *Plan) {
				for _, h := range usHosts {
					hp := host(t, p, h)
					want(t, hp, ActionRuntime, ActionNone)
					assertOps(t, hp, "del ddc_nodes_grpc/us-node-3 198.18.2.23:9091 -> ", "del ddc_nodes_http/us-node-3 198.18.2.23:8080 -> ")
				}
				unchanged(t, p, euHosts...)
			},
		},
		{
			name: "maxconn",
			after: func(t testing.TB, fsys fstest.MapFS) {
				edit(t, fsys, "backends/ddc_nodes_http.yaml", "maxconn: 500", "maxconn: 800")
			},
			check: func(t *testing.T, p *Plan) {
				for _, h := range append(append([]string(nil), euHosts...), usHosts...) {
					hp := host(t, p, h)
					want(t, hp, ActionRuntime, ActionNone)
					for _, op := range hp.Ops {
						if op.Op != OpSetMaxconn || op.From != "500" || op.To != "800" {
							t.Errorf("%s: op %+v, want set-maxconn 500 -> 800 only", h, op)
						}
					}
				}
			},
		},
		{
			name: "rolling-replace",
			after: func(t testing.TB, fsys fstest.MapFS) {
				edit(t, fsys, "backends/ddc_nodes_http.yaml", "slowstart: 10s", "slowstart: 20s")
			},
			check: func(t *testing.T, p *Plan) {
				for _, h := range append(append([]string(nil), euHosts...), usHosts...) {
					hp := host(t, p, h)
					want(t, hp, ActionRuntime, ActionNone)
					for i, op := range hp.Ops {
						if op.Op != OpReplace || op.Batch != i+1 {
							t.Errorf("%s: op %d %+v, want replace in batch %d", h, i, op, i+1)
						}
					}
					if len(hp.Warnings) != 1 || !strings.Contains(hp.Warnings[0], "rolling batches of at most 1") {
						t.Errorf("%s: warnings %q", h, hp.Warnings)
					}
				}
			},
		},
		{
			name: "node-admit",
			before: func(t testing.TB, fsys fstest.MapFS) {
				edit(t, fsys, "nodes/eu-node-2.yaml", "admitted: true", "admitted: true\nstate: maint")
				edit(t, fsys, "nodes/eu-node-3.yaml", "admitted: true", "admitted: true\nstate: ready")
			},
			after: func(t testing.TB, fsys fstest.MapFS) {
				edit(t, fsys, "nodes/eu-node-2.yaml", "state: maint", "state: ready")
				edit(t, fsys, "nodes/eu-node-3.yaml", "state: ready", "state: drain")
			},
			check: func(t *testing.T, p *Plan) {
				for _, h := range euHosts {
					hp := host(t, p, h)
					want(t, hp, ActionRuntime, ActionNone)
					assertOps(t, hp, "admit ddc_nodes_grpc/eu-node-2 maint -> ready", "set-state ddc_nodes_grpc/eu-node-3 ready -> drain",
						"admit ddc_nodes_http/eu-node-2 maint -> ready", "set-state ddc_nodes_http/eu-node-3 ready -> drain")
				}
				unchanged(t, p, usHosts...)
			},
		},
		{
			name: "static-rr-weight-zero",
			before: func(t testing.TB, fsys fstest.MapFS) {
				edit(t, fsys, "backends/ddc_nodes_http.yaml", "balance: roundrobin", "balance: static-rr")
			},
			after: func(t testing.TB, fsys fstest.MapFS) {
				edit(t, fsys, "nodes/us-node-2.yaml", "weight: 100", "weight: 0")
			},
			check: func(t *testing.T, p *Plan) {
				for _, h := range usHosts {
					hp := host(t, p, h)
					want(t, hp, ActionRuntime, ActionNone)
					assertOps(t, hp, "set-weight ddc_nodes_grpc/us-node-2 100 -> 0", "set-weight ddc_nodes_http/us-node-2 100 -> 0")
				}
				unchanged(t, p, euHosts...)
			},
		},
		{
			name: "add-frontend",
			after: func(t testing.TB, fsys fstest.MapFS) {
				edit(t, fsys, "zones/eu/zone.yaml", "stats:\n", `  - name: http_alt
    mode: http
    binds:
      - port: 8081
    defaultBackend: ddc_nodes_http
stats:
`)
			},
			check: func(t *testing.T, p *Plan) {
				for _, h := range euHosts {
					hp := host(t, p, h)
					want(t, hp, ActionReload, ActionNone)
					assertReasons(t, hp, "frontend http_alt added")
					assertOps(t, hp)
				}
				unchanged(t, p, usHosts...)
			},
		},
		{
			name: "vip-address",
			after: func(t testing.TB, fsys fstest.MapFS) {
				edit(t, fsys, "zones/eu/zone.yaml", "address: 198.18.1.101", "address: 198.18.1.110")
			},
			// The EU hosts reload keepalived only (the frontends trust the
			// zones' networks, not single addresses, so haproxy.cfg's
			// skeleton does not change); the US hosts' backup servers for
			// the EU VIP move at runtime.
			check: func(t *testing.T, p *Plan) {
				for _, h := range euHosts {
					hp := host(t, p, h)
					want(t, hp, ActionNone, ActionReload)
					assertOps(t, hp)
					assertReasons(t, hp, "keepalived vrrp_instance eu-vip-2 changed")
				}
				for _, h := range usHosts {
					hp := host(t, p, h)
					want(t, hp, ActionRuntime, ActionNone)
					assertReasons(t, hp)
					assertOps(t, hp,
						"set-addr ddc_nodes_grpc/eu-vip-2 198.18.1.101:9090 -> 198.18.1.110:9090",
						"set-addr ddc_nodes_http/eu-vip-2 198.18.1.101:80 -> 198.18.1.110:80")
					for _, op := range hp.Ops {
						if op.New == nil || !op.New.Backup {
							t.Errorf("%s: %s %s/%s is not on a backup server", h, op.Op, op.Backend, op.Server)
						}
					}
				}
			},
		},
		{
			name: "reload-generation",
			after: func(t testing.TB, fsys fstest.MapFS) {
				edit(t, fsys, "zones/us/zone.yaml", "reloadGeneration: 3", "reloadGeneration: 4")
			},
			before: func(t testing.TB, fsys fstest.MapFS) {
				edit(t, fsys, "zones/us/zone.yaml", "stats:\n", "reloadGeneration: 3\nstats:\n")
			},
			check: func(t *testing.T, p *Plan) {
				for _, h := range usHosts {
					hp := host(t, p, h)
					want(t, hp, ActionReload, ActionNone)
					assertReasons(t, hp, "reload generation 3 -> 4")
					assertOps(t, hp)
				}
				unchanged(t, p, euHosts...)
			},
		},
		{
			name: "static-rr-membership",
			before: func(t testing.TB, fsys fstest.MapFS) {
				edit(t, fsys, "backends/ddc_nodes_http.yaml", "balance: roundrobin", "balance: static-rr")
			},
			after: func(t testing.TB, fsys fstest.MapFS) {
				delete(fsys, "nodes/eu-node-2.yaml")
			},
			check: func(t *testing.T, p *Plan) {
				for _, h := range euHosts {
					hp := host(t, p, h)
					want(t, hp, ActionReload, ActionNone)
					assertOps(t, hp, "del ddc_nodes_grpc/eu-node-2 198.18.1.22:9091 -> ", "del ddc_nodes_http/eu-node-2 198.18.1.22:8080 -> ")
					assertReasons(t, hp, "backend ddc_nodes_http uses balance static-rr: server changes need a reload")
					if len(hp.Warnings) != 1 || !strings.Contains(hp.Warnings[0], "ddc_nodes_http uses balance static-rr") {
						t.Errorf("%s: warnings %q, want the static-rr warning", h, hp.Warnings)
					}
				}
				unchanged(t, p, usHosts...)
			},
		},
		{
			name: "no-change",
			check: func(t *testing.T, p *Plan) {
				unchanged(t, p, append(append([]string(nil), euHosts...), usHosts...)...)
			},
		},
	}
	base := exampleFleet(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldFS := clone(base)
			if tc.before != nil {
				tc.before(t, oldFS)
			}
			newFS := clone(oldFS)
			if tc.after != nil {
				tc.after(t, newFS)
			}
			oldF, newF := load(t, oldFS), load(t, newFS)
			p, err := Compute(oldF, newF, opts)
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			if len(p.Hosts) != 4 {
				t.Fatalf("plan has %d hosts, want 4", len(p.Hosts))
			}
			for i := 1; i < len(p.Hosts); i++ {
				if p.Hosts[i-1].Host >= p.Hosts[i].Host {
					t.Errorf("hosts not sorted: %s before %s", p.Hosts[i-1].Host, p.Hosts[i].Host)
				}
			}
			tc.check(t, p)

			// Same input, same plan.
			p2, err := Compute(load(t, oldFS), load(t, newFS), opts)
			if err != nil {
				t.Fatalf("Compute again: %v", err)
			}
			var text, text2, js, js2 bytes.Buffer
			for _, w := range []struct {
				p   *Plan
				txt *bytes.Buffer
				js  *bytes.Buffer
			}{{p, &text, &js}, {p2, &text2, &js2}} {
				if err := w.p.WriteText(w.txt); err != nil {
					t.Fatal(err)
				}
				if err := w.p.WriteJSON(w.js); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(text.Bytes(), text2.Bytes()) || !bytes.Equal(js.Bytes(), js2.Bytes()) {
				t.Error("two plans of the same revisions differ")
			}
			golden(t, tc.name+".md", text.Bytes())
			golden(t, tc.name+".json", js.Bytes())
		})
	}
}

func TestComputeFirstDeployAndRemoval(t *testing.T) {
	f := load(t, exampleFleet(t))
	p, err := Compute(nil, f, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range p.Hosts {
		if !h.New || h.HAProxy != ActionReload || h.Keepalived != ActionReload {
			t.Errorf("first deploy of %s: %+v", h.Host, h)
		}
	}
	fsys := exampleFleet(t)
	edit(t, fsys, "zones/us/zone.yaml", `  - name: us-haproxy-2
    address: 198.18.2.12
    interface: eth0
    priority: 100
    owns: [us-vip-2]
`, "")
	edit(t, fsys, "zones/us/zone.yaml", "owns: [us-vip-1]", "owns: [us-vip-1, us-vip-2]")
	p, err = Compute(f, load(t, fsys), render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hp := host(t, p, "us-haproxy-2")
	if !hp.Removed || hp.Changed() != true || hp.HAProxy != ActionNone {
		t.Errorf("removed host: %+v", hp)
	}
	if len(p.Hosts) != 4 {
		t.Errorf("plan has %d hosts, want 4 (the removed one included)", len(p.Hosts))
	}
}

func host(t *testing.T, p *Plan, name string) *HostPlan {
	t.Helper()
	for i := range p.Hosts {
		if p.Hosts[i].Host == name {
			return &p.Hosts[i]
		}
	}
	t.Fatalf("no host %s in the plan", name)
	return nil
}

func want(t *testing.T, hp *HostPlan, ha, ka Action) {
	t.Helper()
	if hp.HAProxy != ha || hp.Keepalived != ka {
		t.Errorf("%s: haproxy %s, keepalived %s; want %s, %s (reasons %q)", hp.Host, hp.HAProxy, hp.Keepalived, ha, ka, hp.Reasons)
	}
}

func unchanged(t *testing.T, p *Plan, hosts ...string) {
	t.Helper()
	for _, h := range hosts {
		hp := host(t, p, h)
		want(t, hp, ActionNone, ActionNone)
		if len(hp.Ops)+len(hp.Reasons)+len(hp.Warnings) > 0 || hp.New || hp.Removed {
			t.Errorf("%s: unchanged host with details: %+v", h, hp)
		}
	}
}

// assertOps compares ops written as "op backend/server from -> to".
func assertOps(t *testing.T, hp *HostPlan, want ...string) {
	t.Helper()
	var got []string
	for _, op := range hp.Ops {
		got = append(got, op.Op+" "+op.Backend+"/"+op.Server+" "+op.From+" -> "+op.To)
		got[len(got)-1] = strings.Replace(got[len(got)-1], "add "+op.Backend+"/"+op.Server+"  -> ", "add "+op.Backend+"/"+op.Server+" -> ", 1)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: ops\n%s\nwant\n%s", hp.Host, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func assertReasons(t *testing.T, hp *HostPlan, want ...string) {
	t.Helper()
	if strings.Join(hp.Reasons, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: reasons %q, want %q", hp.Host, hp.Reasons, want)
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", p, got)
	}
}

// TestGoldensCoverEveryOp: every op the agent can issue (the kinds
// reconciler/haproxy's Apply executes) appears in a golden plan where it is
// applied at runtime, so the goldens pin what the agent does.
func TestGoldensCoverEveryOp(t *testing.T) {
	seen := map[string]bool{}
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var p Plan
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, h := range p.Hosts {
			if h.HAProxy != ActionRuntime {
				continue
			}
			for _, op := range h.Ops {
				seen[op.Op] = true
			}
		}
	}
	for _, op := range OpKinds {
		if !seen[op] {
			t.Errorf("no golden plan applies %s at runtime", op)
		}
	}
}
