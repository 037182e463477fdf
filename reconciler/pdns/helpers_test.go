package pdns

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/ddc-gitops/ddc-gitops/reconciler"
)

// needPDNS skips a test on a machine without PowerDNS.
func needPDNS(t *testing.T) {
	t.Helper()
	for _, bin := range []string{DefaultServerBin, DefaultControlBin, DefaultUtilBin} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (pdns-server, pdns-backend-bind)", bin)
		}
	}
}

// freePort returns a port free for both UDP and TCP on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// server is a real pdns_server the test started, in its own directory.
type server struct {
	dir    string
	addr   string
	proc   *Process
	stopFn func()
}

// startServer writes pdns.conf (plus extra lines) into a new directory and
// runs pdns_server on a free loopback port until the test ends.
func startServer(t *testing.T, extra ...string) *server {
	t.Helper()
	needPDNS(t)
	dir := t.TempDir()
	port := freePort(t)
	c := ServerConfig{Dir: dir, Address: "127.0.0.1", Port: port, HealthInterval: time.Second}
	if err := c.Write(); err != nil {
		t.Fatal(err)
	}
	if len(extra) > 0 {
		f, err := os.OpenFile(filepath.Join(dir, "pdns.conf"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(f, strings.Join(extra, "\n"))
		f.Close()
	}
	s := &server{dir: dir, addr: "127.0.0.1:" + strconv.Itoa(port)}
	s.start(t)
	return s
}

func (s *server) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &Process{ConfigDir: s.dir, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer rcancel()
	if err := p.Ready(rctx); err != nil {
		stop()
		t.Fatalf("pdns_server: %v", err)
	}
	s.proc = p
	t.Cleanup(stop)
	s.stopFn = stop
}

// fleetDir writes a fleet whose VIPs are loopback addresses served by the
// test's HTTP health endpoints (one port for every VIP), with extra appended
// to the dns block's records.
func fleetDir(t *testing.T, dir string, port int, records string) {
	t.Helper()
	files := map[string]string{
		"fleet.yaml": `kind: Fleet
name: t
addressPolicy: {allowLoopback: true}
dns:
  zone: ddc.example.
  ttl: 5
  defaultZone: eu
  nameservers:
    - {name: ns1, address: 127.0.53.1}
  records:
    - {name: www, frontend: web}
` + records,
		"backends/web.yaml": `kind: Backend
name: web
servers:
  - {name: s1, address: 127.0.9.1, port: 8080}
`,
	}
	for i, z := range []string{"eu", "us"} {
		files["zones/"+z+"/zone.yaml"] = fmt.Sprintf(`kind: Zone
name: %[1]s
network: {name: %[1]s-lan, cidr: 127.%[2]d.0.0/16}
clientNetworks: [198.18.10%[2]d.0/24]
vips:
  - {name: %[1]s-vip-1, address: 127.%[2]d.0.100, routerId: 1}
  - {name: %[1]s-vip-2, address: 127.%[2]d.0.101, routerId: 2}
hosts:
  - {name: %[1]s-haproxy-1, address: 127.%[2]d.0.11, owns: [%[1]s-vip-1, %[1]s-vip-2]}
frontends:
  - name: web
    binds: [{port: %[3]d}]
    defaultBackend: web
`, z, i+1, port)
	}
	for p, data := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// vipServer is an HTTP server on one loopback VIP answering /health with
// 200 while up is set (else 503).
type vipServer struct {
	up  atomic.Bool
	srv *http.Server
}

func startVIP(t *testing.T, addr string, port int) *vipServer {
	t.Helper()
	v := &vipServer{}
	v.up.Store(true)
	l, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("listening on %s: %v", addr, err)
	}
	v.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v.up.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})}
	go func() { _ = v.srv.Serve(l) }()
	t.Cleanup(func() { _ = v.srv.Close() })
	return v
}

func dirSource(dir string) *reconciler.DirSource { return &reconciler.DirSource{Dir: dir} }

// newTestAgent is an agent for the server s following the fleet directory dir.
func newTestAgent(t *testing.T, s *server, dir string) *Agent {
	t.Helper()
	a, err := New(Config{Host: "ns1", Source: &reconciler.DirSource{Dir: dir}, StateDir: t.TempDir(), ConfigDir: s.dir,
		Query: s.addr, VerifyTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// waitAnswer waits until name answers exactly want (sorted) for subnet.
func waitAnswer(t *testing.T, s *server, name string, subnet netip.Prefix, want []string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	r := Resolver{Addr: s.addr}
	var last string
	for time.Since(start) < timeout {
		got, err := r.Addrs(context.Background(), name, dns.TypeA, subnet)
		last = fmt.Sprint(got, err)
		if err == nil && fmt.Sprint(got) == fmt.Sprint(mustAddrs(want)) {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition with a deadline
	}
	t.Fatalf("%s (subnet %v) answers %s, want %v after %v", name, subnet, last, want, timeout)
	return 0
}

func mustAddrs(ss []string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// testWriter sends a child's log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
