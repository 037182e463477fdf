package pdns

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
)

var (
	euNet  = netip.MustParsePrefix("198.18.101.0/24")
	usNet  = netip.MustParsePrefix("198.18.102.0/24")
	euVIPs = []string{"127.1.0.100", "127.1.0.101"}
	usVIPs = []string{"127.2.0.100", "127.2.0.101"}
)

// TestAgentGeoAnswersAndFailover applies the zone to a real pdns_server and
// checks the answers per client zone (by EDNS Client Subnet, and by source
// address for the default zone), the failover of a zone whose VIPs fail
// their health checks, its recovery, and that a noop reconcile changes nothing.
func TestAgentGeoAnswersAndFailover(t *testing.T) {
	s := startServer(t)
	port := freePort(t)
	vips := map[string]*vipServer{}
	for _, a := range append(append([]string{}, euVIPs...), usVIPs...) {
		vips[a] = startVIP(t, a, port)
	}
	dir := t.TempDir()
	fleetDir(t, dir, port, "")
	a := newTestAgent(t, s, dir)
	ctx := context.Background()

	out := a.Reconcile(ctx)
	if out.Result != agentapi.ResultApplied || !out.Converged {
		t.Fatalf("first reconcile: %+v", out)
	}
	waitAnswer(t, s, "www.ddc.example", euNet, euVIPs, 10*time.Second)
	waitAnswer(t, s, "www.ddc.example", usNet, usVIPs, 10*time.Second)
	waitAnswer(t, s, "www.ddc.example", netip.Prefix{}, euVIPs, 10*time.Second) // default zone eu

	// The whole EU zone fails its health checks: EU clients get US VIPs.
	for _, a := range euVIPs {
		vips[a].up.Store(false)
	}
	took := waitAnswer(t, s, "www.ddc.example", euNet, usVIPs, 10*time.Second)
	t.Logf("EU down -> EU clients answered US VIPs after %v (health-check interval 1s)", took)
	// One EU VIP back: EU clients get it, and only it.
	vips[euVIPs[1]].up.Store(true)
	took = waitAnswer(t, s, "www.ddc.example", euNet, euVIPs[1:], 10*time.Second)
	t.Logf("one EU VIP back -> EU clients answered it after %v", took)

	if out := a.Reconcile(ctx); out.Result != agentapi.ResultNoop || !out.Converged || len(out.Drift) > 0 {
		t.Fatalf("second reconcile: %+v", out)
	}
	st := a.Status()
	if st.Zone != "ddc.example." || st.AppliedRevision == "" || st.Counts.Reconciles != 2 || st.LastResult != agentapi.ResultNoop {
		t.Errorf("status %+v", st)
	}
}

