package haproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ddc-gitops/ddc-gitops/internal/netns"
)

// Process runs haproxy in master-worker mode in the foreground
// (`haproxy -W -f CONFIG -S MASTERSOCK -p PIDFILE`; without -D the master
// stays in the foreground) and logs its output. It is for the agent's
// --supervise mode, the lab and tests; on a host managed by systemd the unit
// runs haproxy instead. A Process runs once; it must not be copied.
type Process struct {
	// Bin is the haproxy binary (default "haproxy" from PATH).
	Bin string
	// ConfigPath is the configuration file.
	ConfigPath string
	// MasterSocket is the master CLI socket path (-S).
	MasterSocket string
	// PIDFile receives the master's PID (-p); optional.
	PIDFile string
	// Dir is haproxy's working directory (relative paths in the config
	// resolve against it); empty: the caller's.
	Dir string
	// ExtraArgs are appended to the command line.
	ExtraArgs []string
	// Alias, when set, is the path haproxy is started as: a symlink to Bin
	// (resolved in PATH) that Run creates or corrects. The master and its
	// workers carry it as argv[0], also after every reload (the master
	// re-executes its argv[0], inserting -sf/-x after it), so keepalived's
	// vrrp_track_process with full_command tells this haproxy from any
	// other one on the machine. Name it .../haproxy: the process name
	// (comm) is the link's base name.
	Alias string
	// Netns runs haproxy in that network namespace (`ip netns exec NS`,
	// which execs in place: the pid stays haproxy's); empty: the caller's.
	Netns string
	// StopGrace is how long a soft stop (SIGUSR1: finish running sessions)
	// may take before SIGTERM (default 10s; set it above the config's
	// hard-stop-after to let sessions end by themselves); KillGrace how long
	// SIGTERM may take before SIGKILL (default 5s).
	StopGrace, KillGrace time.Duration
	// Logger receives haproxy's output lines: [NOTICE] as info,
	// [WARNING] as warn, [ALERT] as error. Nil discards them.
	Logger *slog.Logger

	mu      sync.Mutex
	pid     int // the master's, started or adopted
	started bool
	done    chan struct{}
	exitErr error
	tail    []string
}

// tailLines is how many output lines a Process keeps for Output.
const tailLines = 200

// Args is haproxy's command line after the binary.
func (p *Process) Args() []string {
	args := []string{"-W", "-f", p.ConfigPath, "-S", p.MasterSocket}
	if p.PIDFile != "" {
		args = append(args, "-p", p.PIDFile)
	}
	return append(args, p.ExtraArgs...)
}

// Run starts haproxy and blocks until it exits. When ctx is cancelled it
// stops haproxy: SIGUSR1 (soft stop), SIGTERM after StopGrace, SIGKILL after
// KillGrace, and returns nil once it exited. If haproxy exits by itself, Run
// returns an error with its exit status and last output lines.
func (p *Process) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return errors.New("haproxy process: Run called twice")
	}
	p.started = true
	p.done = make(chan struct{})
	p.mu.Unlock()
	err := p.run(ctx)
	p.mu.Lock()
	p.exitErr = err
	close(p.done)
	p.mu.Unlock()
	return err
}

