package schemas

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

const exampleFleet = "../examples/fleet"

func newValidator(t *testing.T) *Validator {
	t.Helper()
	v, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// fleetFiles lists every desired-state file of a fleet tree with its kind.
func fleetFiles(t *testing.T, fsys fs.FS) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if k := KindForPath(p); k != "" && !d.IsDir() {
			out[p] = k
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking fleet: %v", err)
	}
	return out
}

var modelineRe = regexp.MustCompile(`(?m)^# yaml-language-server: \$schema=(\S+)$`)

func TestExamplesValid(t *testing.T) {
	v := newValidator(t)
	fsys := os.DirFS(exampleFleet)
	f, errs := desired.Decode(fsys)
	if len(errs) > 0 {
		t.Fatalf("examples do not decode: %v", errs)
	}
	if es := v.ValidateFleet(fsys, f); len(es) > 0 {
		t.Errorf("ValidateFleet(examples) = %v, want no error", desired.Errors(es))
	}
	files := fleetFiles(t, fsys)
	if want := 1 + len(f.Zones) + len(f.Backends) + len(f.Nodes); len(files) != want {
		t.Errorf("examples hold %d desired-state files, the loaded fleet %d", len(files), want)
	}
	for file, kind := range files {
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			t.Fatal(err)
		}
		if es := v.Validate(kind, file, data, desired.Source{}); len(es) > 0 {
			t.Errorf("Validate(%s) = %v, want no error", file, desired.Errors(es))
		}
		// The modeline editors follow must name this kind's schema.
		m := modelineRe.FindSubmatch(data)
		if m == nil {
			t.Errorf("%s: no yaml-language-server modeline", file)
			continue
		}
		got := path.Clean(path.Join("examples/fleet", path.Dir(file), string(m[1])))
		if want := "schemas/" + FileName(kind); got != want {
			t.Errorf("%s: modeline points at %s, want %s", file, got, want)
		}
	}
}

func TestKindForPath(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"fleet.yaml", desired.KindFleet},
		{"zones/eu/zone.yaml", desired.KindZone},
		{"backends/ddc_nodes_http.yaml", desired.KindBackend},
		{"nodes/eu-node-1.yaml", desired.KindNode},
		{"nodes/1e/eu-node-1.yaml", desired.KindNode}, // nodeLayout: sharded
		{"nodes/eu/eu-node-1.yaml", ""},
		{"nodes/1E/eu-node-1.yaml", ""},
		{"nodes/1e/2f/eu-node-1.yaml", ""},
		{"zones/zone.yaml", ""},
		{"zones/eu/other.yaml", ""},
		{"backends/x.yml", ""},
		{"backends/sub/x.yaml", ""},
		{"nodes/README.md", ""},
		{"certs/ddc-example.pem", ""},
		{"sub/fleet.yaml", ""},
	} {
		if got := KindForPath(tc.file); got != tc.want {
			t.Errorf("KindForPath(%q) = %q, want %q", tc.file, got, tc.want)
		}
	}
}

const (
	hex64 = "1ec1c32f22d314cb8c0f355c7341c7ecbf3717ada2530183c6d4b87c352f2dce"
	hex40 = "67424cc500a0532b2ca4e63d681a279809170593"
)

// Small valid documents the invalid cases are variations of.
var (
	nodeDoc = `kind: Node
name: n1
pubKey: 0x` + hex64 + `
providerId: 0x` + hex64 + `
clusterId: 0x` + hex40 + `
host: 198.18.1.21
domain: n1.ddc.example
httpPort: 8080
grpcPort: 9091
p2pPort: 9070
mode: storage
zone: eu
`
	zoneDoc = `kind: Zone
name: eu
network:
  cidr: 198.18.1.0/24
vips:
  - name: v1
    address: 198.18.1.100
    routerId: 51
hosts:
  - name: h1
    address: 198.18.1.11
  - name: h2
    address: 198.18.1.12
frontends:
  - name: http_in
    binds:
      - port: 80
    defaultBackend: be
`
	zoneHosts = `hosts:
  - name: h1
    address: 198.18.1.11
  - name: h2
    address: 198.18.1.12
`
	backendDoc = `kind: Backend
name: be
check:
  port: http
servers:
  - name: s1
    address: 198.18.1.30
    port: 8080
`
	fleetDoc = `kind: Fleet
name: ddc
haproxy:
  maxconn: 20000
  timeouts:
    connect: 5s
keepalived:
  ownerPriority: 150
`
)

