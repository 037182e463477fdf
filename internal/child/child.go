// Package child runs the processes ddc-gitops supervises (haproxy and
// keepalived under `agent --supervise`, the lab's daemons): it starts one in
// its own process group, optionally inside a network namespace and tied to
// the starting thread's life (Pdeathsig), passes its output on whole lines,
// stops it with a sequence of signals and grace periods, watches a process
// it did not start (Adopt), and restarts a process that exits by itself
// with a doubling backoff (Supervise). It is the one place these rules
// live; the haproxy and keepalived drivers and the lab add only what is
// theirs (command lines, readiness, adoption and predecessor policy).
package child

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/ddc-gitops/ddc-gitops/internal/netns"
)

// DefaultWaitDelay is how long a Proc waits, after the process exited, for
// the rest of its output (descendants may hold the pipe) when
// Spec.WaitDelay is zero.
const DefaultWaitDelay = 2 * time.Second

// Spec describes a process to start.
type Spec struct {
	// Name is what errors call the process (default: Path).
	Name string
	// Path is the program: a path, or a name looked up in PATH.
	Path string
	// Args follow Path on the command line.
	Args []string
	// Env is added to the environment the caller runs in.
	Env []string
	// Dir is the working directory (empty: the caller's).
	Dir string
	// Netns runs the program inside that network namespace through
	// `ip netns exec NS` (which execs in place: the pid is the program's).
	Netns string
	// Output receives standard output and error unchanged (a log file:
	// an *os.File is handed to the process as it is).
	Output io.Writer
	// Lines, when set instead of Output, is called with each output line
	// (without its newline), from one goroutine, in order.
	Lines func(line string)
	// WaitDelay bounds the wait for output after the process exited
	// (default DefaultWaitDelay).
	WaitDelay time.Duration
	// Pdeathsig sends the process SIGTERM when the process that started
	// it dies (even by SIGKILL). Leave it unset for a process that must
	// outlive its supervisor, such as a haproxy master to adopt.
	Pdeathsig bool
}

// Proc is a running (or exited) process, started by Start or watched by
// Adopt.
type Proc struct {
	name  string
	pid   int
	child bool // started by Start: waited for, not polled
	done  chan struct{}
	err   error // the exit status, set before done closes
}

// Start starts the process in its own process group (so a Ctrl-C on the
// terminal reaches the supervisor only, which stops the process its own
// way) and returns once it runs. Its exit is seen through Done.
func Start(s Spec) (*Proc, error) {
	name := s.Name
	if name == "" {
		name = s.Path
	}
	p := &Proc{name: name, child: true, done: make(chan struct{})}
	var pr, pw *os.File
	if s.Lines != nil {
		var err error
		if pr, pw, err = os.Pipe(); err != nil {
			return nil, fmt.Errorf("starting %s: creating its output pipe: %w", name, err)
		}
	}
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		if s.Pdeathsig {
			// Pdeathsig fires when the thread that forked the child
			// ends, not the process: keep this goroutine on its
			// thread for the child's whole life.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
		}
		cmd := netns.Command(context.Background(), s.Netns, s.Path, s.Args...)
		cmd.Dir = s.Dir
		if len(s.Env) > 0 {
			cmd.Env = append(os.Environ(), s.Env...)
		}
		switch {
		case pw != nil:
			cmd.Stdout, cmd.Stderr = pw, pw
		case s.Output != nil:
			cmd.Stdout, cmd.Stderr = s.Output, s.Output
			// A writer that is not a file is fed by a copying goroutine:
			// do not let a descendant holding the pipe block Wait.
			cmd.WaitDelay = orDefault(s.WaitDelay, DefaultWaitDelay)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if s.Pdeathsig {
			cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
		}
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		p.pid = cmd.Process.Pid
		started <- nil
		p.err = cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		if pr != nil {
			pr.Close()
			pw.Close()
		}
		where := ""
		if s.Netns != "" {
			where = " in namespace " + s.Netns
		}
		return nil, fmt.Errorf("starting %s%s: %w", name, where, err)
	}
	if pr == nil {
		go func() {
			<-exited
			close(p.done)
		}()
		return p, nil
	}
	pw.Close() // the process holds the write end now
	// Done closes once the process exited and its output is read (or
	// WaitDelay passed: a descendant still holds the pipe).
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			if line := strings.TrimRight(sc.Text(), "\r"); line != "" {
				s.Lines(line)
			}
		}
	}()
	go func() {
		<-exited
		t := time.NewTimer(orDefault(s.WaitDelay, DefaultWaitDelay))
		select {
		case <-read:
		case <-t.C:
		}
		t.Stop()
		pr.Close() // unblocks the reader if a stray writer still holds the pipe
		<-read
		close(p.done)
	}()
	return p, nil
}

