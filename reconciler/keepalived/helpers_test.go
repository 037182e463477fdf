package keepalived

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/ddc-gitops/ddc-gitops/internal/netns"
	"github.com/ddc-gitops/ddc-gitops/internal/netns/netnstest"
)

// The two-host topology of the lab tests: hosts a and b on one bridge.
const (
	vip1    = "198.18.0.100"
	vip2    = "198.18.0.101"
	addrA   = "198.18.0.1"
	addrB   = "198.18.0.2"
	prioA   = 150
	prioB   = 100
	iface   = "eth0"
	waitMax = 30 * time.Second
)

// requireKeepalived skips unless the keepalived binary is installed.
func requireKeepalived(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath(DefaultBin); err != nil {
		t.Skip("skipping: keepalived not found in PATH (apt-get install keepalived)")
	}
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// tbWriter sends log output to t.Log.
type tbWriter struct{ t testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testLogger logs everything in tests and only warnings in benchmarks,
// whose output keepalived's chatter would drown.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelDebug
	if _, ok := t.(*testing.B); ok {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: level}))
}

// confOpts describe one host's hand-written keepalived.conf.
type confOpts struct {
	RouterID string
	Iface    string
	Self     string
	Peer     string
	Prio     int
	Advert   string // advert_int, e.g. "0.2"
	Track    string // vrrp_track_process name; empty for none
	Second   bool   // add a second VRRP instance (VRID 52, vip2)
	Garbage  bool   // add a syntax error
}

var confTmpl = template.Must(template.New("conf").Parse(`global_defs {
  router_id {{.RouterID}}
  vrrp_version 3
}
{{- if .Track}}
vrrp_track_process trk {
  process {{.Track}}
  weight -60
}
{{- end}}
vrrp_instance VI_1 {
  state BACKUP
  interface {{.Iface}}
  virtual_router_id 51
  priority {{.Prio}}
  advert_int {{.Advert}}
  unicast_src_ip {{.Self}}
  unicast_peer {
    {{.Peer}}
  }
  virtual_ipaddress {
    ` + vip1 + `/24 dev {{.Iface}}
  }
{{- if .Track}}
  track_process {
    trk
  }
{{- end}}
{{- if .Garbage}}
  this_is_no_keyword {
{{- end}}
}
{{- if .Second}}
vrrp_instance VI_2 {
  state BACKUP
  interface {{.Iface}}
  virtual_router_id 52
  priority {{.Prio}}
  advert_int {{.Advert}}
  unicast_src_ip {{.Self}}
  unicast_peer {
    {{.Peer}}
  }
  virtual_ipaddress {
    ` + vip2 + `/24 dev {{.Iface}}
  }
}
{{- end}}
`))

func (o confOpts) render(t testing.TB) []byte {
	t.Helper()
	if o.Iface == "" {
		o.Iface = iface
	}
	var b bytes.Buffer
	if err := confTmpl.Execute(&b, o); err != nil {
		t.Fatalf("rendering test config: %v", err)
	}
	return b.Bytes()
}

// node is one lab host running keepalived.
type node struct {
	host *netns.Host
	dir  string
	opts confOpts
	proc *Process
	run  *run
}

// run is one keepalived run of a node.
type run struct {
	done   chan error
	cancel context.CancelFunc
	// killed marks a deliberate Kill: Run's error is then expected.
	killed bool
}

func (n *node) confPath() string { return filepath.Join(n.dir, "keepalived.conf") }