// edit replaces line n (1-based) of doc with repl, which may hold several
// lines or none (deleting the line).
func edit(doc string, n int, repl string) string {
	lines := strings.SplitAfter(doc, "\n")
	if repl != "" && !strings.HasSuffix(repl, "\n") {
		repl += "\n"
	}
	return strings.Join(lines[:n-1], "") + repl + strings.Join(lines[n:], "")
}

type want struct {
	field     string
	line, col int
	msg       string
}

func TestInvalidDocuments(t *testing.T) {
	v := newValidator(t)
	for _, tc := range []struct {
		name, kind, doc string
		want            []want
	}{
		// Node
		{"node unknown field", desired.KindNode, nodeDoc + "colour: red\n",
			[]want{{"colour", 13, 1, `schema: unknown field "colour"`}}},
		{"node port out of range", desired.KindNode, edit(nodeDoc, 8, "httpPort: 70000"),
			[]want{{"httpPort", 8, 11, "schema: value must be <= 65535 (got 70000)"}}},
		{"node port zero", desired.KindNode, edit(nodeDoc, 10, "p2pPort: 0"),
			[]want{{"p2pPort", 10, 10, "schema: value must be >= 1 (got 0)"}}},
		{"node port is a string", desired.KindNode, edit(nodeDoc, 9, `grpcPort: "9091"`),
			[]want{{"grpcPort", 9, 11, "schema: expected an integer, got a string"}}},
		{"node bad pubKey", desired.KindNode, edit(nodeDoc, 3, "pubKey: 0xABCDEFG"),
			[]want{{"pubKey", 3, 9, `schema: "0xABCDEFG" is not 0x followed by 64 lowercase hex digits`}}},
		{"node missing mode", desired.KindNode, edit(nodeDoc, 11, ""),
			[]want{{"mode", 1, 1, `schema: missing required field "mode"`}}},
		{"node bad mode", desired.KindNode, edit(nodeDoc, 11, "mode: archive"),
			[]want{{"mode", 11, 7, `schema: value must be one of "full", "storage", "cache", "dac", got "archive"`}}},
		{"node bad host", desired.KindNode, edit(nodeDoc, 6, "host: bad_host!"),
			[]want{{"host", 6, 7, "schema: value must be an IPv4 address, an IPv6 address or a lowercase DNS name"}}},
		{"node wrong kind", desired.KindNode, edit(nodeDoc, 1, "kind: Zone"),
			[]want{{"kind", 1, 7, `schema: value must be "Node", got "Zone"`}}},
		{"node weight too high", desired.KindNode, nodeDoc + "weight: 257\n",
			[]want{{"weight", 13, 9, "schema: value must be <= 256 (got 257)"}}},
		{"node ssl not a bool", desired.KindNode, nodeDoc + "ssl: maybe\n",
			[]want{{"ssl", 13, 6, `schema: expected true or false, got a string`}}},
		{"node several problems", desired.KindNode, edit(edit(nodeDoc, 12, "zone: -eu"), 2, "name: n 1"),
			[]want{
				{"name", 2, 7, `schema: "n 1" is not a valid name (1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit)`},
				{"zone", 12, 7, `schema: "-eu" is not a valid name (1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit)`},
			}},

		// Zone
		{"zone host address not an IP", desired.KindZone, edit(zoneDoc, 13, "    address: not-an-ip"),
			[]want{{"hosts[1].address", 13, 14, "schema: value must be an IPv4 address or an IPv6 address"}}},
		{"zone routerId out of range", desired.KindZone, edit(zoneDoc, 8, "    routerId: 256"),
			[]want{{"vips[0].routerId", 8, 15, "schema: value must be <= 255 (got 256)"}}},
		{"zone missing cidr", desired.KindZone, edit(zoneDoc, 4, "  name: lan"),
			[]want{{"network.cidr", 4, 3, `schema: missing required field "cidr"`}}},
		{"zone missing vip routerId", desired.KindZone, edit(zoneDoc, 8, ""),
			[]want{{"vips[0].routerId", 6, 5, `schema: missing required field "routerId"`}}},
		{"zone unknown host field", desired.KindZone, edit(zoneDoc, 11, "    address: 198.18.1.11\n    prio: 5"),
			[]want{{"hosts[0].prio", 12, 5, `schema: unknown field "prio"`}}},
		{"zone bind port zero", desired.KindZone, edit(zoneDoc, 17, "      - port: 0"),
			[]want{{"frontends[0].binds[0].port", 17, 15, "schema: value must be >= 1 (got 0)"}}},
		{"zone bind without port", desired.KindZone, edit(zoneDoc, 17, "      - address: 198.18.1.100"),
			[]want{{"frontends[0].binds[0].port", 17, 9, `schema: missing required field "port"`}}},
		{"zone no binds", desired.KindZone, edit(edit(zoneDoc, 17, ""), 16, "    binds: []"),
			[]want{{"frontends[0].binds", 16, 12, "schema: list must have at least 1 item(s), got 0"}}},
		{"zone bad frontend mode", desired.KindZone, zoneDoc + "    mode: quic\n",
			[]want{{"frontends[0].mode", 19, 11, `schema: value must be one of "http", "grpc", "tcp", got "quic"`}}},
		{"zone tls without certificate", desired.KindZone, zoneDoc + "    tls:\n      alpn: [h3]\n",
			[]want{
				{"frontends[0].tls.certificate", 20, 7, `schema: missing required field "certificate"`},
				{"frontends[0].tls.alpn[0]", 20, 14, `schema: value must be one of "h2", "http/1.1", got "h3"`},
			}},
		{"zone header value with a quote", desired.KindZone, zoneDoc + "    setHeaders:\n      - name: X-A\n        value: 'a\"b'\n",
			[]want{{"frontends[0].setHeaders[0].value", 21, 16, "schema: \"a\\\"b\" is not an allowed header value (at most 256 printable characters without '\"', '\\', '%', '$', '#' or control characters)"}}},
		{"zone header without value", desired.KindZone, zoneDoc + "    setHeaders:\n      - name: X-Empty\n", nil},
		{"zone duplicate owns", desired.KindZone, edit(zoneDoc, 11, "    address: 198.18.1.11\n    owns: [v1, v1]"),
			[]want{{"hosts[0].owns", 12, 11, "schema: items [0] and [1] are equal; each may appear once"}}},
		{"zone network not a mapping", desired.KindZone, edit(edit(zoneDoc, 4, ""), 3, "network: lan"),
			[]want{{"network", 3, 10, "schema: expected a mapping, got a string"}}},
		{"zone bad stats refresh", desired.KindZone, zoneDoc + "stats:\n  refresh: 5 seconds\n",
			[]want{{"stats.refresh", 20, 12, `schema: "5 seconds" is not a duration such as 500ms, 2s, 1m30s or 1h`}}},

		{"zone route without a match", desired.KindZone, zoneDoc + "    routes:\n      - backend: be2\n",
			[]want{{"frontends[0].routes[0]", 20, 9, "schema: set at least one of pathPrefix, host"}}},
		{"zone tcp frontend with routes", desired.KindZone, zoneDoc + "    mode: tcp\n    routes:\n      - host: a.example\n        backend: be2\n",
			[]want{{"frontends[0].routes", 20, 5, `schema: field "routes" is not allowed here`}}},
		{"zone frontend connect timeout", desired.KindZone, zoneDoc + "    timeouts:\n      client: 30s\n      connect: 5s\n",
			[]want{{"frontends[0].timeouts.connect", 21, 7, `schema: field "connect" is not allowed here`}}},
		{"zone without hosts", desired.KindZone, strings.Replace(zoneDoc, zoneHosts, "hosts: []\n", 1),
			[]want{{"hosts", 9, 8, "schema: list must have at least 1 item(s), got 0"}}},
		{"zone hosts missing", desired.KindZone, strings.Replace(zoneDoc, zoneHosts, "", 1),
			[]want{{"hosts", 1, 1, `schema: missing required field "hosts"`}}},

		// Backend
		{"backend bad balance", desired.KindBackend, backendDoc + "balance: fastest\n",
			[]want{{"balance", 9, 10, `schema: value must be one of "roundrobin", "static-rr", "leastconn", "first", "source", "uri", "random", got "fastest"`}}},
		{"backend check port out of range", desired.KindBackend, edit(backendDoc, 4, "  port: 70000"),
			[]want{{"check.port", 4, 9, "schema: value must be <= 65535"}}},
		{"backend check port name", desired.KindBackend, edit(backendDoc, 4, "  port: https"),
			[]want{{"check.port", 4, 9, `schema: value must be one of "http", "grpc", "p2p" or an integer`}}},
		{"backend without servers", desired.KindBackend, "kind: Backend\nname: be\nmode: tcp\n",
			[]want{{"", 1, 1, "schema: set at least one of nodes, servers, failover"}}},
		{"backend failover disabled needs no port", desired.KindBackend, backendDoc + "failover:\n  enabled: false\n", nil},
		{"backend client timeout", desired.KindBackend, backendDoc + "timeouts:\n  server: 30s\n  client: 5s\n",
			[]want{{"timeouts.client", 11, 3, `schema: field "client" is not allowed here`}}},
		{"backend check port list", desired.KindBackend, edit(backendDoc, 4, "  port: [1]"),
			[]want{{"check.port", 4, 9, "schema: value must be a string or an integer"}}},
		{"backend server without port", desired.KindBackend, edit(backendDoc, 8, ""),
			[]want{{"servers[0].port", 6, 5, `schema: missing required field "port"`}}},
		{"backend grpc with http node port", desired.KindBackend, backendDoc + "mode: grpc\nnodes:\n  port: http\n",
			[]want{{"nodes.port", 11, 9, `schema: value must be "grpc", got "http"`}}},
		{"backend http with grpc node port", desired.KindBackend, backendDoc + "nodes:\n  port: grpc\n",
			[]want{{"nodes.port", 10, 9, `schema: value must be one of "http", "p2p", got "grpc"`}}},
		{"backend unknown node port reported once", desired.KindBackend, backendDoc + "nodes:\n  port: ssh\n",
			[]want{{"nodes.port", 10, 9, `schema: value must be one of "http", "grpc", "p2p", got "ssh"`}}},
		{"backend tcp check with a path", desired.KindBackend, edit(backendDoc, 4, "  type: tcp\n  path: /health"),
			[]want{{"check.path", 5, 3, `schema: field "path" is not allowed here`}}},
		{"backend tcp with forwardFor", desired.KindBackend, backendDoc + "mode: tcp\nforwardFor: true\n",
			[]want{{"forwardFor", 10, 13, "schema: value must be false, got true"}}},
		{"backend timeout not a duration", desired.KindBackend, backendDoc + "timeouts:\n  server: 30\n",
			[]want{{"timeouts.server", 10, 11, "schema: expected a string, got an integer"}}},
		{"backend failover without port", desired.KindBackend, backendDoc + "failover:\n  enabled: true\n",
			[]want{{"failover.port", 10, 3, `schema: missing required field "port"`}}},
		{"backend server weight", desired.KindBackend, backendDoc + "    weight: -1\n",
			[]want{{"servers[0].weight", 9, 13, "schema: value must be >= 0 (got -1)"}}},
		{"backend bad node mode", desired.KindBackend, backendDoc + "nodes:\n  modes: [full, edge]\n",
			[]want{{"nodes.modes[1]", 10, 17, `schema: value must be one of "full", "storage", "cache", "dac", got "edge"`}}},
		{"backend bad cluster id", desired.KindBackend, backendDoc + "nodes:\n  clusters: ['0x12']\n",
			[]want{{"nodes.clusters[0]", 10, 14, `schema: "0x12" is not 0x followed by 40 lowercase hex digits`}}},

		// Fleet
		{"fleet priority out of range", desired.KindFleet, edit(fleetDoc, 8, "  ownerPriority: 300"),
			[]want{{"keepalived.ownerPriority", 8, 18, "schema: value must be <= 254 (got 300)"}}},
		{"fleet bad duration", desired.KindFleet, edit(fleetDoc, 6, "    connect: 5 s"),
			[]want{{"haproxy.timeouts.connect", 6, 14, `schema: "5 s" is not a duration such as 500ms, 2s, 1m30s or 1h`}}},
		{"fleet long process name", desired.KindFleet, fleetDoc + "  trackProcess: haproxy-with-a-long-name\n",
			[]want{{"keepalived.trackProcess", 9, 17, `schema: "haproxy-with-a-long-name" is not a process name (1 to 15 letters, digits, '.', '_' or '-')`}}},
		{"fleet relative admin socket", desired.KindFleet, edit(fleetDoc, 4, "  adminSocket: run/admin.sock"),
			[]want{{"haproxy.adminSocket", 4, 16, `schema: "run/admin.sock" is not an absolute path of letters, digits, '_', '.' and '-' (no '..', no spaces)`}}},
		{"fleet unknown top-level field", desired.KindFleet, fleetDoc + "zones: []\n",
			[]want{{"zones", 9, 1, `schema: unknown field "zones"`}}},
		{"fleet keepalived not a mapping", desired.KindFleet, edit(edit(fleetDoc, 8, ""), 7, "keepalived: yes"),
			[]want{{"keepalived", 7, 13, "schema: expected a mapping, got a string"}}},
		{"fleet missing name", desired.KindFleet, edit(fleetDoc, 2, ""),
			[]want{{"name", 1, 1, `schema: missing required field "name"`}}},
		{"fleet empty file", desired.KindFleet, "# nothing here\n",
			[]want{{"", 1, 1, "schema: expected a mapping, got nothing (null)"}}},
		{"fleet list at top", desired.KindFleet, "- kind: Fleet\n",
			[]want{{"", 1, 1, "schema: expected a mapping, got a list"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := "test/" + strings.ReplaceAll(tc.name, " ", "_") + ".yaml"
			// Positions from the document alone, and from a Source as the
			// loader records it: both must agree.
			var src desired.Source
			var errs desired.Errors
			desired.DecodeBytes(file, []byte(tc.doc), tc.kind, newModel(tc.kind), &src, &errs)
			for _, s := range []struct {
				name string
				src  desired.Source
			}{{"no source", desired.Source{}}, {"loader source", src}} {
				got := v.Validate(tc.kind, file, []byte(tc.doc), s.src)
				if len(got) != len(tc.want) {
					t.Fatalf("%s: got %d errors, want %d:\n%v", s.name, len(got), len(tc.want), desired.Errors(got))
				}
				for i, w := range tc.want {
					g := got[i]
					if g.File != file || g.Field != w.field || g.Line != w.line || g.Col != w.col || g.Msg != w.msg {
						t.Errorf("%s: error %d = %s:%d:%d %q %q\n want %s:%d:%d %q %q", s.name, i,
							g.File, g.Line, g.Col, g.Field, g.Msg, file, w.line, w.col, w.field, w.msg)
					}
				}
			}
		})
	}
}

func newModel(kind string) any {
	switch kind {
	case desired.KindFleet:
		return &desired.Fleet{}
	case desired.KindZone:
		return &desired.Zone{}
	case desired.KindBackend:
		return &desired.Backend{}
	}
	return &desired.Node{}
}

func TestValidateBadInput(t *testing.T) {
	v := newValidator(t)
	for _, tc := range []struct {
		name, kind, doc, want string
	}{
		{"unknown kind", "Cluster", "kind: Cluster\n", `schema: no schema for kind "Cluster"`},
		{"invalid YAML", desired.KindNode, "name: [a\n", "schema: cannot check: invalid YAML: "},
		{"alias bomb", desired.KindNode, aliasBomb(), "schema: cannot check: document too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := v.Validate(tc.kind, "x.yaml", []byte(tc.doc), desired.Source{})
			if len(got) != 1 || !strings.HasPrefix(got[0].Msg, tc.want) || got[0].File != "x.yaml" {
				t.Errorf("got %v, want one error starting with %q", desired.Errors(got), tc.want)
			}
		})
	}
}

