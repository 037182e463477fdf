package render

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestReadBackendsExamples reads every example host's haproxy.cfg back with
// client-native's parser and expects exactly the rendered Backends.
func TestReadBackendsExamples(t *testing.T) {
	hosts, err := RenderAll(loadExample(t), Options{FleetDir: goldenFleetDir})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		got, err := readBackends(h.HAProxy)
		if err != nil {
			t.Fatalf("%s: ReadBackends: %v", h.Name, err)
		}
		if !reflect.DeepEqual(got, h.Backends) {
			t.Errorf("%s: read back\n%s\nwant\n%s", h.Name, dumpBackends(got), dumpBackends(h.Backends))
		}
	}
}

// TestReadBackendsCases reads back the case hosts, whose drained servers
// lose their configured weight in the file: each server's Line() must
// round-trip, and its fields too once drain is normalised to weight 0.
func TestReadBackendsCases(t *testing.T) {
	for _, rc := range allRendered(t) {
		got, err := readBackends(rc.host.HAProxy)
		if err != nil {
			t.Fatalf("%s: ReadBackends: %v", rc.name, err)
		}
		want := normalizeDrain(rc.host.Backends)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: read back\n%s\nwant\n%s", rc.name, dumpBackends(got), dumpBackends(want))
		}
		for i := range got {
			for j := range got[i].Servers {
				if g, w := got[i].Servers[j].Line(), rc.host.Backends[i].Servers[j].Line(); g != w {
					t.Errorf("%s: backend %s: line read back as\n  %s\nwant\n  %s", rc.name, got[i].Name, g, w)
				}
			}
		}
	}
}

// normalizeDrain is what a file can tell: weight 0 is drain.
func normalizeDrain(in []Backend) []Backend {
	out := make([]Backend, len(in))
	for i, b := range in {
		out[i] = b
		out[i].Servers = append([]Server(nil), b.Servers...)
		for j := range out[i].Servers {
			s := &out[i].Servers[j]
			if s.State == "drain" {
				s.Weight = 0
			}
			if s.Weight == 0 && s.State == "ready" {
				s.State = "drain"
			}
		}
	}
	return out
}

func TestReadBackendsHandWritten(t *testing.T) {
	cfg := `global
    maxconn 100
defaults
    mode http
backend empty
    balance static-rr
backend be
    balance roundrobin
    server a 10.0.0.1:80 weight 7 maxconn 9 slowstart 1500ms check port 81 inter 2s rise 4 fall 5 check-proto h1
    server b [2001:db8::1]:443 weight 1 ssl verify none sni str(b.example) alpn h2 check check-ssl check-sni b.example disabled
    server c web.example:8080 weight 3 backup
`
	got, err := readBackends([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	want := []Backend{
		{Name: "empty", Balance: "static-rr", Dynamic: false},
		{Name: "be", Balance: "roundrobin", Dynamic: true, Servers: []Server{
			{Name: "a", Address: "10.0.0.1", Port: 80, Weight: 7, Maxconn: 9, Slowstart: 1500e6, Check: true, CheckPort: 81,
				Inter: 2e9, Rise: 4, Fall: 5, CheckProto: "h1", State: "ready"},
			{Name: "b", Address: "2001:db8::1", Port: 443, Weight: 1, SSL: true, SNI: "b.example", ALPN: "h2", Check: true,
				CheckSSL: true, State: "maint"},
			{Name: "c", Address: "web.example", Hostname: true, Port: 8080, Weight: 3, Backup: true, State: "ready"},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back\n%s\nwant\n%s", dumpBackends(got), dumpBackends(want))
	}
}

func dumpBackends(bs []Backend) string {
	var b strings.Builder
	for _, be := range bs {
		fmt.Fprintf(&b, "  backend %s balance=%s dynamic=%v\n", be.Name, be.Balance, be.Dynamic)
		for _, s := range be.Servers {
			fmt.Fprintf(&b, "    %+v\n", s)
		}
	}
	return b.String()
}
