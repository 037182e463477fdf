package docker

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// Health states of a container.
const (
	HealthNone      = "none"      // no health check declared
	HealthStarting  = "starting"  // no check has passed yet
	HealthHealthy   = "healthy"   // the last check passed
	HealthUnhealthy = "unhealthy" // retries checks in a row failed
)

// dialInNetns connects to addr (tcp) from inside the network namespace of
// process pid: the socket is created on an OS thread switched into that
// namespace and keeps it, so the connection works from any goroutine. It
// reaches a container's own address or its loopback whatever the host's
// network looks like (a macvlan child is not reachable from its parent).
func dialInNetns(ctx context.Context, pid int, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// The thread goes back to the pool only once it is back in its own
		// namespace; if that fails it dies with this goroutine.
		c, err, restored := dialLocked(ctx, pid, addr)
		if restored {
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

func dialLocked(ctx context.Context, pid int, addr string) (c net.Conn, err error, restored bool) {
	self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening this thread's network namespace: %w", err), true
	}
	defer unix.Close(self)
	target, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening the network namespace of pid %d: %w", pid, err), true
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("entering the network namespace of pid %d: %w", pid, err), true
	}
	var d net.Dialer
	c, err = d.DialContext(ctx, "tcp", addr)
	restored = unix.Setns(self, unix.CLONE_NEWNET) == nil
	return c, err, restored
}

// checkHTTP runs one HTTP health check: GET path on addr inside pid's
// network namespace, healthy when the status is expect.
func checkHTTP(ctx context.Context, pid int, addr, path string, expect int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := dialInNetns(ctx, pid, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "ddc-gitops-agent")
	req.Close = true
	if err := req.Write(c); err != nil {
		return fmt.Errorf("sending the check: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != expect {
		return fmt.Errorf("GET %s answered %d, want %d", path, resp.StatusCode, expect)
	}
	return nil
}
