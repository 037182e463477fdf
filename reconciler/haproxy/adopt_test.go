package haproxy_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy/haproxytest"
)

// TestProcessAdoptsMasterOfKilledSupervisor: a master started by a
// supervisor that died (SIGKILL) is adopted by the next Process, not
// duplicated, and stopped by it when its context ends.
func TestProcessAdoptsMasterOfKilledSupervisor(t *testing.T) {
	bin := haproxytest.Bin()
	if _, err := os.Stat(bin); err != nil {
		t.Skip("haproxy not installed")
	}
	dir, err := os.MkdirTemp("", "hxa")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg := filepath.Join(dir, "haproxy.cfg")
	port := haproxytest.FreePort(t)
	conf := fmt.Sprintf("global\n    stats socket %s/admin.sock mode 600 level admin\n    maxconn 100\n\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\nfrontend fe\n    bind 127.0.0.1:%d\n    http-request return status 200\n", dir, port)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	master, pidFile := filepath.Join(dir, "master.sock"), filepath.Join(dir, "haproxy.pid")

	// The "earlier supervisor": a master started directly, never waited for
	// by a Process, as if the agent that started it had been killed.
	orphan := exec.Command(bin, "-W", "-f", cfg, "-S", master, "-p", pidFile)
	orphan.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { orphan.Wait(); close(exited) }()
	t.Cleanup(func() { syscall.Kill(-orphan.Process.Pid, syscall.SIGKILL); <-exited })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := (&haproxy.Process{MasterSocket: master}).Ready(ctx); err != nil {
		t.Fatal(err)
	}

	p := &haproxy.Process{Bin: bin, ConfigPath: cfg, MasterSocket: master, PIDFile: pidFile, StopGrace: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(tlog{t}, nil))}
	runCtx, stop := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(runCtx) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for p.Pid() == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the Process neither adopted nor started a master")
		case <-tick.C:
		}
	}
	if p.Pid() != orphan.Process.Pid {
		t.Fatalf("Process runs master %d, want the adopted %d", p.Pid(), orphan.Process.Pid)
	}
	b, _ := os.ReadFile(pidFile)
	if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid != orphan.Process.Pid {
		t.Fatalf("pid file names %d, want the adopted master %d: a second master was started", pid, orphan.Process.Pid)
	}
	select {
	case err := <-errc:
		t.Fatalf("Run returned while the adopted master runs: %v", err)
	default:
	}
	stop()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("stopping the adopted master: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not return after cancel")
	}
	select {
	case <-exited:
	case <-ctx.Done():
		t.Fatal("the adopted master is still running after Run returned")
	}
}

type tlog struct{ t *testing.T }

func (w tlog) Write(b []byte) (int, error) { w.t.Log(strings.TrimSpace(string(b))); return len(b), nil }