func (p *Process) run(ctx context.Context) error {
	if p.ConfigPath == "" || p.MasterSocket == "" {
		return errors.New("haproxy process: ConfigPath and MasterSocket are required")
	}
	bin := p.Bin
	if bin == "" {
		bin = "haproxy"
	}
	if pid, ok := p.adoptable(ctx); ok {
		return p.adopt(ctx, pid)
	}
	if ctx.Err() != nil {
		return nil // stopped before anything started
	}
	exe := bin
	if p.Alias != "" {
		if err := linkAlias(p.Alias, bin); err != nil {
			return err
		}
		exe = p.Alias
	}
	// Not tied to ctx: a cancel stops haproxy gracefully below.
	cmd := netns.Command(context.Background(), p.Netns, exe, p.Args()...)
	cmd.Dir = p.Dir
	out := &lineLogger{p: p}
	cmd.Stdout, cmd.Stderr = out, out
	// Workers inherit the output pipe; do not let a stray one block Wait.
	cmd.WaitDelay = 2 * time.Second
	// Its own process group: a Ctrl-C on the agent's terminal reaches the
	// agent only, which then stops haproxy gracefully through ctx.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", exe, err)
	}
	p.setPid(cmd.Process.Pid)
	log := p.logger().With("pid", cmd.Process.Pid)
	log.Info("haproxy started", "exe", exe, "netns", p.Netns, "args", strings.Join(p.Args(), " "))

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	select {
	case err := <-waited:
		out.flush()
		return fmt.Errorf("haproxy exited by itself (%v); last output:\n%s", err, strings.Join(p.Output(20), "\n"))
	case <-ctx.Done():
	}

	steps := []struct {
		sig   syscall.Signal
		grace time.Duration
	}{
		{syscall.SIGUSR1, orDefault(p.StopGrace, 10*time.Second)},
		{syscall.SIGTERM, orDefault(p.KillGrace, 5*time.Second)},
		{syscall.SIGKILL, 5 * time.Second},
	}
	for _, st := range steps {
		log.Info("stopping haproxy", "signal", st.sig.String())
		if err := cmd.Process.Signal(st.sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			log.Warn("signalling haproxy", "signal", st.sig.String(), "err", err)
		}
		t := time.NewTimer(st.grace)
		select {
		case err := <-waited:
			t.Stop()
			out.flush()
			log.Info("haproxy stopped", "status", fmt.Sprint(err))
			return nil
		case <-t.C:
		}
	}
	return errors.New("haproxy did not exit after SIGKILL")
}

// Ready waits until this Process runs a master (started or adopted) whose
// socket answers show proc with a worker, or the process exited, or ctx
// ends. A Process with only MasterSocket set waits for whatever master
// serves that socket.
func (p *Process) Ready(ctx context.Context) error {
	m := &Master{Socket: p.MasterSocket}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	var last error
	for {
		p.mu.Lock()
		done := p.done
		p.mu.Unlock()
		if done != nil {
			select {
			case <-done:
				return fmt.Errorf("haproxy exited before it was ready: %w", p.exitErr)
			default:
			}
		}
		// One attempt per tick: a missing socket is not retried inside.
		actx, cancel := context.WithTimeout(ctx, time.Second)
		info, err := m.showProcOnce(actx)
		cancel()
		// A master left by an earlier supervisor answers before this
		// Process adopted it: wait for the pid too (a Process without a
		// ConfigPath cannot run: it only waits for another's master).
		if err == nil && len(info.Workers) > 0 && (p.Pid() != 0 || p.ConfigPath == "") {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for haproxy master socket %s: %w (last: %v)", p.MasterSocket, ctx.Err(), last)
		case <-t.C:
		}
	}
}

// Output returns up to n of the last output lines.
func (p *Process) Output(n int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n > len(p.tail) {
		n = len(p.tail)
	}
	return append([]string(nil), p.tail[len(p.tail)-n:]...)
}

func (p *Process) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return discardLogger
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// lineLogger splits haproxy's output into lines and logs each.
type lineLogger struct {
	p   *Process
	mu  sync.Mutex
	buf []byte
}

func (l *lineLogger) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.line(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
	return len(b), nil
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.line(string(l.buf))
		l.buf = nil
	}
}

func (l *lineLogger) line(s string) {
	s = strings.TrimRight(s, "\r")
	if s == "" {
		return
	}
	l.p.mu.Lock()
	l.p.tail = append(l.p.tail, s)
	if len(l.p.tail) > tailLines {
		l.p.tail = l.p.tail[len(l.p.tail)-tailLines:]
	}
	l.p.mu.Unlock()
	level := slog.LevelInfo
	switch {
	case strings.HasPrefix(s, "[WARNING]"):
		level = slog.LevelWarn
	case strings.HasPrefix(s, "[ALERT]"):
		level = slog.LevelError
	}
	l.p.logger().Log(context.Background(), level, "haproxy", "line", s)
}

