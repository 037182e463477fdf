package haproxy

import (
	"cmp"
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

	"github.com/ddc-gitops/ddc-gitops/internal/child"
)

// Process runs haproxy in master-worker mode in the foreground
// (`haproxy -W -f CONFIG -S MASTERSOCK -p PIDFILE`; without -D the master
// stays in the foreground) and logs its output. It is for the agent's
// --supervise mode, the lab and tests; on a host managed by systemd the unit
// runs haproxy instead. A Process runs once; it must not be copied.
type Process struct {
	// Bin is the haproxy binary (default DefaultBin).
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
	// may take before SIGTERM (default DefaultStopGrace; set it above the
	// config's hard-stop-after to let sessions end by themselves);
	// KillGrace how long SIGTERM may take before SIGKILL (default
	// DefaultKillGrace).
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
	if pid, ok := p.adoptable(ctx); ok {
		p.setPid(pid)
		log := p.logger().With("pid", pid)
		log.Info("adopting the running haproxy master (left by an earlier supervisor)")
		return p.watch(ctx, child.Adopt("haproxy", pid, nil), log)
	}
	if ctx.Err() != nil {
		return nil // stopped before anything started
	}
	exe := cmp.Or(p.Bin, DefaultBin)
	if p.Alias != "" {
		if err := linkAlias(p.Alias, exe); err != nil {
			return err
		}
		exe = p.Alias
	}
	// No Pdeathsig: a master whose agent was killed keeps serving until
	// the next agent adopts it.
	proc, err := child.Start(child.Spec{Name: exe, Path: exe, Args: p.Args(), Dir: p.Dir, Netns: p.Netns, Lines: p.line})
	if err != nil {
		return err
	}
	p.setPid(proc.Pid())
	log := p.logger().With("pid", proc.Pid())
	log.Info("haproxy started", "exe", exe, "netns", p.Netns, "args", strings.Join(p.Args(), " "))
	return p.watch(ctx, proc, log)
}

// watch waits until the master exits (an error: it exited by itself) or
// ctx ends; then it stops the master: SIGUSR1 (soft stop), SIGTERM after
// StopGrace, SIGKILL after KillGrace.
func (p *Process) watch(ctx context.Context, proc *child.Proc, log *slog.Logger) error {
	select {
	case <-proc.Done():
		if err := proc.Err(); err != nil {
			return fmt.Errorf("haproxy exited by itself (%v); last output:\n%s", err, strings.Join(p.Output(20), "\n"))
		}
		return fmt.Errorf("haproxy master %d exited by itself; last output:\n%s", proc.Pid(), strings.Join(p.Output(20), "\n"))
	case <-ctx.Done():
	}
	steps := []child.Step{
		{Signal: syscall.SIGUSR1, Grace: cmp.Or(p.StopGrace, DefaultStopGrace)},
		{Signal: syscall.SIGTERM, Grace: cmp.Or(p.KillGrace, DefaultKillGrace)},
		{Signal: syscall.SIGKILL, Grace: 5 * time.Second},
	}
	if err := proc.Stop(steps, func(st child.Step) { log.Info("stopping haproxy", "signal", st.Signal.String()) }); err != nil {
		return err
	}
	log.Info("haproxy stopped")
	return nil
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

// line keeps one output line for Output and logs it: [NOTICE] as info,
// [WARNING] as warn, [ALERT] as error.
func (p *Process) line(s string) {
	p.mu.Lock()
	p.tail = append(p.tail, s)
	if len(p.tail) > tailLines {
		p.tail = p.tail[len(p.tail)-tailLines:]
	}
	p.mu.Unlock()
	level := slog.LevelInfo
	switch {
	case strings.HasPrefix(s, "[WARNING]"):
		level = slog.LevelWarn
	case strings.HasPrefix(s, "[ALERT]"):
		level = slog.LevelError
	}
	p.logger().Log(context.Background(), level, "haproxy", "line", s)
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
