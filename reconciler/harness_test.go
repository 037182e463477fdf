package reconciler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy/haproxytest"
	"github.com/ddc-gitops/ddc-gitops/reconciler/keepalived"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
)

// nodeFarm is a set of real HTTP servers on loopback standing in for DDC
// nodes: /health answers 200, everything else names the node.
type nodeFarm struct {
	ports []int
	// failing turns the strict farm's flakyPath from 200 to 503 (a data
	// plane that breaks when a test says so, not at a check's random first run).
	failing atomic.Bool
}

func newNodeFarm(t testing.TB, n int) *nodeFarm {
	t.Helper()
	f := &nodeFarm{}
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("n-%03d", i)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/health" {
				io.WriteString(w, `{"status":"healthy"}`)
				return
			}
			io.WriteString(w, name)
		}), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
		f.ports = append(f.ports, l.Addr().(*net.TCPAddr).Port)
	}
	return f
}

// fleet is a one-zone, one-host desired state on loopback.
type fleet struct {
	fePort, statsPort int
	farm              *nodeFarm
	extraFrontend     string // appended to the zone's frontends
	balance           string
	checkInterval     string // default 100ms
	ownerPriority     int    // keepalived.ownerPriority, default 150
}

func (f *fleet) files(nodes []int) map[string][]byte {
	balance := f.balance
	if balance == "" {
		balance = "roundrobin"
	}
	inter := f.checkInterval
	if inter == "" {
		inter = "100ms"
	}
	prio := f.ownerPriority
	if prio == 0 {
		prio = 150
	}
	files := map[string][]byte{
		"fleet.yaml": []byte(`kind: Fleet
name: t
haproxy:
  hardStopAfter: 5s
  maxconn: 4096
  crtBase: /nonexistent-certs
  serverDefaults:
    slowstart: 0s
keepalived:
  advertInt: 200ms
  ownerPriority: ` + strconv.Itoa(prio) + `
addressPolicy:
  allowLoopback: true
`),
		"zones/lo/zone.yaml": []byte(fmt.Sprintf(`kind: Zone
name: lo
network:
  cidr: 198.18.100.0/24
vips:
  - name: lo-vip
    address: 198.18.100.100
    routerId: 10
hosts:
  - name: h1
    address: 198.18.100.11
    owns: [lo-vip]
frontends:
  - name: web
    binds:
      - address: 127.0.0.1
        port: %d
    defaultBackend: be
%sstats:
  bind:
    address: 127.0.0.1
    port: %d
`, f.fePort, f.extraFrontend, f.statsPort)),
		"backends/be.yaml": []byte(`kind: Backend
name: be
balance: ` + balance + `
check:
  interval: ` + inter + `
  rise: 1
  fall: 2
nodes:
  port: http
`),
	}
	for _, i := range nodes {
		files[nodePath(i)] = nodeFile(i, f.farm.ports[i], 100)
	}
	return files
}

// stablePort returns a free loopback port below Linux's ephemeral range
// (32768-60999), so the many ephemeral sockets of the test (node servers,
// clients) cannot take it between now and haproxy's bind.
func stablePort(t testing.TB) int {
	t.Helper()
	for range 200 {
		p := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no free port in 20000-32000")
	return 0
}

func nodePath(i int) string { return fmt.Sprintf("nodes/n-%03d.yaml", i) }

func nodeFile(i, port, weight int) []byte {
	return []byte(fmt.Sprintf(`kind: Node
name: n-%03d
pubKey: 0x%064x
providerId: 0x%064x
clusterId: 0x%040x
host: 127.0.0.1
domain: n-%03d.test
httpPort: %d
grpcPort: 9091
p2pPort: 9070
mode: storage
zone: lo
weight: %d
admitted: true
`, i, i+1, 7, 9, i, port, weight))
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// harness is a real haproxy (master-worker) run from the rendered config, a
// git server holding the fleet, and an in-process agent.
type harness struct {
	t     testing.TB
	git   *gitserver.Server
	fleet *fleet
	dir   string
	paths HAProxyPaths
	state string
	proc  *haproxy.Process
	agent *Agent
	rt    *haproxy.Runtime
	m     *haproxy.Master
}

type harnessOpts struct {
	nodes         int // nodes in the farm
	seed          []int
	debounce      time.Duration
	checkInterval string
	// keepalived, when set, is started after the bootstrap and managed by the agent.
	keepalived *keepalived.Process
	// haproxyAlias, when set, is the path haproxy is started as (Process.Alias).
	haproxyAlias string
}

func newHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	if _, err := os.Stat(haproxytest.Bin()); err != nil {
		t.Skip("haproxy not installed (make test installs it)")
	}
	dir, err := os.MkdirTemp("", "ag") // short: unix socket paths are limited to 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	h := &harness{
		t:   t,
		git: gitservertest.New(t, gitserver.Options{}),
		dir: dir,
		fleet: &fleet{
			farm:          newNodeFarm(t, o.nodes),
			fePort:        stablePort(t),
			statsPort:     stablePort(t),
			checkInterval: o.checkInterval,
		},
		paths: HAProxyPaths{
			Bin:          haproxytest.Bin(),
			ConfigPath:   filepath.Join(dir, "haproxy.cfg"),
			MasterSocket: filepath.Join(dir, "master.sock"),
			AdminSocket:  filepath.Join(dir, "admin.sock"),
		},
		state: filepath.Join(dir, "state"),
	}
	gitservertest.MustCommit(t, h.git, h.fleet.files(o.seed), nil, "seed")
	h.agent = h.newAgent(o.debounce)
	if o.keepalived != nil {
		h.agent.cfg.Keepalived = o.keepalived.Driver()
	}
	ctx := testCtx(t, 30*time.Second)
	if err := h.agent.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	h.startHAProxy(o.haproxyAlias)
	if o.keepalived != nil {
		startKeepalived(t, o.keepalived)
	}
	h.rt = &haproxy.Runtime{Socket: h.paths.AdminSocket}
	h.m = haproxy.NewMaster(h.paths.MasterSocket, nil)
	out := h.agent.ReconcileOnce(ctx) // seeded servers wait for their first check
	if out.Err != nil || !out.Converged {
		t.Fatalf("first reconcile: %+v", out)
	}
	return h
}

