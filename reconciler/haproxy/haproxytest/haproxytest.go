// Package haproxytest starts a real haproxy (master-worker mode) for tests:
// a short temp dir with the config, admin socket and master socket, and a
// t.Cleanup that stops the process and removes the directory even when the
// test fails.
package haproxytest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
)

// Options describe the haproxy to start.
type Options struct {
	// Sections is the configuration after the generated global and defaults
	// sections: frontends, backends, listens.
	Sections string
	// Global holds extra lines for the global section.
	Global string
	// Defaults replaces the body of the generated defaults section
	// (DefaultDefaults when empty).
	Defaults string
	// Bin is the haproxy binary (Bin() when empty).
	Bin string
	// StartTimeout bounds the start (default 15s).
	StartTimeout time.Duration
}

// DefaultDefaults is the defaults section body used unless Options.Defaults
// is set.
const DefaultDefaults = `    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 10s
    retries 3
    option redispatch
`

// Instance is one running haproxy.
type Instance struct {
	// Dir holds the config, the sockets and the PID file.
	Dir          string
	ConfigPath   string
	AdminSocket  string
	MasterSocket string
	PIDFile      string
	Process      *haproxy.Process
	Runtime      *haproxy.Runtime
	Master       *haproxy.Master
	opts         Options
}

// Bin returns the haproxy binary: $HAPROXY_BIN, else haproxy from PATH, else
// /usr/sbin/haproxy.
func Bin() string {
	if b := os.Getenv("HAPROXY_BIN"); b != "" {
		return b
	}
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	return "/usr/sbin/haproxy"
}

// Start writes the config and starts haproxy -W with an admin socket and a
// master socket, waits until the master lists a worker and the admin socket
// answers, and registers the cleanup. It fails the test if haproxy does not
// start.
func Start(t testing.TB, opts Options) *Instance {
	t.Helper()
	if opts.Bin == "" {
		opts.Bin = Bin()
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 15 * time.Second
	}
	// Unix socket paths are limited to 107 bytes: t.TempDir() under a long
	// test name can exceed that, so use a short directory of our own.
	dir, err := os.MkdirTemp("", "hx")
	if err != nil {
		t.Fatalf("haproxytest: temp dir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	logger := slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	in := &Instance{
		Dir:          dir,
		ConfigPath:   filepath.Join(dir, "haproxy.cfg"),
		AdminSocket:  filepath.Join(dir, "admin.sock"),
		MasterSocket: filepath.Join(dir, "master.sock"),
		PIDFile:      filepath.Join(dir, "haproxy.pid"),
		opts:         opts,
	}
	in.Runtime = &haproxy.Runtime{Socket: in.AdminSocket, Logger: logger}
	in.Master = haproxy.NewMaster(in.MasterSocket, logger)
	in.Master.ReloadTimeout = 20 * time.Second
	if err := os.WriteFile(in.ConfigPath, in.Config(opts.Sections), 0o600); err != nil {
		t.Fatalf("haproxytest: writing config: %v", err)
	}
	in.Process = &haproxy.Process{
		Bin:          opts.Bin,
		ConfigPath:   in.ConfigPath,
		MasterSocket: in.MasterSocket,
		PIDFile:      in.PIDFile,
		Dir:          dir,
		StopGrace:    3 * time.Second,
		KillGrace:    2 * time.Second,
		Logger:       logger,
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- in.Process.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("haproxytest: haproxy: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("haproxytest: haproxy did not stop within 30s")
		}
	})

	rctx, rcancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer rcancel()
	if err := in.Process.Ready(rctx); err != nil {
		t.Fatalf("haproxytest: %v\n%s", err, strings.Join(in.Process.Output(30), "\n"))
	}
	if err := in.WaitAdmin(rctx); err != nil {
		t.Fatalf("haproxytest: %v", err)
	}
	return in
}

// Config is the full configuration for sections with this instance's
// global and defaults sections.
func (in *Instance) Config(sections string) []byte {
	defaults := in.opts.Defaults
	if defaults == "" {
		defaults = DefaultDefaults
	}
	var b strings.Builder
	fmt.Fprintf(&b, "global\n    stats socket %s mode 600 level admin\n    stats timeout 1m\n    hard-stop-after 5s\n    maxconn 4096\n", in.AdminSocket)
	if in.opts.Global != "" {
		b.WriteString(strings.TrimRight(in.opts.Global, "\n") + "\n")
	}
	b.WriteString("\ndefaults\n" + strings.TrimRight(defaults, "\n") + "\n\n")
	b.WriteString(strings.TrimRight(sections, "\n") + "\n")
	return []byte(b.String())
}

// WriteSections replaces the config file with sections (for reload tests).
func (in *Instance) WriteSections(t testing.TB, sections string) {
	t.Helper()
	if _, err := haproxy.WriteConfig(in.ConfigPath, in.Config(sections)); err != nil {
		t.Fatalf("haproxytest: %v", err)
	}
}

// WaitAdmin waits until the admin socket answers `show info`.
func (in *Instance) WaitAdmin(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := in.Runtime.Run(cctx, "show info")
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("admin socket %s: %w (last: %v)", in.AdminSocket, ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("haproxytest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// testWriter sends log lines to t.Log.
type testWriter struct {
	mu sync.Mutex
	t  testing.TB
}

var _ io.Writer = (*testWriter)(nil)

func (w *testWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
