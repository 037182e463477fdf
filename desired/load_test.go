package desired

import (
	"errors"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestLoadExamples(t *testing.T) {
	f, err := Load(os.DirFS(examplesDir))
	if err != nil {
		t.Fatalf("the example fleet does not load:\n%v", err)
	}
	names := func(n int, name func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = name(i)
		}
		return out
	}
	if got, want := names(len(f.Zones), func(i int) string { return f.Zones[i].Name }), []string{"eu", "us"}; !reflect.DeepEqual(got, want) {
		t.Errorf("zones = %q, want %q", got, want)
	}
	if got, want := names(len(f.Backends), func(i int) string { return f.Backends[i].Name }), []string{"ddc_nodes_grpc", "ddc_nodes_http"}; !reflect.DeepEqual(got, want) {
		t.Errorf("backends = %q, want %q", got, want)
	}
	if got, want := names(len(f.Nodes), func(i int) string { return f.Nodes[i].Name }),
		[]string{"eu-node-1", "eu-node-2", "eu-node-3", "us-node-1", "us-node-2", "us-node-3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("nodes = %q, want %q", got, want)
	}
	if f.Name != "ddc" || f.Kind != KindFleet {
		t.Errorf("fleet kind/name = %q/%q", f.Kind, f.Name)
	}
}

// minimalFleet is a valid fleet that sets as little as it can, to see defaults.
func minimalFleet() fstest.MapFS {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	return fstest.MapFS{
		"fleet.yaml": file("kind: Fleet\nname: mini\n"),
		"zones/z1/zone.yaml": file(`kind: Zone
name: z1
network: {cidr: 10.0.0.0/24}
vips: [{name: v1, address: 10.0.0.100, routerId: 1}]
hosts: [{name: h1, address: 10.0.0.11, owns: [v1]}]
frontends:
  - name: web
    binds: [{port: 443}]
    tls: {certificate: web.pem}
    defaultBackend: be
  - name: raw
    mode: tcp
    binds: [{port: 7000}]
    defaultBackend: raw
stats: {}
`),
		"backends/be.yaml":  file("kind: Backend\nname: be\nnodes: {}\nfailover: {port: 443}\nservers: [{name: s1, address: 10.0.1.1, port: 80}]\n"),
		"backends/raw.yaml": file("kind: Backend\nname: raw\nmode: tcp\nservers: [{name: r1, address: 10.0.1.2, port: 7000}]\n"),
		"nodes/n1.yaml": file(`kind: Node
name: n1
pubKey: 0x` + strings.Repeat("1", 64) + `
providerId: 0x` + strings.Repeat("2", 64) + `
clusterId: 0x` + strings.Repeat("3", 40) + `
host: 10.0.1.10
domain: n1.example
httpPort: 8080
grpcPort: 9091
p2pPort: 9070
mode: full
zone: z1
`),
	}
}

