package keepalived

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ddc-gitops/ddc-gitops/internal/child"
)

// DefaultStopTimeout is how long Process waits after SIGTERM before SIGKILL.
const DefaultStopTimeout = 5 * time.Second

// keepOutput is how many of keepalived's last output lines a Process keeps
// at least (at most twice as many).
const keepOutput = 500

// Log lines keepalived prints at startup and after a reload (with -D).
const (
	lineStartup = "Startup complete"
	lineReload  = "Reload complete"
)

// consoleStamp is the timestamp --log-console puts before each line.
var consoleStamp = regexp.MustCompile(`^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4}: `)

// Process runs one keepalived in the foreground:
//
//	keepalived --dont-fork --log-console --log-detail --no-syslog --vrrp
//	    -f ConfigPath -p PIDFile -r <vrrp pid> -c <checkers pid> -b <bfd pid> [-s Netns]
//
// Every pid file is derived from PIDFile (see ChildPIDFiles), so several
// keepalived processes on one machine never share one. Its output goes to
// Logger. A Process runs once; make a new one to start keepalived again.
type Process struct {
	// Bin is the keepalived binary (default "keepalived" in PATH).
	Bin string
	// ConfigPath is the config file; required.
	ConfigPath string
	// PIDFile is the parent's pid file; required. Its directory is created.
	PIDFile string
	// Netns runs keepalived in that network namespace (keepalived's own -s
	// option, which keeps vrrp_track_process working); empty for the
	// current namespace.
	Netns string
	// Logger receives keepalived's output, one record per line (default: discarded).
	Logger *slog.Logger
	// StopTimeout is the grace period between SIGTERM and SIGKILL on
	// cancel (default DefaultStopTimeout).
	StopTimeout time.Duration
	// ExtraArgs are appended to the command line.
	ExtraArgs []string

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change below
	started bool
	pid     int
	exited  bool
	exitErr error
	lines   []string
	reloads int
	startup bool
}

// ChildPIDFiles derives the pid files of keepalived's VRRP, checker and BFD
// children from the parent's: /x/keepalived.pid gives /x/keepalived_vrrp.pid,
// /x/keepalived_checkers.pid and /x/keepalived_bfd.pid (Debian's names).
func ChildPIDFiles(pidFile string) (vrrp, checkers, bfd string) {
	base := strings.TrimSuffix(pidFile, ".pid")
	return base + "_vrrp.pid", base + "_checkers.pid", base + "_bfd.pid"
}

// Args is keepalived's command line, without the binary.
func (p *Process) Args() []string {
	vrrp, checkers, bfd := ChildPIDFiles(p.PIDFile)
	args := []string{
		"--dont-fork", "--log-console", "--log-detail", "--no-syslog", "--vrrp",
		"-f", p.ConfigPath, "-p", p.PIDFile, "-r", vrrp, "-c", checkers, "-b", bfd,
	}
	if p.Netns != "" {
		args = append(args, "-s", p.Netns)
	}
	return append(args, p.ExtraArgs...)
}

// Driver returns a Driver for this process's config and pid file that also
// waits for keepalived to log a completed reload. Call it after Ready: a
// SIGHUP that reaches keepalived before it installed its signal handlers
// ends it.
func (p *Process) Driver() *Driver {
	return &Driver{Bin: p.Bin, ConfigPath: p.ConfigPath, PIDFile: p.PIDFile, Netns: p.Netns, Logger: p.Logger, Reloads: p}
}

func (p *Process) log() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

// notify wakes every waiter. Callers hold p.mu.
func (p *Process) notify() {
	if p.changed != nil {
		close(p.changed)
	}
	p.changed = make(chan struct{})
}

// watch returns a channel closed at the next change. Callers hold p.mu.
func (p *Process) watch() <-chan struct{} {
	if p.changed == nil {
		p.changed = make(chan struct{})
	}
	return p.changed
}

