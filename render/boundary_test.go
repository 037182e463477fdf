package render

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// boundaryCases push one setting of the example fleet to a limit that
// desired.Validate accepts. Random byte fuzzing rarely produces valid YAML
// with such values; these cases check them on purpose.
func boundaryCases() []struct {
	name string
	mut  func(f *desired.Fleet)
} {
	const maxTime = desired.Duration(2147483647 * time.Millisecond)
	intp := func(i int) *int { return &i }
	long := func(unit string, n int) string { return strings.Repeat(unit, n) }
	be := func(f *desired.Fleet, name string) *desired.Backend {
		for _, b := range f.Backends {
			if b.Name == name {
				return b
			}
		}
		panic("no backend " + name)
	}
	cases := []struct {
		name string
		mut  func(f *desired.Fleet)
	}{
		{"nbthread 64", func(f *desired.Fleet) { f.HAProxy.Nbthread = 64 }},
		{"global maxconn 1", func(f *desired.Fleet) { f.HAProxy.Maxconn = 1 }},
		{"longest times", func(f *desired.Fleet) {
			f.HAProxy.HardStopAfter = maxTime
			t := &f.HAProxy.Timeouts
			t.Connect, t.Client, t.Server, t.HTTPRequest, t.HTTPKeepAlive, t.Queue, t.Tunnel, t.Check = maxTime, maxTime, maxTime, maxTime, maxTime, maxTime, maxTime, maxTime
			b := be(f, "ddc_nodes_http")
			b.ServerDefaults.Slowstart = maxTime
			b.Check.Interval = maxTime
			f.Zones[0].Stats.Refresh = maxTime
		}},
		{"shortest check, most rises and falls", func(f *desired.Fleet) {
			c := be(f, "ddc_nodes_http").Check
			c.Interval, c.Rise, c.Fall = desired.Duration(100*time.Millisecond), 100, 100
		}},
		{"odd millisecond times", func(f *desired.Fleet) {
			be(f, "ddc_nodes_http").Timeouts.Server = desired.Duration(1001 * time.Millisecond)
			be(f, "ddc_nodes_http").ServerDefaults.Slowstart = desired.Duration(time.Millisecond)
		}},
		{"weights 0 and 256, no maxconn, huge maxconn", func(f *desired.Fleet) {
			be(f, "ddc_nodes_http").ServerDefaults.Weight = intp(256)
			be(f, "ddc_nodes_http").ServerDefaults.Maxconn = intp(0)
			be(f, "ddc_nodes_grpc").ServerDefaults.Maxconn = intp(desired.MaxMaxconn)
			f.Nodes[0].Weight = intp(0)
			f.Nodes[1].Weight = intp(256)
		}},
		{"largest frontend maxconn", func(f *desired.Fleet) { f.Zones[0].Frontends[0].Maxconn = desired.MaxMaxconn }},
		{"retries 0 and 100", func(f *desired.Fleet) {
			be(f, "ddc_nodes_http").Retries = intp(0)
			be(f, "ddc_nodes_grpc").Retries = intp(100)
		}},
		{"TLS 1.0 minimum, h2 only", func(f *desired.Fleet) {
			f.Zones[0].Frontends[1].TLS.MinVersion = "TLSv1.0"
			f.Zones[0].Frontends[1].TLS.ALPN = []string{"h2"}
		}},
		{"TLS 1.1 minimum, http/1.1 only", func(f *desired.Fleet) {
			f.Zones[0].Frontends[1].TLS.MinVersion = "TLSv1.1"
			f.Zones[0].Frontends[1].TLS.ALPN = []string{"http/1.1"}
		}},
		{"TLS 1.3 minimum, no alpn", func(f *desired.Fleet) {
			f.Zones[0].Frontends[1].TLS.MinVersion = "TLSv1.3"
			f.Zones[0].Frontends[1].TLS.ALPN = nil
		}},
		{"longest header, path and host", func(f *desired.Fleet) {
			fe := f.Zones[0].Frontends[0]
			fe.SetHeaders = append(fe.SetHeaders,
				desired.Header{Name: "X" + long("a-1", 21), Value: long("a (b) [c] {d} <e> ?&|^'-!*+,;=:@/~._ ", 7)[:256]},
				desired.Header{Name: "X-Empty", Value: ""})
			fe.Routes = append(fe.Routes,
				desired.Route{PathPrefix: "/" + long("aZ9._~!*+,;=:@/-", 16)[:255], Backend: "ddc_nodes_http"},
				desired.Route{Host: long("abcdefghi.", 25) + "abc", Backend: "ddc_nodes_http"})
		}},
		{"check path and host header with every allowed character", func(f *desired.Fleet) {
			c := be(f, "ddc_nodes_http").Check
			c.Path = "/a._~!*+,;=:@/-Z9"
			c.HostHeader = "health-check.ddc.example"
			c.Method = "OPTIONS"
			c.ExpectStatus = 599
		}},
		{"static servers at the edges", func(f *desired.Fleet) {
			be(f, "ddc_nodes_http").Servers = []*desired.Server{
				{Name: long("s", 64), Address: long("abcdefghi.", 25) + "abc", Port: 65535, State: "ready"},
				{Name: "v6", Address: "2001:db8::1", Port: 1, Weight: intp(0), State: "ready"},
				{Name: "v4mapped", Address: "::ffff:198.51.100.1", Port: 80, State: "drain"},
				{Name: "maint", Address: "198.51.100.2", Port: 80, Zone: "eu", State: "maint", Backup: true},
			}
		}},
		{"stats paths at the edges", func(f *desired.Fleet) {
			f.Zones[0].Stats.URI = "/" + long("s", 255)
			f.Zones[0].Stats.MetricsPath = "/m;x=1"
		}},
		{"advertInt 10ms, longest preempt delay", func(f *desired.Fleet) {
			f.Keepalived.AdvertInt = desired.Duration(10 * time.Millisecond)
			f.Keepalived.PreemptDelay = desired.Duration(1000 * time.Second)
		}},
		{"advertInt 255s", func(f *desired.Fleet) { f.Keepalived.AdvertInt = desired.Duration(255 * time.Second) }},
		{"advertInt 40.95s", func(f *desired.Fleet) { f.Keepalived.AdvertInt = desired.Duration(40950 * time.Millisecond) }},
		{"priorities at the edges", func(f *desired.Fleet) {
			f.Keepalived.OwnerPriority = 254
			f.Keepalived.TrackWeight = -253
			for _, z := range f.Zones {
				for _, h := range z.Hosts {
					h.Priority = 2
				}
			}
		}},
		{"lowest host priority, no track weight", func(f *desired.Fleet) {
			f.Keepalived.OwnerPriority = 2
			for _, z := range f.Zones {
				for _, h := range z.Hosts {
					h.Priority = 1
				}
			}
		}},
		{"router ids 1 and 255, odd interface names", func(f *desired.Fleet) {
			z := f.Zones[0]
			z.VIPs[0].RouterID, z.VIPs[1].RouterID = 1, 255
			z.VIPs[1].Interface = "a.b_c-d@e"
			z.Hosts[0].Interface = "bond0.100"
		}},
		{"longest track process name", func(f *desired.Fleet) { f.Keepalived.TrackProcess = "haproxy-15chars" }},
	}
	for _, alg := range desired.BalanceAlgorithms() {
		cases = append(cases, struct {
			name string
			mut  func(f *desired.Fleet)
		}{"balance " + alg, func(f *desired.Fleet) {
			for _, b := range f.Backends {
				b.Balance = alg
			}
		}})
	}
	return cases
}