// aliasBomb is a small document whose aliases expand to 10^9 values.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func TestValidateFleetReportsEveryFile(t *testing.T) {
	v := newValidator(t)
	fsys := overlay(t, os.DirFS(exampleFleet), map[string]string{
		"nodes/eu-node-1.yaml": edit(nodeDoc, 8, "httpPort: 70000"),
		"zones/eu/zone.yaml":   strings.Replace(readFile(t, exampleFleet+"/zones/eu/zone.yaml"), "routerId: 51", "routerId: 0", 1),
	})
	f, _ := desired.Decode(fsys)
	got := v.ValidateFleet(fsys, f)
	var lines []string
	for _, e := range got {
		lines = append(lines, fmt.Sprintf("%s:%d:%d: %s: %s", e.File, e.Line, e.Col, e.Field, e.Msg))
	}
	want := []string{
		"nodes/eu-node-1.yaml:8:11: httpPort: schema: value must be <= 65535 (got 70000)",
		"zones/eu/zone.yaml:13:15: vips[0].routerId: schema: value must be >= 1 (got 0)",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("ValidateFleet =\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestConcurrentValidate runs validations in parallel; with -race it checks
// that a Validator is safe for concurrent use.
func TestConcurrentValidate(t *testing.T) {
	v := newValidator(t)
	bad := edit(nodeDoc, 8, "httpPort: 70000")
	var wg sync.WaitGroup
	errc := make(chan string, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				if es := v.Validate(desired.KindNode, "n.yaml", []byte(nodeDoc), desired.Source{}); len(es) != 0 {
					errc <- fmt.Sprintf("valid node rejected: %v", desired.Errors(es))
					return
				}
				if es := v.Validate(desired.KindNode, "n.yaml", []byte(bad), desired.Source{}); len(es) != 1 {
					errc <- fmt.Sprintf("bad node: got %v, want one error", desired.Errors(es))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for e := range errc {
		t.Error(e)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// BenchmarkNew reports the cost of compiling the four schemas.
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := New(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateFleet reports the cost of validating the example fleet
// (11 files).
func BenchmarkValidateFleet(b *testing.B) {
	v, err := New()
	if err != nil {
		b.Fatal(err)
	}
	fsys := os.DirFS(exampleFleet)
	f, errs := desired.Decode(fsys)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	for b.Loop() {
		if es := v.ValidateFleet(fsys, f); len(es) > 0 {
			b.Fatal(desired.Errors(es))
		}
	}
}
