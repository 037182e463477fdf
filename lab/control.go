package lab

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
)

// Control acts on a running lab: it stops, starts and kills its children
// (to simulate a node or host failure) and hands out the git server (to
// commit straight to the fleet's repository or make it fail). It is safe
// for concurrent use; after Up returns its methods fail.
type Control struct {
	l *lab
}

// Git is the lab's git server.
func (c *Control) Git() *gitserver.Server { return c.l.git }

// Children lists the lab's current children (a restarted child has a new
// PID; a stopped one is listed with Exited set).
func (c *Control) Children() []ChildInfo {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	var out []ChildInfo
	for _, ch := range c.l.children {
		out = append(out, ChildInfo{Name: ch.name, Machine: ch.machine, Netns: ch.netns, PID: ch.pid, Log: ch.logPath, Exited: ch.exited()})
	}
	return out
}

// find returns the current child of machine.
func (c *Control) find(machine string) (*child, int, error) {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	for i, ch := range c.l.children {
		if ch.machine == machine {
			return ch, i, nil
		}
	}
	return nil, 0, fmt.Errorf("lab: no child for machine %q", machine)
}

// Stop stops the child of machine (a node simulator such as "eu-node-1", or
// the agent of a host such as "eu-haproxy-1", which stops that host's
// haproxy and keepalived with it) the way teardown does: SIGTERM, then
// SIGKILL to its process group after the stop timeout. Stopping a stopped
// child does nothing.
func (c *Control) Stop(machine string) error {
	ch, _, err := c.find(machine)
	if err != nil {
		return err
	}
	return ch.stop(c.l.o.StopTimeout, c.l.log)
}

// Kill sends SIGKILL to the child of machine alone (not its process group)
// and waits for it to exit, as when an agent crashes. An agent's haproxy
// (its own process group, no parent-death signal) survives it, and Up's
// teardown does not know it: the caller must stop it (see
// e2e/restart_test.go); its keepalived gets SIGTERM from the kernel.
func (c *Control) Kill(machine string) error {
	ch, _, err := c.find(machine)
	if err != nil {
		return err
	}
	ch.markStopping()
	if ch.exited() {
		return nil
	}
	if err := syscall.Kill(ch.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("lab: killing %s (pid %d): %w", ch.name, ch.pid, err)
	}
	<-ch.done
	return nil
}

// Start starts the child of machine again, with the same command line,
// after Stop or Kill (or a crash). It fails if the child runs.
func (c *Control) Start(machine string) error {
	ch, i, err := c.find(machine)
	if err != nil {
		return err
	}
	if !ch.exited() {
		return fmt.Errorf("lab: %s (pid %d) is running: stop it first", ch.name, ch.pid)
	}
	nc, err := startChild(ch.name, ch.netns, ch.logPath, c.l.o.Exe, c.l.o.ChildEnv, ch.args, func(x *child) {
		c.l.log.Warn("lab child exited", "child", x.name, "err", x.err, "log", x.logPath)
		c.l.progress("warning: %s exited (%v); its log: %s", x.name, x.err, x.logPath)
	})
	if err != nil {
		return fmt.Errorf("lab: restarting: %w", err)
	}
	nc.machine, nc.args = ch.machine, ch.args
	c.l.mu.Lock()
	c.l.children[i] = nc
	c.l.mu.Unlock()
	return nil
}