// Run starts keepalived and blocks until it exits. When ctx is cancelled it
// sends SIGTERM (keepalived removes its VIPs and sends priority-0 adverts),
// then SIGKILL to the whole process group after StopTimeout, and returns
// nil. If keepalived exits on its own, Run returns an error with its last
// output lines. Either way no process of the group is left behind.
func (p *Process) Run(ctx context.Context) error {
	if p.ConfigPath == "" || p.PIDFile == "" {
		return errors.New("running keepalived: ConfigPath and PIDFile are required")
	}
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return errors.New("running keepalived: this Process already ran")
	}
	p.started = true
	p.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(p.PIDFile), 0o755); err != nil {
		return fmt.Errorf("creating pid file directory: %w", err)
	}
	if err := p.waitPrevious(ctx); err != nil {
		return err
	}

	bin := cmp.Or(p.Bin, DefaultBin)
	// Output lines are logged with the pid once it is known.
	var lineLog atomic.Pointer[slog.Logger]
	lineLog.Store(p.log().With("netns", p.Netns))
	proc, err := child.Start(child.Spec{Name: bin, Path: bin, Args: p.Args(), Pdeathsig: true,
		Lines: func(line string) { p.line(line, lineLog.Load()) }})
	if err != nil {
		p.finish(err)
		return err
	}
	pid := proc.Pid()
	log := p.log().With("pid", pid, "netns", p.Netns)
	lineLog.Store(log)
	log.Debug("keepalived started", "args", p.Args())
	p.mu.Lock()
	p.pid = pid
	p.notify()
	p.mu.Unlock()

	grace := p.stopTimeout()
	stopped := false
	select {
	case <-proc.Done():
	case <-ctx.Done():
		stopped = true
		// SIGTERM: keepalived removes its VIPs and sends priority-0
		// adverts. A keepalived that ignores it loses its whole group.
		err := proc.Stop([]child.Step{
			{Signal: syscall.SIGTERM, Grace: grace},
			{Signal: syscall.SIGKILL, Group: true, Grace: grace},
		}, func(st child.Step) {
			if st.Signal == syscall.SIGKILL {
				log.Warn("keepalived ignored SIGTERM: killing its process group", "grace", grace)
			}
		})
		if err != nil {
			log.Error("stopping keepalived", "err", err)
		}
	}
	// Children outlive a parent that crashed or was killed: end the group.
	if err := child.ReapGroup(pid, grace); err != nil {
		log.Error("keepalived children left behind", "err", err)
	}
	p.removeLeftovers()

	if stopped {
		log.Debug("keepalived stopped", "wait", proc.Err())
		p.finish(nil)
		return nil
	}
	err = fmt.Errorf("keepalived (pid %d) exited: %v; last output:\n%s", pid, proc.Err(), strings.Join(p.Output(20), "\n"))
	p.finish(err)
	return err
}

// stopTimeout is StopTimeout or its default.
func (p *Process) stopTimeout() time.Duration {
	if p.StopTimeout > 0 {
		return p.StopTimeout
	}
	return DefaultStopTimeout
}

func (p *Process) finish(err error) {
	p.mu.Lock()
	p.exited, p.exitErr = true, err
	p.notify()
	p.mu.Unlock()
}

// line keeps and logs one output line, counting startups and reloads.
func (p *Process) line(line string, log *slog.Logger) {
	msg := consoleStamp.ReplaceAllString(line, "")
	log.Info("keepalived: " + msg)
	p.mu.Lock()
	p.lines = append(p.lines, msg)
	if len(p.lines) >= 2*keepOutput {
		p.lines = append(p.lines[:0:0], p.lines[len(p.lines)-keepOutput:]...)
	}
	if strings.Contains(msg, lineReload) {
		p.reloads++
	}
	if strings.Contains(msg, lineStartup) {
		p.startup = true
	}
	p.notify()
	p.mu.Unlock()
}

// removeLeftovers deletes pid files naming dead processes (keepalived leaves
// them behind when killed) and the empty /run/keepalived/NETNS directory
// that `-s NETNS` creates.
func (p *Process) removeLeftovers() {
	vrrp, checkers, bfd := ChildPIDFiles(p.PIDFile)
	for _, f := range []string{p.PIDFile, vrrp, checkers, bfd} {
		pid, ok, err := readPIDFile(f)
		if err != nil || !ok {
			continue
		}
		if _, _, alive := lookup(pid); !alive {
			_ = os.Remove(f)
		}
	}
	if p.Netns != "" {
		_ = os.Remove(filepath.Join("/run/keepalived", p.Netns)) // only if empty
	}
}