// Adopt watches a running process that this one did not start (so it
// cannot wait(2) for it): alive reports whether it still runs and is
// polled every 20ms; nil means "signal 0 reaches it and it is not a
// zombie". The exit status of an adopted process is unknown (Err: nil).
func Adopt(name string, pid int, alive func() bool) *Proc {
	if alive == nil {
		alive = func() bool { return Alive(pid) }
	}
	p := &Proc{name: name, pid: pid, done: make(chan struct{})}
	go func() {
		t := time.NewTicker(20 * time.Millisecond) // polling interval: nothing to wait on
		defer t.Stop()
		for alive() {
			<-t.C
		}
		close(p.done)
	}()
	return p
}

// Alive reports whether pid runs: signal 0 reaches it and it is not a
// zombie (exited, not reaped yet).
func Alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return !(i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X'))
}

// Pid is the process's pid (also its process group's, for a started one).
func (p *Proc) Pid() int { return p.pid }

// Done is closed when the process has exited (a started one: and its
// output is read).
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether Done is closed.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the process exited (as exec.Cmd.Wait reports it), once Done
// is closed; nil for an adopted process.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// Signal sends sig to the process; to its whole process group when group
// is set. A process that is gone already is not an error.
func (p *Proc) Signal(sig syscall.Signal, group bool) error {
	pid := p.pid
	if group {
		pid = -pid
	}
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("sending %s to %s (pid %d): %w", sig, p.name, p.pid, err)
	}
	return nil
}

// Step is one step of stopping a process: send Signal (to the process
// group when Group is set; no signal when Signal is 0) and wait up to
// Grace for it to exit.
type Step struct {
	Signal syscall.Signal
	Group  bool
	Grace  time.Duration
}

// Stop runs steps until the process has exited and returns nil then, or an
// error naming the last signal when it still runs after the last step.
// onStep, if set, is called before each step (for logging).
func (p *Proc) Stop(steps []Step, onStep func(Step)) error {
	for _, st := range steps {
		if p.Exited() {
			return nil
		}
		if onStep != nil {
			onStep(st)
		}
		if st.Signal != 0 {
			if err := p.Signal(st.Signal, st.Group); err != nil {
				return err
			}
		}
		t := time.NewTimer(st.Grace)
		select {
		case <-p.done:
			t.Stop()
			return nil
		case <-t.C:
		}
	}
	if p.Exited() {
		return nil
	}
	last := "the last step"
	if len(steps) > 0 {
		last = steps[len(steps)-1].Signal.String()
	}
	return fmt.Errorf("%s (pid %d) still runs after %s", p.name, p.pid, last)
}

// ReapGroup waits until process group pgid is empty, sending SIGKILL to it
// after grace: a parent that exited (crashed, or was killed alone) may
// leave children behind. It returns an error if the group survives
// SIGKILL by another grace.
func ReapGroup(pgid int, grace time.Duration) error {
	deadline := time.Now().Add(grace)
	killed := false
	t := time.NewTicker(10 * time.Millisecond) // polling interval: a group cannot be waited for
	defer t.Stop()
	for {
		if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
			return nil
		}
		if time.Now().After(deadline) {
			if killed {
				return fmt.Errorf("process group %d survived SIGKILL", pgid)
			}
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			killed, deadline = true, time.Now().Add(grace)
		}
		<-t.C
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
