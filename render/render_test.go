package render

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

func findBackend(t *testing.T, h *Host, name string) Backend {
	t.Helper()
	for _, b := range h.Backends {
		if b.Name == name {
			return b
		}
	}
	t.Fatalf("%s: no backend %s", h.Name, name)
	return Backend{}
}

func findServer(b Backend, name string) (Server, bool) {
	for _, s := range b.Servers {
		if s.Name == name {
			return s, true
		}
	}
	return Server{}, false
}

func serverNames(b Backend) string {
	var n []string
	for _, s := range b.Servers {
		n = append(n, s.Name)
	}
	return strings.Join(n, ",")
}

func TestRenderErrors(t *testing.T) {
	ex := loadExample(t)
	tests := []struct {
		name    string
		fleet   func() *desired.Fleet
		host    string
		opts    Options
		wantErr string
	}{
		{"unknown host", func() *desired.Fleet { return ex }, "nope", Options{}, "no such host"},
		{"nil fleet", func() *desired.Fleet { return nil }, "eu-haproxy-1", Options{}, "no fleet"},
		{"relative crt-base override", func() *desired.Fleet { return ex }, "eu-haproxy-1", Options{CrtBase: "certs"}, "crt-base override"},
		{"crt-base override with a space", func() *desired.Fleet { return ex }, "eu-haproxy-1", Options{CrtBase: "/etc/my certs"}, "crt-base override"},
		{"admin socket with a quote", func() *desired.Fleet { return ex }, "eu-haproxy-1", Options{AdminSocket: `/run/a"b.sock`}, "admin socket override"},
		{"fleet dir that cannot be written", func() *desired.Fleet { return ex }, "eu-haproxy-1", Options{FleetDir: "/home/me/my fleet"}, "fleet directory"},
		{"missing failover zone", func() *desired.Fleet {
			f := loadExample(t)
			f.Zones[0].Failover = []string{"mars"}
			return f
		}, "eu-haproxy-1", Options{}, "failover zone mars"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := Render(tt.fleet(), tt.host, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Render = %v, %v; want an error containing %q", h, err, tt.wantErr)
			}
			if tt.host != "" && !strings.Contains(err.Error(), tt.host) {
				t.Errorf("error %q does not name the host %s", err, tt.host)
			}
		})
	}
	if _, err := RenderAll(nil, Options{}); err == nil {
		t.Error("RenderAll(nil) succeeded")
	}
}

func TestRenderOptions(t *testing.T) {
	ex := loadExample(t)
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"relative crtBase stays relative without a fleet dir", Options{}, []string{"crt-base certs\n", "stats socket /run/haproxy/admin.sock "}},
		{"fleet dir resolves a relative crtBase", Options{FleetDir: "/srv/x"}, []string{"crt-base /srv/x/certs\n"}},
		{"crt-base override wins", Options{FleetDir: "/srv/x", CrtBase: "/etc/haproxy/certs"}, []string{"crt-base /etc/haproxy/certs\n"}},
		{"admin socket override", Options{AdminSocket: "/tmp/t/admin.sock"}, []string{"stats socket /tmp/t/admin.sock mode 600 level admin expose-fd listeners\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := Render(ex, "us-haproxy-2", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !bytes.Contains(h.HAProxy, []byte(indent+w)) {
					t.Errorf("haproxy.cfg lacks %q", w)
				}
			}
		})
	}
	abs := loadExample(t)
	abs.HAProxy.CrtBase = "/etc/haproxy/certs"
	h, err := Render(abs, "eu-haproxy-1", Options{FleetDir: "/home/me/my fleet"})
	if err != nil {
		t.Fatalf("an absolute crtBase must not need the fleet dir: %v", err)
	}
	if !bytes.Contains(h.HAProxy, []byte("crt-base /etc/haproxy/certs\n")) {
		t.Error("absolute crtBase not rendered as is")
	}
}