// start writes the node's config and runs a fresh keepalived until the test
// ends; it returns once keepalived is ready.
func (n *node) start(t testing.TB) {
	t.Helper()
	if err := os.WriteFile(n.confPath(), n.opts.render(t), 0o640); err != nil {
		t.Fatal(err)
	}
	p := &Process{
		ConfigPath:  n.confPath(),
		PIDFile:     filepath.Join(n.dir, "run", "keepalived.pid"),
		Netns:       n.host.Netns,
		Logger:      testLogger(t).With("host", n.host.Name),
		StopTimeout: 5 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{done: make(chan error, 1), cancel: cancel}
	go func() { r.done <- p.Run(ctx) }()
	n.proc, n.run = p, r
	t.Cleanup(func() {
		cancel()
		err := <-r.done
		if err != nil && !r.killed {
			t.Errorf("keepalived on %s: %v", n.host.Name, err)
		}
		if pid := p.Pid(); pid != 0 {
			if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("keepalived process group %d on %s survived its Process", pid, n.host.Name)
			}
		}
	})
	rctx, rcancel := context.WithTimeout(context.Background(), waitMax)
	defer rcancel()
	if err := p.Ready(rctx); err != nil {
		t.Fatalf("keepalived on %s not ready: %v", n.host.Name, err)
	}
}

// kill crashes the node's keepalived (SIGKILL to its process group).
func (n *node) kill(t testing.TB) {
	t.Helper()
	n.run.killed = true
	if err := n.proc.Kill(); err != nil {
		t.Fatal(err)
	}
}

// stop stops the node's keepalived as a service stop would (SIGTERM:
// keepalived sends priority-0 adverts and removes its VIPs).
func (n *node) stop() { n.run.cancel() }

// waitExit waits until the node's Run returned.
func (n *node) waitExit(t testing.TB) {
	t.Helper()
	select {
	case err := <-n.run.done:
		n.run.done <- err // for the cleanup
	case <-time.After(waitMax):
		t.Fatalf("keepalived on %s still running", n.host.Name)
	}
}

// pair builds hosts a (priority 150) and b (100) on one bridge with the
// given advert_int and, if track is set, a tracked helper process per host.
func pair(t testing.TB, advert string, track bool) (a, b *node) {
	t.Helper()
	requireKeepalived(t)
	lab := netnstest.NewLab(t)
	ctx := testCtx(t, waitMax)
	mk := func(name, self, peer string, prio int) *node {
		h, err := lab.AddHost(ctx, name, netns.Link{Zone: "vrrp", Addr: netip.MustParsePrefix(self + "/24")})
		if err != nil {
			t.Fatal(err)
		}
		n := &node{host: h, dir: t.TempDir(), opts: confOpts{
			RouterID: name, Self: self, Peer: peer, Prio: prio, Advert: advert,
		}}
		if track {
			// A process name no other test uses: keepalived tracks
			// processes by name across the whole machine.
			n.opts.Track = lab.Prefix() + "-" + name
		}
		return n
	}
	return mk("a", addrA, addrB, prioA), mk("b", addrB, addrA, prioB)
}

// waitHolder waits until exactly want (of a and b) holds vip.
func waitHolder(t testing.TB, vip string, want *node, nodes ...*node) {
	t.Helper()
	ctx := testCtx(t, waitMax)
	var names []string
	for _, n := range nodes {
		names = append(names, n.host.Netns)
	}
	tick := time.NewTicker(statePoll)
	defer tick.Stop()
	for {
		got, err := Holders(ctx, iface, vip, names...)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 && got[0] == want.host.Netns {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("VIP %s held by %v, want only %s", vip, got, want.host.Netns)
		case <-tick.C:
		}
	}
}

// trackedProcess runs a copy of sleep named name (the kernel's comm, which
// vrrp_track_process matches) in ns until the test ends.
func trackedProcess(t testing.TB, ns, name string) *exec.Cmd {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), name)
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := netns.Command(context.Background(), ns, bin, "infinity")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	// Running once the comm is name (ip netns exec has exec'd into it).
	deadline := time.Now().Add(waitMax)
	for {
		if _, st, ok := lookup(cmd.Process.Pid); ok && st.comm == name {
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatalf("tracked process %s never started", name)
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
}

func fileEquals(t testing.TB, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s changed:\n%s\nwant:\n%s", path, got, want)
	}
}

func childPids(t testing.TB, pid int) string {
	t.Helper()
	p, _, ok := lookup(pid)
	if !ok {
		t.Fatalf("pid %d not running", pid)
	}
	kids, err := children(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(kids)
}
