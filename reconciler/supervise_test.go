package reconciler

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy/haproxytest"
)

// superviseEnv is an agent (for its logs and metrics) and a minimal
// haproxy config answering 200 on a free port, in a short temp dir.
type superviseEnv struct {
	a                     *Agent
	dir, cfg, master, pid string
	alias                 string
	port                  int
	mu                    sync.Mutex
	masters               []int    // the master of each instance that served
	argv0s                []string // its argv[0]
}

func newSuperviseEnv(t *testing.T, conf string) *superviseEnv {
	t.Helper()
	if _, err := os.Stat(haproxytest.Bin()); err != nil {
		t.Skip("haproxy not installed (make test installs it)")
	}
	dir, err := os.MkdirTemp("", "sv") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	e := &superviseEnv{dir: dir, cfg: filepath.Join(dir, "haproxy.cfg"), master: filepath.Join(dir, "master.sock"),
		pid: filepath.Join(dir, "haproxy.pid"), alias: filepath.Join(dir, "bin", "haproxy"), port: haproxytest.FreePort(t)}
	if conf == "" {
		conf = fmt.Sprintf("global\n    maxconn 100\n\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n"+
			"frontend fe\n    bind 127.0.0.1:%d\n    http-request return status 200\n", e.port)
	}
	if err := os.WriteFile(e.cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	e.a, err = New(Config{Host: "h1", Source: &DirSource{Dir: dir}, StateDir: filepath.Join(dir, "state"),
		RestartMin: 50 * time.Millisecond, RestartMax: 200 * time.Millisecond, Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// supervised is haproxy started as e.alias, recording each master that serves.
func (e *superviseEnv) supervised(t *testing.T) Supervised {
	return Supervised{
		Name: "haproxy",
		New: func() Child {
			return &haproxy.Process{Bin: haproxytest.Bin(), ConfigPath: e.cfg, MasterSocket: e.master, PIDFile: e.pid,
				Alias: e.alias, StopGrace: 3 * time.Second, KillGrace: 2 * time.Second,
				Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
		},
		OnReady: func(_ context.Context, c Child) error {
			p := c.(*haproxy.Process)
			argv0, err := p.MasterArgv0()
			if err != nil {
				return err
			}
			e.mu.Lock()
			e.masters, e.argv0s = append(e.masters, p.Pid()), append(e.argv0s, argv0)
			e.mu.Unlock()
			return nil
		},
	}
}

func (e *superviseEnv) served() ([]int, []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]int(nil), e.masters...), append([]string(nil), e.argv0s...)
}

// start runs Supervise until the test ends and returns the outcome of
// its first start, and a function that waits for Supervise to return.
func (e *superviseEnv) start(t *testing.T, s Supervised) (firstErr error, wait func() (error, bool)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	up, fin := make(chan error, 1), make(chan struct{})
	var res error
	go func() { res = e.a.Supervise(ctx, s, up); close(fin) }()
	wait = func() (error, bool) {
		select {
		case <-fin:
			return res, true
		case <-time.After(30 * time.Second):
			return nil, false
		}
	}
	t.Cleanup(func() {
		cancel()
		if _, ok := wait(); !ok {
			t.Error("Supervise did not return within 30s of cancel")
		}
	})
	select {
	case err := <-up:
		return err, wait
	case <-time.After(30 * time.Second):
		t.Fatal("no outcome for the first start within 30s")
	}
	return nil, wait
}

// restarts reads ddc_gitops_agent_process_restarts_total{process="haproxy"}.
func (e *superviseEnv) restarts(t *testing.T) float64 {
	t.Helper()
	var m dto.Metric
	if err := e.a.metrics.restarts.WithLabelValues("haproxy").Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// TestSuperviseRestartsHAProxy: a haproxy master left by a killed agent is
// adopted (not duplicated); when it dies (SIGKILL) Supervise starts a new
// one, as the alias path, counts the restart and serves again; a second
// crash is handled the same way; cancel stops the last one.
func TestSuperviseRestartsHAProxy(t *testing.T) {
	e := newSuperviseEnv(t, "")
	orphan := exec.Command(haproxytest.Bin(), "-W", "-f", e.cfg, "-S", e.master, "-p", e.pid)
	orphan.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	reaped := make(chan struct{})
	go func() { _ = orphan.Wait(); close(reaped) }()
	t.Cleanup(func() { _ = syscall.Kill(-orphan.Process.Pid, syscall.SIGKILL); <-reaped })
	if err := (&haproxy.Process{MasterSocket: e.master}).Ready(testCtx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}

	if err, _ := e.start(t, e.supervised(t)); err != nil {
		t.Fatalf("first start: %v", err)
	}
	masters, argv0s := e.served()
	if len(masters) != 1 || masters[0] != orphan.Process.Pid || argv0s[0] != haproxytest.Bin() {
		t.Fatalf("served masters %v as %v; want the adopted %d as %s", masters, argv0s, orphan.Process.Pid, haproxytest.Bin())
	}
	get := func() error {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/", e.port))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	}
	for crash := 1; crash <= 2; crash++ {
		dead := masters[len(masters)-1]
		if err := syscall.Kill(dead, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, fmt.Sprintf("a new master after crash %d", crash), func() bool {
			m, _ := e.served()
			return len(m) == crash+1
		})
		masters, argv0s = e.served()
		now := masters[crash]
		if now == dead || !alive(now) {
			t.Fatalf("after crash %d: master %d (dead one %d) alive=%v", crash, now, dead, alive(now))
		}
		if argv0s[crash] != e.alias {
			t.Errorf("restarted master runs as %q, want the alias %s", argv0s[crash], e.alias)
		}
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", now)); strings.TrimSpace(string(comm)) != "haproxy" {
			t.Errorf("restarted master's process name is %q, want haproxy", comm)
		}
		if pid, err := os.ReadFile(e.pid); err != nil || strings.TrimSpace(string(pid)) != fmt.Sprint(now) {
			t.Errorf("pid file names %q (%v), want %d", pid, err, now)
		}
		if got := e.restarts(t); got != float64(crash) {
			t.Errorf("ddc_gitops_agent_process_restarts_total{process=haproxy} = %v, want %d", got, crash)
		}
		if err := get(); err != nil {
			t.Errorf("restarted haproxy does not serve: %v", err)
		}
	}
}

// TestSuperviseFirstStartFails: a haproxy that cannot start the first time
// is reported on up and ends Supervise (no restart loop at boot).
func TestSuperviseFirstStartFails(t *testing.T) {
	e := newSuperviseEnv(t, "global\n    no_such_keyword\n")
	err, wait := e.start(t, e.supervised(t))
	if err == nil || !strings.Contains(err.Error(), "starting haproxy") || !strings.Contains(err.Error(), "no_such_keyword") {
		t.Fatalf("first start: %v; want an error starting haproxy that quotes haproxy's complaint", err)
	}
	if err, returned := wait(); !returned || err == nil {
		t.Fatalf("Supervise after a failed first start: returned %v with %v; want it to end with the error", returned, err)
	}
	if got := e.restarts(t); got != 0 {
		t.Fatalf("restarts = %v after a failed first start, want 0", got)
	}
}
