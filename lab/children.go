package lab

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a process the lab runs, in the root namespace or inside a
// namespace through `ip netns exec NS EXE ARGS...` (which execs in place,
// so the pid is the program's). It runs in its own process group, with its output in a log
// file, and receives SIGTERM if the lab dies.
type child struct {
	name, netns, logPath string
	machine              string   // the lab machine it serves (set by lab.start)
	exe                  string   // its binary
	args                 []string // its command line after the binary (set by lab.start)
	pid                  int
	done                 chan struct{} // closed when it exited
	err                  error         // its exit status, after done
	stopping             chan struct{} // closed when the lab stops it
	stopOnce             sync.Once
}

// startChild starts exe args in namespace ns with its output in logPath.
// onExit is called (from another goroutine) if it exits before stop.
func startChild(name, ns, logPath, exe string, env []string, args []string, onExit func(*child)) (*child, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{name: name, netns: ns, logPath: logPath, exe: exe, done: make(chan struct{}), stopping: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that forked the child ends: keep
		// this goroutine on its thread for the child's whole life.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer out.Close()
		cmd := exec.Command(exe, args...)
		if ns != "" {
			cmd = exec.Command("ip", append([]string{"netns", "exec", ns, exe}, args...)...)
		}
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("starting %s in %s: %w", name, ns, err)
			return
		}
		c.pid = cmd.Process.Pid
		started <- nil
		c.err = cmd.Wait()
		close(c.done)
		select {
		case <-c.stopping:
		default:
			if onExit != nil {
				onExit(c)
			}
		}
	}()
	if err := <-started; err != nil {
		out.Close()
		return nil, err
	}
	return c, nil
}

// exited reports whether the child has exited.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and, after grace, SIGKILL to the child's process group,
// and waits for it.
func (c *child) stop(grace time.Duration, log *slog.Logger) error {
	c.markStopping()
	if c.exited() {
		return nil
	}
	if err := syscall.Kill(c.pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stopping %s (pid %d): %w", c.name, c.pid, err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
		return nil
	case <-t.C:
	}
	log.Warn("child ignored SIGTERM: killing its process group", "child", c.name, "pid", c.pid, "grace", grace)
	if err := syscall.Kill(-c.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing %s (pid %d): %w", c.name, c.pid, err)
	}
	<-c.done
	return nil
}

// markStopping records that the lab stops the child (its exit is no
// surprise to report). It may be called more than once.
func (c *child) markStopping() {
	c.stopOnce.Do(func() { close(c.stopping) })
}

// tail returns the last n lines of the child's log.
func (c *child) tail(n int) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", c.logPath, err)
	}
	lines := strings.Split(string(bytes.TrimRight(b, "\n")), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