// TestAgentAddRecordAndDrift: a commit adding a record is answered after one
// reconcile with a higher serial; a hand edit of the zone file is drift,
// reported and corrected (or only reported with --drift=warn).
func TestAgentAddRecordAndDrift(t *testing.T) {
	s := startServer(t)
	dir := t.TempDir()
	fleetDir(t, dir, 8080, "")
	reg := prometheus.NewRegistry()
	a, err := New(Config{Host: "ns1", Source: dirSource(dir), StateDir: t.TempDir(), ConfigDir: s.dir, Query: s.addr, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out1 := a.Reconcile(ctx)
	if out1.Result != agentapi.ResultApplied {
		t.Fatalf("first reconcile: %+v", out1)
	}
	r := Resolver{Addr: s.addr}
	if _, err := r.Addrs(ctx, "api.ddc.example", dns.TypeA, netip.Prefix{}); err == nil || !strings.Contains(err.Error(), "NXDOMAIN") {
		t.Fatalf("api before it is committed: %v", err)
	}

	fleetDir(t, dir, 8080, "    - {name: api, frontend: web}\n")
	start := time.Now()
	out2 := a.Reconcile(ctx)
	if out2.Result != agentapi.ResultApplied || out2.Serial <= out1.Serial {
		t.Fatalf("reconcile after adding api: %+v (serial before %d)", out2, out1.Serial)
	}
	// All VIPs fail their checks here (nothing listens on 8080): every address is answered.
	if got, err := r.Addrs(ctx, "api.ddc.example", dns.TypeA, euNet); err != nil || len(got) != 4 {
		t.Fatalf("api after the reconcile: %v %v", got, err)
	}
	t.Logf("commit to answer (one reconcile: load, render, pdnsutil check, write, reload, verify): %v", time.Since(start))

	zonePath := filepath.Join(s.dir, ZoneFileName("ddc.example."))
	good, err := os.ReadFile(zonePath)
	if err != nil {
		t.Fatal(err)
	}
	hand := bytes.Replace(good, []byte("127.1.0.100"), []byte("127.9.9.9"), -1)
	if err := os.WriteFile(zonePath, hand, 0o644); err != nil {
		t.Fatal(err)
	}
	a.cfg.Drift = DriftWarn
	if out := a.Reconcile(ctx); out.Result != agentapi.ResultNoop || len(out.Drift) == 0 || out.Err == nil {
		t.Fatalf("drift with --drift=warn: %+v", out)
	}
	if now, _ := os.ReadFile(zonePath); !bytes.Equal(now, hand) {
		t.Fatal("--drift=warn changed the zone file")
	}
	a.cfg.Drift = DriftCorrect
	out := a.Reconcile(ctx)
	if out.Result != agentapi.ResultApplied || len(out.Drift) == 0 || out.Serial != out2.Serial {
		t.Fatalf("drift correction: %+v", out)
	}
	if now, _ := os.ReadFile(zonePath); !bytes.Equal(now, good) {
		t.Fatal("the zone file was not put back")
	}
	if v := testutil.ToFloat64(a.metrics.reloads.WithLabelValues("drift")); v != 1 {
		t.Errorf("drift reloads = %v", v)
	}
	if n, err := testutil.GatherAndCount(reg, "ddc_gitops_agent_dns_reconcile_total", "ddc_gitops_agent_dns_serial", "ddc_gitops_agent_dns_records"); err != nil || n < 3 {
		t.Errorf("dns metrics: %d series, %v", n, err)
	}
}

// TestAgentRollbackOnVerifyFailure: a server that does not evaluate LUA
// records (enable-lua-records=no) fails verification; the agent puts back
// the files as they were and reports the revision failed.
func TestAgentRollbackOnVerifyFailure(t *testing.T) {
	s := startServer(t, "enable-lua-records=no")
	dir := t.TempDir()
	fleetDir(t, dir, 8080, "")
	a, err := New(Config{Host: "ns1", Source: dirSource(dir), StateDir: t.TempDir(), ConfigDir: s.dir, Query: s.addr, VerifyTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	named, _ := os.ReadFile(filepath.Join(s.dir, NamedConf))
	out := a.Reconcile(context.Background())
	if out.Result != agentapi.ResultFailed || out.Err == nil || !strings.Contains(out.Err.Error(), "rolled back") {
		t.Fatalf("reconcile: %+v", out)
	}
	t.Logf("failure: %v", out.Err)
	if now, _ := os.ReadFile(filepath.Join(s.dir, NamedConf)); !bytes.Equal(now, named) {
		t.Errorf("named.conf not restored:\n%s", now)
	}
	if _, err := os.Stat(filepath.Join(s.dir, ZoneFileName("ddc.example."))); !os.IsNotExist(err) {
		t.Errorf("the new zone file is left behind: %v", err)
	}
	if st := a.Status(); st.Counts.Rollbacks != 1 || st.AppliedRevision != "" || st.FailedRevision == "" {
		t.Errorf("status %+v", st)
	}
	if resp, err := (Resolver{Addr: s.addr}).Query(context.Background(), "ddc.example.", dns.TypeSOA, netip.Prefix{}); err != nil || resp.Rcode != dns.RcodeRefused {
		t.Errorf("after the rollback the server still serves the zone: %v %v", resp, err)
	}
}

// TestAgentRollbackKeepsLastGood: with a revision applied, a failed apply
// of the next one (the server is down, so the reload fails) leaves the
// last good files; once the server is back the next reconcile applies it.
func TestAgentRollbackKeepsLastGood(t *testing.T) {
	s := startServer(t)
	dir := t.TempDir()
	fleetDir(t, dir, 8080, "")
	a, err := New(Config{Host: "ns1", Source: dirSource(dir), StateDir: t.TempDir(), ConfigDir: s.dir, Query: s.addr, VerifyTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out1 := a.Reconcile(ctx)
	if out1.Result != agentapi.ResultApplied {
		t.Fatalf("first reconcile: %+v", out1)
	}
	zonePath := filepath.Join(s.dir, ZoneFileName("ddc.example."))
	good, _ := os.ReadFile(zonePath)

	s.stopFn()
	fleetDir(t, dir, 8080, "    - {name: api, frontend: web}\n")
	out := a.Reconcile(ctx)
	if out.Result != agentapi.ResultFailed || out.RetryAfter <= 0 {
		t.Fatalf("reconcile with the server down: %+v", out)
	}
	if now, _ := os.ReadFile(zonePath); !bytes.Equal(now, good) {
		t.Fatalf("the last good zone file was not restored")
	}
	s.start(t)
	resp, err := Resolver{Addr: s.addr}.Query(ctx, "ddc.example.", dns.TypeSOA, netip.Prefix{})
	if err != nil || len(resp.Answer) != 1 || resp.Answer[0].(*dns.SOA).Serial != out1.Serial {
		t.Fatalf("restarted server does not serve the last good zone (serial %d): %v %v", out1.Serial, resp, err)
	}
	if out := a.Reconcile(ctx); out.Result != agentapi.ResultApplied || out.Serial <= out1.Serial {
		t.Fatalf("reconcile with the server back: %+v", out)
	}
}

// TestAgentNotANameserver: a host that is not in dns.nameservers stalls.
func TestAgentNotANameserver(t *testing.T) {
	dir := t.TempDir()
	fleetDir(t, dir, 8080, "")
	a, err := New(Config{Host: "ns9", Source: dirSource(dir), StateDir: t.TempDir(), ConfigDir: t.TempDir(), Query: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if out := a.Reconcile(context.Background()); out.Result != agentapi.ResultStalled || !strings.Contains(out.Err.Error(), "not in dns.nameservers") {
		t.Fatalf("%+v", out)
	}
}

// TestReloadsUnderQueryLoad applies revision after revision (a record
// added, then removed) while a client queries www without pause: every
// query is answered NOERROR with addresses, none fails during the reloads.
func TestReloadsUnderQueryLoad(t *testing.T) {
	s := startServer(t)
	dir := t.TempDir()
	fleetDir(t, dir, 8080, "")
	a := newTestAgent(t, s, dir)
	ctx := context.Background()
	if out := a.Reconcile(ctx); out.Result != agentapi.ResultApplied {
		t.Fatalf("first reconcile: %+v", out)
	}
	stop := make(chan struct{})
	type tally struct{ ok, failed int }
	res := make(chan tally, 1)
	go func() {
		var n tally
		r := Resolver{Addr: s.addr}
		for {
			select {
			case <-stop:
				res <- n
				return
			default:
			}
			if got, err := r.Addrs(ctx, "www.ddc.example", dns.TypeA, euNet); err != nil || len(got) == 0 {
				n.failed++
				t.Logf("query failed: %v %v", got, err)
			} else {
				n.ok++
			}
		}
	}()
	for i := range 6 {
		extra := ""
		if i%2 == 0 {
			extra = "    - {name: api, frontend: web}\n"
		}
		fleetDir(t, dir, 8080, extra)
		if out := a.Reconcile(ctx); out.Result != agentapi.ResultApplied {
			close(stop)
			t.Fatalf("reconcile %d: %+v", i, out)
		}
	}
	close(stop)
	n := <-res
	t.Logf("%d queries answered, %d failed during 6 zone reloads", n.ok, n.failed)
	if n.failed != 0 || n.ok == 0 {
		t.Errorf("%d queries failed (%d answered)", n.failed, n.ok)
	}
}

// TestServerConfigRefuses: pdns.conf is written only from an absolute
// directory without spaces or '#', an IP address and a valid port.
func TestServerConfigRefuses(t *testing.T) {
	for _, c := range []ServerConfig{
		{Dir: "relative", Address: "127.0.0.1"},
		{Dir: "/tmp/a b", Address: "127.0.0.1"},
		{Dir: "/tmp/a#b", Address: "127.0.0.1"},
		{Dir: "/tmp/x", Address: "127.0.0.1\nlaunch=pipe"},
		{Dir: "/tmp/x", Address: ""},
		{Dir: "/tmp/x", Address: "127.0.0.1", Port: 70000},
	} {
		if text, err := c.Text(); err == nil {
			t.Errorf("%+v rendered:\n%s", c, text)
		}
	}
	text, err := ServerConfig{Dir: "/tmp/x", Address: "::1", Port: 5353, HealthInterval: 3 * time.Second}.Text()
	if err != nil || !strings.Contains(text, "local-address=::1\nlocal-port=5353\n") || !strings.Contains(text, "lua-health-checks-interval=3\n") {
		t.Errorf("%v:\n%s", err, text)
	}
}