func TestLoadAppliesDefaults(t *testing.T) {
	f, err := Load(minimalFleet())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	z, be, raw, n := f.Zones[0], f.Backend("be"), f.Backend("raw"), f.Nodes[0]
	web, tcp := z.Frontends[0], z.Frontends[1]
	tests := []struct {
		name      string
		got, want any
	}{
		{"haproxy.maxconn", f.HAProxy.Maxconn, DefaultMaxconn},
		{"haproxy.hardStopAfter", f.HAProxy.HardStopAfter.D(), DefaultHardStopAfter},
		{"haproxy.crtBase", f.HAProxy.CrtBase, DefaultCrtBase},
		{"haproxy.adminSocket", f.HAProxy.AdminSocket, DefaultAdminSocket},
		{"haproxy.timeouts.connect", f.HAProxy.Timeouts.Connect.D(), 5 * time.Second},
		{"haproxy.serverDefaults.weight", *f.HAProxy.ServerDefaults.Weight, DefaultServerWeight},
		{"haproxy.serverDefaults.maxconn", *f.HAProxy.ServerDefaults.Maxconn, DefaultServerMaxconn},
		{"keepalived.advertInt", f.Keepalived.AdvertInt.D(), DefaultAdvertInt},
		{"keepalived.ownerPriority", f.Keepalived.OwnerPriority, DefaultOwnerPriority},
		{"keepalived.preempt", *f.Keepalived.Preempt, true},
		{"keepalived.scriptUser", f.Keepalived.ScriptUser, DefaultScriptUser},
		{"keepalived.trackProcess", f.Keepalived.TrackProcess, DefaultTrackProcess},
		{"zone network.name", z.Network.Name, "z1"},
		{"host interface", z.Hosts[0].Interface, DefaultInterface},
		{"host priority", z.Hosts[0].Priority, DefaultHostPriority},
		{"frontend mode", web.Mode, "http"},
		{"bind address", web.Binds[0].Address, "*"},
		{"http frontend forwardFor", *web.Options.ForwardFor, true},
		{"http frontend httpLog", *web.Options.HTTPLog, true},
		{"tcp frontend options unset", tcp.Options.HTTPLog == nil && tcp.Options.ForwardFor == nil, true},
		{"tls alpn", web.TLS.ALPN, []string{"h2", "http/1.1"}},
		{"tls minVersion", web.TLS.MinVersion, "TLSv1.2"},
		{"stats bind", z.Stats.Bind, Bind{Address: "*", Port: DefaultStatsPort}},
		{"stats uri", z.Stats.URI, DefaultStatsURI},
		{"stats metricsPath", z.Stats.MetricsPath, DefaultMetricsPath},
		{"stats prometheus", *z.Stats.Prometheus, true},
		{"backend mode", be.Mode, "http"},
		{"backend balance", be.Balance, "roundrobin"},
		{"backend check", *be.Check, Check{Type: "http", Method: "GET", Path: DefaultCheckPath, ExpectStatus: 200,
			Interval: Duration(DefaultCheckInterval), Rise: DefaultCheckRise, Fall: DefaultCheckFall}},
		{"backend retries", *be.Retries, DefaultBackendRetries},
		{"backend redispatch", *be.Redispatch, true},
		{"http backend forwardFor", *be.ForwardFor, true},
		{"tcp backend forwardFor", *raw.ForwardFor, false},
		{"tcp backend has no check", raw.Check == nil, true},
		{"backend inherits weight", *be.ServerDefaults.Weight, DefaultServerWeight},
		{"backend inherits slowstart", be.ServerDefaults.Slowstart.D(), DefaultSlowstart},
		{"nodes.port", be.Nodes.Port, "http"},
		{"failover.enabled", *be.Failover.Enabled, true},
		{"server state", be.Servers[0].State, "ready"},
		{"node state", n.State, "ready"},
		{"node weight stays unset", n.Weight == nil, true},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

// TestLoadKeepsExplicitZero checks that a 0 written in a file is reported,
// not silently replaced by the default.
func TestLoadKeepsExplicitZero(t *testing.T) {
	tests := []struct {
		file, old, new, want string
	}{
		{"backends/be.yaml", "nodes: {}", "nodes: {}\ncheck: {rise: 0}", "backends/be.yaml:4:15: check.rise: rise 0 is out of range 1..100"},
		{"zones/z1/zone.yaml", "owns: [v1]}", "owns: [v1], priority: 0}", "zones/z1/zone.yaml:5:62: hosts[0].priority: priority 0 is out of range 1..254"},
		{"fleet.yaml", "name: mini\n", "name: mini\nhaproxy: {hardStopAfter: 0s}\n", "fleet.yaml:3:26: haproxy.hardStopAfter: hardStopAfter must be positive, so old workers cannot live forever"},
		{"zones/z1/zone.yaml", "stats: {}", "stats: {bind: {port: 0}}", "zones/z1/zone.yaml:15:22: stats.bind.port: port 0 is out of range 1..65535"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			fsys := minimalFleet()
			replaceIn(t, fsys, tt.file, tt.old, tt.new)
			_, err := Load(fsys)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Load error:\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

func replaceIn(t *testing.T, fsys fstest.MapFS, file, old, new string) {
	t.Helper()
	mf, ok := fsys[file]
	if !ok || !strings.Contains(string(mf.Data), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	fsys[file] = &fstest.MapFile{Data: []byte(strings.Replace(string(mf.Data), old, new, 1))}
}

// TestLoadErrorPositions checks file, line, column and field of errors from
// decoding and from validation, including a missing field (located at its
// parent).
func TestLoadErrorPositions(t *testing.T) {
	tests := []struct {
		name           string
		file, old, new string
		want           Error
		msgContains    string
	}{
		{"unknown nested field", "zones/eu/zone.yaml", "    interface: eth0\n    priority: 100\n    owns: [eu-vip-2]", "    interfce: eth0\n    priority: 100\n    owns: [eu-vip-2]",
			Error{File: "zones/eu/zone.yaml", Line: 25, Col: 5, Field: "hosts[1].interfce"}, `unknown field "interfce"`},
		{"type error in a list", "zones/us/zone.yaml", "routerId: 62", "routerId: sixty-two",
			Error{File: "zones/us/zone.yaml", Line: 16, Col: 15, Field: "vips[1].routerId"}, `expected an integer, got "sixty-two"`},
		{"duplicate router id", "zones/us/zone.yaml", "routerId: 62", "routerId: 52",
			Error{File: "zones/us/zone.yaml", Line: 16, Col: 15, Field: "vips[1].routerId"}, `routerId 52 is already used by vip "us-vip-1" (zones/us/zone.yaml:13:15) on network "us-lan"`},
		{"flow sequence element", "zones/eu/zone.yaml", "failover: [us]", "failover: [us, asia]",
			Error{File: "zones/eu/zone.yaml", Line: 9, Col: 16, Field: "failover[1]"}, `unknown zone "asia"`},
		{"missing field at its parent", "nodes/us-node-2.yaml", "domain: us-node-2.ddc.example\n", "",
			Error{File: "nodes/us-node-2.yaml", Line: 2, Col: 1, Field: "domain"}, "domain is required"},
		{"missing nested field at its parent", "backends/ddc_nodes_grpc.yaml", "  enabled: true\n  port: 9090", "  enabled: true",
			Error{File: "backends/ddc_nodes_grpc.yaml", Line: 22, Col: 3, Field: "failover.port"}, "failover.port is required"},
		{"deep field", "zones/us/zone.yaml", "        value: https", "        value: \"ht\\ttps\"",
			Error{File: "zones/us/zone.yaml", Line: 50, Col: 16, Field: "frontends[1].setHeaders[0].value"}, `value "ht\ttps" is not allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := readExamples(t)
			replaceIn(t, fsys, tt.file, tt.old, tt.new)
			_, err := Load(fsys)
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("want exactly one error, got %v", err)
			}
			got := errs[0]
			if !strings.Contains(got.Msg, tt.msgContains) {
				t.Errorf("message %q does not contain %q", got.Msg, tt.msgContains)
			}
			got.Msg = ""
			if got != tt.want {
				t.Errorf("error at %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestLoadReportsEveryError puts five independent validation errors in one
// zone file and one in a node file: all six come back, sorted.
func TestLoadReportsEveryError(t *testing.T) {
	fsys := readExamples(t)
	for _, r := range [][2]string{
		{"    address: 198.18.1.11", "    address: 198.18.1.311"},
		{"    routerId: 61", "    routerId: 300"},
		{"    owns: [eu-vip-2]", "    owns: [eu-vip-3]"},
		{"      - port: 443", "      - port: 70000"},
		{"  uri: /stats", "  uri: stats"},
	} {
		replaceIn(t, fsys, "zones/eu/zone.yaml", r[0], r[1])
	}
	replaceIn(t, fsys, "nodes/eu-node-3.yaml", "mode: storage", "mode: archive")
	_, err := Load(fsys)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load = %v, want Errors", err)
	}
	want := []string{
		"nodes/eu-node-3.yaml:13:7: mode: mode \"archive\" is not one of full, storage, cache, dac",
		"zones/eu/zone.yaml:14:5: vips[1]: vip \"eu-vip-2\" has no owner: list it in the owns of exactly one host of zone \"eu\"",
		"zones/eu/zone.yaml:16:15: vips[1].routerId: routerId 300 is out of range 1..255",
		"zones/eu/zone.yaml:19:14: hosts[0].address: address \"198.18.1.311\" is not an IP address (write it in canonical form, without port or zone)",
		"zones/eu/zone.yaml:27:12: hosts[1].owns[0]: zone \"eu\" has no vip \"eu-vip-3\"",
		"zones/eu/zone.yaml:43:15: frontends[1].binds[0].port: port 70000 is out of range 1..65535",
		"zones/eu/zone.yaml:61:8: stats.uri: uri \"stats\" is invalid: an absolute path (starting with '/') of at most 256 letters, digits and ._~!*+,;=:@/-",
	}
	got := strings.Split(errs.Error(), "\n")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLoadSkipsCascades checks that a file which fails to decode is reported
// once, and that references to its object are not reported as dangling.
func TestLoadSkipsCascades(t *testing.T) {
	tests := []struct {
		name, file, old, new, want string
	}{
		{"broken zone", "zones/us/zone.yaml", "failover: [eu]", "failover: eu", "zones/us/zone.yaml:9:11: failover: expected a list, got \"eu\""},
		{"broken backend", "backends/ddc_nodes_grpc.yaml", "rise: 2", "rise: two", "backends/ddc_nodes_grpc.yaml:14:9: check.rise: expected an integer, got \"two\""},
		{"broken fleet.yaml", "fleet.yaml", "maxconn: 20000", "maxconn: [1]", "fleet.yaml:6:12: haproxy.maxconn: expected an integer, got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := readExamples(t)
			replaceIn(t, fsys, tt.file, tt.old, tt.new)
			_, err := Load(fsys)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Load error:\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestLoadValidatesDespiteUnknownFields checks that an unknown field does
// not hide the other errors of its file.
func TestLoadValidatesDespiteUnknownFields(t *testing.T) {
	fsys := readExamples(t)
	replaceIn(t, fsys, "nodes/eu-node-1.yaml", "admitted: true", "admitted: true\ncolour: red")
	replaceIn(t, fsys, "nodes/eu-node-1.yaml", "httpPort: 8080", "httpPort: 0")
	replaceIn(t, fsys, "nodes/eu-node-1.yaml", "zone: eu", "zone: mars")
	_, err := Load(fsys)
	want := strings.Join([]string{
		`nodes/eu-node-1.yaml:10:11: httpPort: httpPort 0 is out of range 1..65535`,
		`nodes/eu-node-1.yaml:14:7: zone: unknown zone "mars" (zones: eu, us)`,
		`nodes/eu-node-1.yaml:17:1: colour: unknown field "colour"`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("Load error:\n got %v\nwant %s", err, want)
	}
}

func TestSuggest(t *testing.T) {
	fields := yamlFields(reflect.TypeOf(Host{}))
	tests := []struct{ key, want string }{
		{"Address", ` (did you mean "address"?)`},
		{"adress", ` (did you mean "address"?)`},
		{"prority", ` (did you mean "priority"?)`},
		{"interfaces", ` (did you mean "interface"?)`},
		{"colour", ""},
		{"nam", ""}, // too short to guess
		{"NAME", ` (did you mean "name"?)`},
	}
	for _, tt := range tests {
		if got := suggest(tt.key, fields); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

// TestValidateBuiltFleet validates a fleet built in code (no Source): errors
// name file and field but no position.
func TestValidateBuiltFleet(t *testing.T) {
	good := func() *Fleet {
		w := 10
		f := &Fleet{
			Kind: KindFleet, Name: "built",
			Zones: []*Zone{{
				Kind: KindZone, Name: "z", File: "zones/z/zone.yaml",
				Network: Network{CIDR: "10.1.0.0/16"},
				VIPs:    []*VIP{{Name: "vip", Address: "10.1.0.100", RouterID: 9}},
				Hosts:   []*Host{{Name: "h", Address: "10.1.0.11", Owns: []string{"vip"}}},
				Frontends: []*Frontend{{Name: "fe", Binds: []Bind{{Port: 80}}, DefaultBackend: "be",
					Routes: []Route{{Host: "api.example", Backend: "be"}}}},
			}},
			Backends: []*Backend{{Kind: KindBackend, Name: "be", File: "backends/be.yaml", Nodes: &NodeSelector{}}},
			Nodes: []*Node{{Kind: KindNode, Name: "n", File: "nodes/n.yaml", PubKey: "0x" + strings.Repeat("a", 64),
				ProviderID: "0x" + strings.Repeat("b", 64), ClusterID: "0x" + strings.Repeat("c", 40), Host: "n.example",
				Domain: "n.example", HTTPPort: 1, GRPCPort: 2, P2PPort: 3, Mode: "dac", Zone: "z", Weight: &w}},
		}
		SetDefaults(f)
		return f
	}
	if errs := Validate(good()); len(errs) != 0 {
		t.Fatalf("Validate(good) = %v", errs)
	}
	f := good()
	f.Zones[0].Hosts[0].Owns = nil
	f.Nodes[0].Zone = "nowhere"
	f.Backends[0].Kind = "Node"
	got := Validate(f).Error()
	want := strings.Join([]string{
		`backends/be.yaml: kind: kind must be "Backend" here, got "Node"`,
		`nodes/n.yaml: zone: unknown zone "nowhere" (zones: z)`,
		`zones/z/zone.yaml: vips[0]: vip "vip" has no owner: list it in the owns of exactly one host of zone "z"`,
	}, "\n")
	if got != want {
		t.Errorf("Validate:\n%s\nwant:\n%s", got, want)
	}
}

func TestReservedInPrefix(t *testing.T) {
	tests := []struct {
		prefix, addr, want string
	}{
		{"198.18.1.0/24", "198.18.1.0", "network"},
		{"198.18.1.0/24", "198.18.1.255", "broadcast"},
		{"198.18.1.0/24", "198.18.1.1", ""},
		{"198.18.0.0/15", "198.19.255.255", "broadcast"},
		{"198.18.1.0/31", "198.18.1.0", ""},
		{"198.18.1.1/32", "198.18.1.1", ""},
		{"2001:db8::/64", "2001:db8::", "network"},
		{"2001:db8::/64", "2001:db8::ffff:ffff:ffff:ffff", ""},
		{"2001:db8::/127", "2001:db8::", ""},
	}
	for _, tt := range tests {
		t.Run(tt.prefix+" "+tt.addr, func(t *testing.T) {
			if got := reservedInPrefix(netip.MustParsePrefix(tt.prefix), netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Errorf("reservedInPrefix = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	f, err := Load(os.DirFS(examplesDir))
	if err != nil {
		t.Fatal(err)
	}
	if z := f.Zone("us"); z == nil || z.Name != "us" {
		t.Errorf("Zone(us) = %v", z)
	}
	if f.Zone("mars") != nil {
		t.Error("Zone(mars) != nil")
	}
	if b := f.Backend("ddc_nodes_grpc"); b == nil || b.Mode != "grpc" {
		t.Errorf("Backend(ddc_nodes_grpc) = %v", b)
	}
	if f.Backend("none") != nil {
		t.Error("Backend(none) != nil")
	}
	if z, h := f.Host("eu-haproxy-2"); z == nil || z.Name != "eu" || h.Address != "198.18.1.12" {
		t.Errorf("Host(eu-haproxy-2) = %v, %v", z, h)
	}
	if z, h := f.Host("nobody"); z != nil || h != nil {
		t.Error("Host(nobody) found something")
	}
	for _, n := range f.Nodes {
		if got := f.Node(n.Name); got != n {
			t.Errorf("Node(%s) = %v", n.Name, got)
		}
	}
	if f.Node("eu-node-0") != nil || f.Node("zz") != nil {
		t.Error("Node found a missing node")
	}
	eu := f.Zone("eu")
	if v := eu.VIP("eu-vip-2"); v == nil || v.RouterID != 61 {
		t.Errorf("VIP(eu-vip-2) = %v", v)
	}
	if fe := eu.Frontend("grpc_in"); fe == nil || fe.Mode != "grpc" {
		t.Errorf("Frontend(grpc_in) = %v", fe)
	}
	if h := eu.Owner("eu-vip-2"); h == nil || h.Name != "eu-haproxy-2" {
		t.Errorf("Owner(eu-vip-2) = %v", h)
	}
	if eu.VIP("x") != nil || eu.Frontend("x") != nil || eu.Owner("x") != nil {
		t.Error("zone lookups found a missing name")
	}
	var got []string
	for _, n := range f.NodesIn("us") {
		got = append(got, n.Name)
	}
	if want := []string{"us-node-1", "us-node-2", "us-node-3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("NodesIn(us) = %q, want %q", got, want)
	}
}