// Pid is keepalived's (parent) pid, 0 before it started.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

// Reloads counts the reloads keepalived has logged as complete.
func (p *Process) Reloads() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reloads
}

// Output returns up to the last n lines keepalived printed (all kept lines
// when n <= 0), without timestamps.
func (p *Process) Output(n int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.lines
	if n > 0 && len(l) > n {
		l = l[len(l)-n:]
	}
	return append([]string(nil), l...)
}

// wait blocks until cond (called with p.mu held) holds, keepalived exits,
// or ctx ends.
func (p *Process) wait(ctx context.Context, what string, cond func() bool) error {
	for {
		p.mu.Lock()
		if cond() {
			p.mu.Unlock()
			return nil
		}
		if p.exited {
			err := p.exitErr
			p.mu.Unlock()
			return fmt.Errorf("waiting for keepalived %s: keepalived exited (%v)", what, err)
		}
		ch := p.watch()
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for keepalived %s: %w; last output:\n%s", what, ctx.Err(), strings.Join(p.Output(10), "\n"))
		case <-ch:
		}
	}
}

// Ready waits until keepalived has started its VRRP child (named in the
// VRRP pid file) and logged "Startup complete", so it handles signals. It
// fails if keepalived exits first.
func (p *Process) Ready(ctx context.Context) error {
	if err := p.wait(ctx, "startup", func() bool { return p.pid != 0 && p.startup }); err != nil {
		return err
	}
	vrrp, _, _ := ChildPIDFiles(p.PIDFile)
	for _, f := range []string{p.PIDFile, vrrp} {
		pid, ok, err := readPIDFile(f)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("keepalived is up but wrote no pid file %s", f)
		}
		_, st, alive := lookup(pid)
		switch {
		case !alive:
			return fmt.Errorf("pid file %s names pid %d, which is not running", f, pid)
		case f == p.PIDFile && pid != p.Pid():
			return fmt.Errorf("pid file %s names pid %d, not this keepalived (%d)", f, pid, p.Pid())
		case f == vrrp && st.ppid != p.Pid():
			return fmt.Errorf("pid file %s names pid %d, not a child of keepalived %d", f, pid, p.Pid())
		}
	}
	return nil
}

// WaitOutput waits until at least n output lines contain substr (among the
// kept lines).
func (p *Process) WaitOutput(ctx context.Context, substr string, n int) error {
	return p.wait(ctx, fmt.Sprintf("to log %q", substr), func() bool {
		c := 0
		for _, l := range p.lines {
			if strings.Contains(l, substr) {
				c++
			}
		}
		return c >= n
	})
}

// Kill sends SIGKILL to keepalived's whole process group at once: a crash
// of the host's keepalived, which leaves its VIPs on the interfaces and
// sends no priority-0 advert. Run then returns an error.
func (p *Process) Kill() error {
	p.mu.Lock()
	pid, exited := p.pid, p.exited
	p.mu.Unlock()
	if pid == 0 || exited {
		return errors.New("killing keepalived: not running")
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing keepalived process group %d: %w", pid, err)
	}
	return nil
}

// waitPrevious waits for a keepalived named by the pid file to finish: one
// whose supervisor was killed gets SIGTERM (Pdeathsig) and releases its VIPs
// while it stops; starting a new one meanwhile fails with "daemon is already
// running". After StopTimeout it is sent SIGKILL.
func (p *Process) waitPrevious(ctx context.Context) error {
	bin := cmp.Or(p.Bin, DefaultBin)
	old, ok, err := running(p.PIDFile, bin)
	if err != nil || !ok {
		return nil
	}
	p.log().Info("waiting for the previous keepalived to exit", "pid", old.pid)
	prev := child.Adopt("the previous keepalived", old.pid, old.alive)
	stopped := make(chan error, 1)
	go func() {
		stopped <- prev.Stop([]child.Step{
			{Grace: p.stopTimeout()}, // it got SIGTERM (Pdeathsig) when its supervisor died
			{Signal: syscall.SIGKILL, Grace: 5 * time.Second},
		}, nil)
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-stopped:
		return err
	}
}