func (h *harness) newAgent(debounce time.Duration) *Agent {
	return h.newAgentWith(func(c *Config) {
		if debounce > 0 {
			c.ReloadDebounce = debounce
		}
	})
}

// newAgentWith is newAgent with the test's config changes.
func (h *harness) newAgentWith(change func(*Config)) *Agent {
	h.t.Helper()
	cfg := Config{
		Host:           "h1",
		Source:         &source.Source{URL: h.git.URL(), Dir: filepath.Join(h.dir, "src")},
		StateDir:       h.state,
		HAProxy:        h.paths,
		ReloadDebounce: 300 * time.Millisecond,
		DriftInterval:  DriftCheckAlways, // tests that want the schedule set it
		AdmitTimeout:   10 * time.Second,
		DrainTimeout:   5 * time.Second,
		RetryMin:       50 * time.Millisecond,
		RetryMax:       time.Second,
		Logger:         slog.New(slog.NewTextHandler(testWriter{h.t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Registry:       prometheus.NewRegistry(),
	}
	change(&cfg)
	a, err := New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	return a
}

func startKeepalived(t testing.TB, p *keepalived.Process) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-errc:
		case <-time.After(30 * time.Second):
			t.Error("keepalived did not stop")
		}
	})
	if err := p.Ready(testCtx(t, 20*time.Second)); err != nil {
		t.Fatalf("keepalived: %v\n%s", err, strings.Join(p.Output(30), "\n"))
	}
}

func (h *harness) startHAProxy(alias string) {
	t := h.t
	h.proc = &haproxy.Process{
		Bin: h.paths.Bin, ConfigPath: h.paths.ConfigPath, MasterSocket: h.paths.MasterSocket, Alias: alias,
		PIDFile: filepath.Join(h.dir, "haproxy.pid"), Dir: h.dir, StopGrace: 3 * time.Second, KillGrace: 2 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- h.proc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-errc:
		case <-time.After(30 * time.Second):
			t.Error("haproxy did not stop")
		}
	})
	rctx := testCtx(t, 15*time.Second)
	if err := h.proc.Ready(rctx); err != nil {
		t.Fatalf("haproxy: %v\n%s", err, strings.Join(h.proc.Output(30), "\n"))
	}
	in := &haproxytest.Instance{Runtime: &haproxy.Runtime{Socket: h.paths.AdminSocket}, AdminSocket: h.paths.AdminSocket}
	if err := in.WaitAdmin(rctx); err != nil {
		t.Fatal(err)
	}
}

// reloads is the master's reload counter (reloads since it started).
func (h *harness) reloads() int {
	h.t.Helper()
	p, err := h.m.ShowProc(testCtx(h.t, 10*time.Second))
	if err != nil {
		h.t.Fatal(err)
	}
	return p.Master.Reloads
}

// servers returns the runtime servers of backend be.
func (h *harness) servers() map[string]haproxy.ActualServer {
	h.t.Helper()
	all, err := h.rt.ActualServers(testCtx(h.t, 10*time.Second))
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]haproxy.ActualServer{}
	for _, s := range all["be"] {
		out[s.Name] = s
	}
	return out
}

func (h *harness) commit(files map[string][]byte, deletes []string, msg string) string {
	h.t.Helper()
	return gitservertest.MustCommit(h.t, h.git, files, deletes, msg)
}

// reconcile runs reconciles until the host converged on rev (new servers
// pass their first check in the reconciles that follow, as the admission
// watch would trigger them; ReconcileOnce) and fails the test unless it
// does without an error. It returns the first reconcile's outcome.
func (h *harness) reconcile(rev string) Outcome {
	h.t.Helper()
	ctx := testCtx(h.t, 60*time.Second)
	first := h.agent.Reconcile(ctx)
	out := first
	if out.Err == nil && !out.Converged && out.Revision == rev {
		out = h.agent.ReconcileOnce(ctx)
	}
	if out.Err != nil || !out.Converged || out.Revision != rev {
		h.t.Fatalf("reconcile: %+v, want converged on %s", out, short(rev))
	}
	return first
}

func (h *harness) get(path string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d%s", h.fleet.fePort, path))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return string(b), fmt.Errorf("status %s", resp.Status)
	}
	return string(b), err
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		<-tick.C
	}
}