// TestBoundaryValues renders each boundary case and runs the real haproxy -c
// and keepalived -t on every host's configs.
func TestBoundaryValues(t *testing.T) {
	needHAProxy(t)
	keepalived, err := exec.LookPath("keepalived")
	if err != nil {
		t.Skip("keepalived is not installed")
	}
	type rendered struct {
		name  string
		hosts []*Host
	}
	var all []rendered
	var confs [][]byte
	certDir := exampleCertDir(t)
	for _, c := range boundaryCases() {
		f := loadExample(t)
		c.mut(f)
		if errs := desired.Validate(f); len(errs) > 0 {
			t.Errorf("%s: the case is not valid, fix the test:\n%v", c.name, errs.Err())
			continue
		}
		hosts, err := RenderAll(f, Options{FleetDir: exampleDir(t), CrtBase: certDir})
		if err != nil {
			t.Errorf("%s: RenderAll: %v", c.name, err)
			continue
		}
		all = append(all, rendered{c.name, hosts})
		for _, h := range hosts {
			confs = append(confs, h.Keepalived)
		}
	}
	ns := netns(t, interfaces(confs...))
	for _, r := range all {
		t.Run(r.name, func(t *testing.T) {
			for _, h := range r.hosts {
				if err := haproxyCheck(t, h.HAProxy); err != nil {
					t.Errorf("%s: %v", h.Name, err)
				}
				p := writeTemp(t, "keepalived.conf", h.Keepalived)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, keepalived, "-t", "-f", p).CombinedOutput()
				cancel()
				if err != nil {
					t.Errorf("%s: keepalived -t: %v\n%s\n%s", h.Name, err, out, h.Keepalived)
				}
			}
		})
	}
}
