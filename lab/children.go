package lab

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	childproc "github.com/ddc-gitops/ddc-gitops/internal/child"
)

// child is a process the lab runs (through internal/child), in the root
// namespace or inside a namespace through `ip netns exec NS EXE ARGS...`
// (which execs in place, so the pid is the program's). It runs in its own
// process group, with its output in a log file, and receives SIGTERM if
// the lab dies.
type child struct {
	name, netns, logPath string
	machine              string   // the lab machine it serves (set by lab.start)
	exe                  string   // its binary
	args                 []string // its command line after the binary (set by lab.start)
	pid                  int
	proc                 *childproc.Proc
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
	defer out.Close() // the child has its own descriptor
	p, err := childproc.Start(childproc.Spec{Name: name, Path: exe, Args: args, Env: env, Netns: ns, Output: out, Pdeathsig: true})
	if err != nil {
		return nil, err
	}
	c := &child{name: name, netns: ns, logPath: logPath, exe: exe, pid: p.Pid(), proc: p,
		done: make(chan struct{}), stopping: make(chan struct{})}
	go func() {
		c.err = p.Err()
		close(c.done)
		select {
		case <-c.stopping:
		default:
			if onExit != nil {
				onExit(c)
			}
		}
	}()
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
	err := c.proc.Stop([]childproc.Step{
		{Signal: syscall.SIGTERM, Grace: grace},
		{Signal: syscall.SIGKILL, Group: true, Grace: 10 * time.Second},
	}, func(st childproc.Step) {
		if st.Signal == syscall.SIGKILL {
			log.Warn("child ignored SIGTERM: killing its process group", "child", c.name, "pid", c.pid, "grace", grace)
		}
	})
	if err != nil {
		return fmt.Errorf("stopping %s: %w", c.name, err)
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