func TestRenderAllSortedAndConsistent(t *testing.T) {
	ex := loadExample(t)
	all, err := RenderAll(ex, Options{FleetDir: goldenFleetDir})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range all {
		names = append(names, h.Name+"@"+h.Zone)
		one, err := Render(ex, h.Name, Options{FleetDir: goldenFleetDir})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(one.HAProxy, h.HAProxy) || !bytes.Equal(one.Keepalived, h.Keepalived) {
			t.Errorf("%s: Render and RenderAll disagree", h.Name)
		}
	}
	if got, want := strings.Join(names, " "), "eu-haproxy-1@eu eu-haproxy-2@eu us-haproxy-1@us us-haproxy-2@us"; got != want {
		t.Errorf("hosts = %s, want %s", got, want)
	}
}

// TestDeterministic renders the same desired state, loaded twice, and
// expects the same bytes; the output must not depend on time either.
func TestDeterministic(t *testing.T) {
	a, err := RenderAll(loadExample(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := RenderAll(loadExample(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if !bytes.Equal(a[i].HAProxy, b[i].HAProxy) || !bytes.Equal(a[i].Keepalived, b[i].Keepalived) {
			t.Errorf("%s: two renders of the same fleet differ", a[i].Name)
		}
		year := []byte(time.Now().Format("2006"))
		if bytes.Contains(a[i].HAProxy, year) || bytes.Contains(a[i].Keepalived, year) {
			t.Errorf("%s: output contains the current year: a timestamp?", a[i].Name)
		}
	}
}

// TestSkeleton: a reloadGeneration bump changes the skeleton (so it forces
// a reload); server-only changes do not.
func TestSkeleton(t *testing.T) {
	render := func(mut func(f *desired.Fleet)) *Host {
		t.Helper()
		f := loadExample(t)
		mut(f)
		h, err := Render(f, "eu-haproxy-2", Options{})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	base := render(func(*desired.Fleet) {})
	tests := []struct {
		name         string
		mut          func(f *desired.Fleet)
		skeletonSame bool
	}{
		{"reload generation bump", func(f *desired.Fleet) { f.Zones[0].ReloadGeneration++ }, false},
		{"node weight", func(f *desired.Fleet) { w := 5; f.Nodes[0].Weight = &w }, true},
		{"node drained", func(f *desired.Fleet) { f.Nodes[1].State = "drain" }, true},
		{"node removed", func(f *desired.Fleet) { f.Nodes = f.Nodes[1:] }, true},
		{"node address", func(f *desired.Fleet) { f.Nodes[0].Host = "198.18.1.99" }, true},
		{"backend balance", func(f *desired.Fleet) { f.Backends[0].Balance = "roundrobin" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := render(tt.mut)
			if bytes.Equal(h.HAProxy, base.HAProxy) {
				t.Fatal("the change did not change haproxy.cfg")
			}
			if same := bytes.Equal(Skeleton(h.HAProxy), Skeleton(base.HAProxy)); same != tt.skeletonSame {
				t.Errorf("skeleton unchanged = %v, want %v", same, tt.skeletonSame)
			}
		})
	}
}

// TestServerLinesMatchBackends checks, for every rendered host, that each
// backend section's server lines are exactly ServerIndent + Line() of
// Host.Backends, in order, and that no other line starts like one.
func TestServerLinesMatchBackends(t *testing.T) {
	for _, rc := range allRendered(t) {
		got := map[string][]string{}
		var order []string
		cur := ""
		for _, l := range strings.Split(string(rc.host.HAProxy), "\n") {
			switch {
			case strings.HasPrefix(l, "backend "):
				cur = strings.TrimPrefix(l, "backend ")
				order = append(order, cur)
				got[cur] = []string{}
			case strings.HasPrefix(l, ServerIndent+"server "):
				if cur == "" {
					t.Errorf("%s: server line outside a backend: %s", rc.name, l)
				}
				got[cur] = append(got[cur], strings.TrimPrefix(l, ServerIndent))
			case l != "" && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "#"):
				cur = ""
			}
		}
		if len(order) != len(rc.host.Backends) {
			t.Fatalf("%s: %d backend sections, %d Backends", rc.name, len(order), len(rc.host.Backends))
		}
		for i, b := range rc.host.Backends {
			if order[i] != b.Name {
				t.Errorf("%s: backend section %d is %s, want %s", rc.name, i, order[i], b.Name)
			}
			var want []string
			for _, s := range b.Servers {
				want = append(want, s.Line())
			}
			if strings.Join(got[b.Name], "\n") != strings.Join(want, "\n") {
				t.Errorf("%s: backend %s server lines\n%s\nwant\n%s", rc.name, b.Name, strings.Join(got[b.Name], "\n"), strings.Join(want, "\n"))
			}
			if b.Dynamic != desired.DynamicBalance(b.Balance) {
				t.Errorf("%s: backend %s Dynamic=%v for balance %s", rc.name, b.Name, b.Dynamic, b.Balance)
			}
		}
	}
}

// TestLoopGuard checks the cross-zone failover loop guard in every
// rendered config: HTTP frontends strip the hop header from untrusted
// sources and refuse a second hop; HTTP backends with failover backups add
// the header; tcp sections carry none of it.
func TestLoopGuard(t *testing.T) {
	del := "http-request del-header " + HopHeader + " unless { src "
	deny := "http-request deny deny_status 503 if { req.hdr_cnt(" + HopHeader + ") ge 2 }"
	for _, rc := range allRendered(t) {
		for _, sec := range sections(rc.host.HAProxy) {
			kind, name := sec.kind, sec.name
			tcp := strings.Contains(sec.body, "\n"+indent+"mode tcp\n")
			switch {
			case kind == "frontend" && name == StatsFrontend:
				if strings.Contains(sec.body, HopHeader) {
					t.Errorf("%s: the stats frontend handles the hop header", rc.name)
				}
			case kind == "frontend" && tcp:
				if strings.Contains(sec.body, HopHeader) {
					t.Errorf("%s: tcp frontend %s handles the hop header", rc.name, name)
				}
			case kind == "frontend":
				i, j := strings.Index(sec.body, del), strings.Index(sec.body, deny)
				if i < 0 || j < i {
					t.Errorf("%s: frontend %s lacks the guard (del-header then deny):\n%s", rc.name, name, sec.body)
					continue
				}
				// Both come before any rule that could route or rewrite.
				for _, later := range []string{"set-header", "use_backend", "default_backend"} {
					if k := strings.Index(sec.body, later); k >= 0 && k < j {
						t.Errorf("%s: frontend %s: %s before the guard", rc.name, name, later)
					}
				}
			case kind == "backend":
				b := findBackend(t, rc.host, name)
				vips := map[string]bool{}
				for _, z := range rc.fleet.Zones {
					for _, v := range z.VIPs {
						vips[v.Name] = true
					}
				}
				backups := false
				for _, s := range b.Servers {
					if s.Backup && vips[s.Name] {
						backups = true
					}
				}
				add := "http-request add-header " + HopHeader + " " + rc.host.Zone + "\n"
				if has := strings.Contains(sec.body, add); has != (backups && !tcp) {
					t.Errorf("%s: backend %s: add-header present=%v, want %v", rc.name, name, has, backups && !tcp)
				}
				if has := strings.Contains(sec.body, "option allbackups"); has != backups {
					t.Errorf("%s: backend %s: option allbackups present=%v, want %v", rc.name, name, has, backups)
				}
			}
		}
	}
}

type section struct{ kind, name, body string }

// sections splits a haproxy.cfg into its sections.
func sections(cfg []byte) []section {
	var out []section
	for _, l := range strings.SplitAfter(string(cfg), "\n") {
		if l != "" && l[0] != ' ' && l[0] != '#' && l[0] != '\n' {
			f := strings.Fields(l)
			s := section{kind: f[0], body: l}
			if len(f) > 1 {
				s.name = f[1]
			}
			out = append(out, s)
			continue
		}
		if len(out) > 0 {
			out[len(out)-1].body += l
		}
	}
	return out
}

// TestNodeSelection changes the example fleet and checks which servers the
// eu hosts get and with which settings.
func TestNodeSelection(t *testing.T) {
	node := func(f *desired.Fleet, name string) *desired.Node {
		for _, n := range f.Nodes {
			if n.Name == name {
				return n
			}
		}
		t.Fatalf("no node %s", name)
		return nil
	}
	backend := func(f *desired.Fleet, name string) *desired.Backend {
		for _, b := range f.Backends {
			if b.Name == name {
				return b
			}
		}
		t.Fatalf("no backend %s", name)
		return nil
	}
	tests := []struct {
		name    string
		mut     func(f *desired.Fleet)
		backend string
		servers string // names in order
		check   func(t *testing.T, b Backend)
	}{
		{name: "example", backend: "ddc_nodes_http", servers: "eu-node-1,eu-node-2,eu-node-3,us-vip-1,us-vip-2",
			check: func(t *testing.T, b Backend) {
				s, _ := findServer(b, "eu-node-2")
				want := Server{Name: "eu-node-2", Address: "198.18.1.22", Port: 8080, Weight: 100, Maxconn: 500, Slowstart: 10 * time.Second,
					Check: true, Inter: 2 * time.Second, Rise: 2, Fall: 3, State: "ready"}
				if s != want {
					t.Errorf("server\n%+v\nwant\n%+v", s, want)
				}
				v, _ := findServer(b, "us-vip-2")
				want = Server{Name: "us-vip-2", Address: "198.18.2.101", Port: 80, Weight: 100, Maxconn: 500, Backup: true,
					Check: true, Inter: 2 * time.Second, Rise: 2, Fall: 3, State: "ready"}
				if v != want {
					t.Errorf("backup\n%+v\nwant\n%+v", v, want)
				}
			}},
		{name: "not admitted", mut: func(f *desired.Fleet) { node(f, "eu-node-2").Admitted = false },
			backend: "ddc_nodes_http", servers: "eu-node-1,eu-node-3,us-vip-1,us-vip-2"},
		{name: "mode filter", mut: func(f *desired.Fleet) { node(f, "eu-node-1").Mode = "dac" },
			backend: "ddc_nodes_http", servers: "eu-node-2,eu-node-3,us-vip-1,us-vip-2"},
		{name: "no mode filter", mut: func(f *desired.Fleet) {
			node(f, "eu-node-1").Mode = "dac"
			backend(f, "ddc_nodes_http").Nodes.Modes = nil
		}, backend: "ddc_nodes_http", servers: "eu-node-1,eu-node-2,eu-node-3,us-vip-1,us-vip-2"},
		{name: "cluster filter", mut: func(f *desired.Fleet) {
			node(f, "eu-node-3").ClusterID = "0x4ec7f147bf85bfc29a15f434c4cc18b3d5ff6069"
			backend(f, "ddc_nodes_http").Nodes.Clusters = []string{"0x4ec7f147bf85bfc29a15f434c4cc18b3d5ff6069"}
		}, backend: "ddc_nodes_http", servers: "eu-node-3,us-vip-1,us-vip-2"},
		{name: "node moved to the other zone", mut: func(f *desired.Fleet) { node(f, "eu-node-1").Zone = "us" },
			backend: "ddc_nodes_http", servers: "eu-node-2,eu-node-3,us-vip-1,us-vip-2"},
		{name: "failover disabled", mut: func(f *desired.Fleet) { no := false; backend(f, "ddc_nodes_http").Failover.Enabled = &no },
			backend: "ddc_nodes_http", servers: "eu-node-1,eu-node-2,eu-node-3"},
		{name: "weight, drain and maint", mut: func(f *desired.Fleet) {
			w := 7
			node(f, "eu-node-1").Weight = &w
			node(f, "eu-node-2").State = "drain"
			node(f, "eu-node-3").State = "maint"
		}, backend: "ddc_nodes_http", servers: "eu-node-1,eu-node-2,eu-node-3,us-vip-1,us-vip-2",
			check: func(t *testing.T, b Backend) {
				s1, _ := findServer(b, "eu-node-1")
				s2, _ := findServer(b, "eu-node-2")
				s3, _ := findServer(b, "eu-node-3")
				if s1.Weight != 7 || s2.State != "drain" || s2.Weight != 100 || s3.State != "maint" {
					t.Errorf("got %+v / %+v / %+v", s1, s2, s3)
				}
				if !strings.Contains(s2.Line(), " weight 0 ") || !strings.HasSuffix(s3.Line(), " disabled") {
					t.Errorf("lines: %s / %s", s2.Line(), s3.Line())
				}
			}},
		{name: "grpc checked over the http port", backend: "ddc_nodes_grpc",
			servers: "eu-node-1,eu-node-2,eu-node-3,us-vip-1,us-vip-2",
			check: func(t *testing.T, b Backend) {
				s, _ := findServer(b, "eu-node-1")
				if s.Port != 9091 || s.Proto != "h2" || s.CheckPort != 8080 || s.CheckProto != "h1" {
					t.Errorf("node %+v: want h2 on 9091 checked with h1 on 8080", s)
				}
				v, _ := findServer(b, "us-vip-1")
				if v.Port != 9090 || v.Proto != "h2" || v.Check || !v.Backup {
					t.Errorf("backup %+v: want an unchecked h2 backup on 9090", v)
				}
			}},
		{name: "grpc checked over its own port", mut: func(f *desired.Fleet) { backend(f, "ddc_nodes_grpc").Check.Port = "grpc" },
			backend: "ddc_nodes_grpc", servers: "eu-node-1,eu-node-2,eu-node-3,us-vip-1,us-vip-2",
			check: func(t *testing.T, b Backend) {
				s, _ := findServer(b, "eu-node-1")
				v, _ := findServer(b, "us-vip-1")
				if s.CheckPort != 0 || s.CheckProto != "" || !v.Check || v.CheckProto != "" {
					t.Errorf("node %+v backup %+v: want h2 checks on the traffic port", s, v)
				}
			}},
		{name: "ssl node", mut: func(f *desired.Fleet) { node(f, "eu-node-1").SSL = true },
			backend: "ddc_nodes_grpc", servers: "eu-node-1,eu-node-2,eu-node-3,us-vip-1,us-vip-2",
			check: func(t *testing.T, b Backend) {
				s, _ := findServer(b, "eu-node-1")
				if !s.SSL || s.SNI != "eu-node-1.ddc.example" || s.ALPN != "h2" || !s.CheckSSL {
					t.Errorf("ssl node %+v", s)
				}
				want := "server eu-node-1 198.18.1.21:9091 weight 100 maxconn 1000 slowstart 10s proto h2 ssl verify none sni str(eu-node-1.ddc.example) alpn h2 check port 8080 inter 2s rise 2 fall 3 check-proto h1 check-ssl check-sni eu-node-1.ddc.example"
				if s.Line() != want {
					t.Errorf("line\n%s\nwant\n%s", s.Line(), want)
				}
			}},
		{name: "static servers by zone", mut: func(f *desired.Fleet) {
			one := 1
			backend(f, "ddc_nodes_http").Servers = []*desired.Server{
				{Name: "s-all", Address: "198.18.3.1", Port: 81, State: "ready"},
				{Name: "s-us", Address: "198.18.3.2", Port: 81, Zone: "us", State: "ready"},
				{Name: "s-eu", Address: "s.example", Port: 82, Zone: "eu", Weight: &one, Maxconn: &one, Slowstart: desired.Duration(time.Minute), Backup: true, State: "maint"},
			}
		}, backend: "ddc_nodes_http", servers: "eu-node-1,eu-node-2,eu-node-3,s-all,s-eu,us-vip-1,us-vip-2",
			check: func(t *testing.T, b Backend) {
				s, _ := findServer(b, "s-eu")
				if !s.Hostname || s.Weight != 1 || s.Maxconn != 1 || s.Slowstart != time.Minute || !s.Backup || s.State != "maint" {
					t.Errorf("static server %+v", s)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := loadExample(t)
			if tt.mut != nil {
				tt.mut(f)
			}
			for _, host := range []string{"eu-haproxy-1", "eu-haproxy-2"} {
				h, err := Render(f, host, Options{})
				if err != nil {
					t.Fatal(err)
				}
				b := findBackend(t, h, tt.backend)
				if got := serverNames(b); got != tt.servers {
					t.Errorf("%s: servers %s, want %s", host, got, tt.servers)
				}
				if tt.check != nil {
					tt.check(t, b)
				}
			}
		})
	}
}