// adoptable reports a master left running by an earlier supervisor (an agent
// killed with SIGKILL): the PID file names a live process that runs this
// config in master-worker mode and answers on the master socket. Adopting
// it keeps serving without a restart and without a second master.
func (p *Process) adoptable(ctx context.Context) (int, bool) {
	if p.PIDFile == "" {
		return 0, false
	}
	b, err := os.ReadFile(p.PIDFile)
	if err != nil {
		p.logger().Debug("no haproxy master to adopt", "pidfile", p.PIDFile, "err", err)
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 1 {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		p.logger().Debug("no haproxy master to adopt", "pid", pid, "err", err)
		return 0, false
	}
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if !slices.Contains(args, "-W") || !slices.Contains(args, p.ConfigPath) {
		p.logger().Debug("not adopting: the pid file names another process", "pid", pid, "cmdline", args)
		return 0, false
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := NewMaster(p.MasterSocket, p.logger()).ShowProc(cctx); err != nil {
		p.logger().Debug("not adopting: the master socket does not answer", "pid", pid, "err", err)
		return 0, false
	}
	return pid, true
}

// adopt supervises a running master it did not start: it watches the pid
// and stops it, like its own, when ctx ends.
func (p *Process) adopt(ctx context.Context, pid int) error {
	p.setPid(pid)
	log := p.logger().With("pid", pid)
	log.Info("adopting the running haproxy master (left by an earlier supervisor)")
	alive := func() bool { return syscall.Kill(pid, 0) == nil && !zombie(pid) }
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for alive() {
		select {
		case <-ctx.Done():
			return p.stopAdopted(pid, alive, log)
		case <-tick.C:
		}
	}
	return fmt.Errorf("the adopted haproxy master %d exited", pid)
}

func (p *Process) stopAdopted(pid int, alive func() bool, log *slog.Logger) error {
	steps := []struct {
		sig   syscall.Signal
		grace time.Duration
	}{
		{syscall.SIGUSR1, orDefault(p.StopGrace, 10*time.Second)},
		{syscall.SIGTERM, orDefault(p.KillGrace, 5*time.Second)},
		{syscall.SIGKILL, 5 * time.Second},
	}
	for _, st := range steps {
		log.Info("stopping haproxy", "signal", st.sig.String())
		_ = syscall.Kill(pid, st.sig)
		// Not our child: poll instead of wait(2).
		deadline := time.NewTimer(st.grace)
		tick := time.NewTicker(20 * time.Millisecond)
		for alive() {
			select {
			case <-deadline.C:
			case <-tick.C:
				continue
			}
			break
		}
		tick.Stop()
		deadline.Stop()
		if !alive() {
			log.Info("haproxy stopped")
			return nil
		}
	}
	return errors.New("haproxy did not exit after SIGKILL")
}

// zombie reports whether pid has exited but is not reaped yet.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func (p *Process) setPid(pid int) {
	p.mu.Lock()
	p.pid = pid
	p.mu.Unlock()
}

// Pid is the master's pid (one this Process started, or a running master it
// adopted), 0 before it runs.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

// linkAlias makes alias a symlink to bin (looked up in PATH when it has no
// slash), replacing a stale link atomically. It refuses to replace anything
// but a symlink.
func linkAlias(alias, bin string) error {
	target, err := exec.LookPath(bin)
	if err != nil {
		return fmt.Errorf("haproxy alias %s: %w", alias, err)
	}
	if target, err = filepath.Abs(target); err != nil {
		return fmt.Errorf("haproxy alias %s: %w", alias, err)
	}
	if fi, err := os.Lstat(alias); err == nil {
		if fi.Mode()&os.ModeSymlink == 0 {
			return fmt.Errorf("haproxy alias %s exists and is not a symlink: not replacing it", alias)
		}
		if cur, err := os.Readlink(alias); err == nil && cur == target {
			return nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(alias), 0o755); err != nil {
		return fmt.Errorf("haproxy alias: %w", err)
	}
	tmp := fmt.Sprintf("%s.%d.tmp", alias, os.Getpid())
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("haproxy alias: %w", err)
	}
	if err := os.Rename(tmp, alias); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("haproxy alias: %w", err)
	}
	return nil
}

// MasterArgv0 is the argv[0] of the running master (started or adopted),
// read from /proc: the path keepalived sees it run as. It is Alias for a
// master this Process started directly, but a wrapper script as Bin (say,
// `exec ip netns exec NS /usr/sbin/haproxy "$@"`) replaces it.
func (p *Process) MasterArgv0() (string, error) {
	pid := p.Pid()
	if pid == 0 {
		return "", errors.New("haproxy master: not running")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "", fmt.Errorf("reading the haproxy master's command line: %w", err)
	}
	argv0, _, _ := strings.Cut(string(b), "\x00")
	if argv0 == "" {
		return "", fmt.Errorf("haproxy master %d: empty command line (it exited)", pid)
	}
	return argv0, nil
}
