package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

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
// child does nothing; a paused one (Pause) is resumed first.
func (c *Control) Stop(machine string) error {
	ch, _, err := c.find(machine)
	if err != nil {
		return err
	}
	if !ch.exited() {
		_ = syscall.Kill(ch.pid, syscall.SIGCONT)
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
	nc, err := startChild(ch.name, ch.netns, ch.logPath, ch.exe, c.l.o.ChildEnv, ch.args, func(x *child) {
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

// hostDir is where the lab keeps host's files (AgentInfo.Dir); it fails for
// a machine that is not a HAProxy host.
func (c *Control) hostDir(host string) (string, error) {
	ch, _, err := c.find(host)
	if err != nil {
		return "", err
	}
	if len(ch.args) == 0 || ch.args[0] != "agent" {
		return "", fmt.Errorf("lab: %s is not a HAProxy host", host)
	}
	return filepath.Join(c.l.o.StateDir, "hosts", host), nil
}

// KillHAProxy sends SIGKILL to the haproxy master and workers of host (the
// processes named haproxy whose command line has the host's haproxy.cfg,
// which is also how the master in haproxy.pid is checked) and waits until
// they are gone: a crash of that haproxy alone. keepalived on the host sees
// its tracked haproxy disappear and gives up the host's VIPs; the host's
// agent (--supervise) starts haproxy again after its restart backoff,
// unless it is paused (Pause). It fails if no such process runs.
func (c *Control) KillHAProxy(host string) error {
	dir, err := c.hostDir(host)
	if err != nil {
		return err
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	pids, err := procsWithArg("haproxy", cfg)
	if err != nil {
		return err
	}
	if master, err := readPID(filepath.Join(dir, "haproxy.pid")); err == nil && !slices.Contains(pids, master) && hasArg(master, "haproxy", cfg) {
		pids = append(pids, master)
	}
	if len(pids) == 0 {
		return fmt.Errorf("lab: no haproxy of %s runs (none has %s on its command line)", host, cfg)
	}
	return killAndWait(host+"'s haproxy", pids, 0)
}

// KillKeepalived sends SIGKILL to the keepalived of host (the process named
// in its keepalived.pid, and its VRRP child, one process group) and waits
// until they are gone: a crash, which leaves the host's VIPs on its
// interface and sends no priority-0 advert, so the peer takes a VIP over
// only after its master-down interval (about 3 x advert_int). The host's
// agent (--supervise) starts keepalived again after its restart backoff,
// unless it is paused (Pause); the new keepalived starts in BACKUP and
// removes the stale VIPs.
func (c *Control) KillKeepalived(host string) error {
	dir, err := c.hostDir(host)
	if err != nil {
		return err
	}
	pid, err := readPID(filepath.Join(dir, "keepalived.pid"))
	if err != nil {
		return fmt.Errorf("lab: keepalived of %s: %w", host, err)
	}
	if !hasArg(pid, "keepalived", filepath.Join(dir, "keepalived.conf")) {
		return fmt.Errorf("lab: keepalived.pid of %s names pid %d, which is not its keepalived", host, pid)
	}
	pids := []int{pid}
	if vrrp, err := readPID(filepath.Join(dir, "keepalived_vrrp.pid")); err == nil && hasArg(vrrp, "keepalived", filepath.Join(dir, "keepalived.conf")) {
		pids = append(pids, vrrp)
	}
	return killAndWait(host+"'s keepalived", pids, pid)
}

// Pause stops the child of machine with SIGSTOP (the child alone, not its
// process group): a paused agent leaves its haproxy and keepalived running
// but cannot restart them, so a test can hold a failure (KillHAProxy,
// KillKeepalived) as long as it likes. Resume it before the lab ends: a
// paused agent does not stop on SIGTERM, and its haproxy (its own process
// group) would outlive the SIGKILL that teardown sends then.
func (c *Control) Pause(machine string) error {
	return c.signal(machine, syscall.SIGSTOP)
}

// Resume continues a child stopped by Pause (SIGCONT). Resuming a running
// child does nothing.
func (c *Control) Resume(machine string) error {
	return c.signal(machine, syscall.SIGCONT)
}

func (c *Control) signal(machine string, sig syscall.Signal) error {
	ch, _, err := c.find(machine)
	if err != nil {
		return err
	}
	if ch.exited() {
		return fmt.Errorf("lab: %s (pid %d) is not running", ch.name, ch.pid)
	}
	if err := syscall.Kill(ch.pid, sig); err != nil {
		return fmt.Errorf("lab: sending %v to %s (pid %d): %w", sig, ch.name, ch.pid, err)
	}
	return nil
}

// procsWithArg lists the live processes named comm with arg among their
// command-line arguments.
func procsWithArg(comm, arg string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("lab: listing processes: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && hasArg(pid, comm, arg) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// hasArg reports whether pid is a live process named comm with arg among
// its command-line arguments.
func hasArg(pid int, comm, arg string) bool {
	name, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(name)) != comm || gone(pid) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && slices.Contains(strings.Split(string(b), "\x00"), arg)
}

// readPID reads the pid on the first line of a pid file.
func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("pid file %s: bad pid %q", path, line)
	}
	return pid, nil
}

// gone reports whether pid has exited (it may wait as a zombie for its
// parent to reap it).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z' || b[i+2] == 'X'
}

// killAndWait sends SIGKILL to pids (and to process group pgid when it is
// not 0) and waits up to 10s until every one is gone.
func killAndWait(what string, pids []int, pgid int) error {
	if pgid != 0 {
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("lab: killing %s (process group %d): %w", what, pgid, err)
		}
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("lab: killing %s (pid %d): %w", what, pid, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		var left []int
		for _, pid := range pids {
			if !gone(pid) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab: %s (pids %v) still running 10s after SIGKILL", what, left)
		}
		<-tick.C
	}
}
