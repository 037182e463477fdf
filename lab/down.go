package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ddc-gitops/ddc-gitops/internal/netns"
)

// Down stops a lab started by another process and removes what it left.
// It reads the lab's pid file in stateDir (default DefaultStateDir): a live
// lab gets SIGTERM and tears itself down (SIGKILL if it has not exited when
// ctx ends or after a minute: its children then get SIGTERM from the
// kernel). Then every namespace and root-namespace link whose name starts
// with prefix (default: the pid file's, else DefaultPrefix) is removed, with
// the processes inside. Progress goes to out (may be nil).
func Down(ctx context.Context, prefix, stateDir string, out io.Writer) error {
	if out == nil {
		out = io.Discard
	}
	if os.Geteuid() != 0 {
		return errors.New("lab down: needs root to remove network namespaces (run with sudo)")
	}
	stateDir = cmpOr(stateDir, DefaultStateDir)
	pid, filePrefix, err := readPidFile(stateDir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		fmt.Fprintf(out, "lab: no pid file in %s: no lab process to stop\n", stateDir)
	case errors.Is(err, os.ErrProcessDone):
		fmt.Fprintf(out, "lab: %v: cleaning up after the crashed lab\n", err)
	case err != nil:
		return fmt.Errorf("lab down: %w", err)
	}
	prefix = cmpOr(cmpOr(prefix, filePrefix), DefaultPrefix)
	if err == nil {
		if err := stopProcess(ctx, pid, out); err != nil {
			return err
		}
		_ = os.Remove(filepath.Join(stateDir, pidFile))
	}
	fmt.Fprintf(out, "lab: removing namespaces and links %s-*\n", prefix)
	if err := netns.Cleanup(ctx, prefix); err != nil {
		return fmt.Errorf("lab down: %w", err)
	}
	return nil
}

// stopProcess sends SIGTERM to pid and waits for it to exit, SIGKILL after
// a minute or when ctx ends.
func stopProcess(ctx context.Context, pid int, out io.Writer) error {
	if pid == os.Getpid() {
		return errors.New("lab down: the pid file names this process")
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); errors.Is(err, syscall.ESRCH) {
		fmt.Fprintf(out, "lab: process %d is gone (crashed?): cleaning up after it\n", pid)
		return nil
	} else if err != nil {
		return fmt.Errorf("lab down: signalling pid %d: %w", pid, err)
	}
	fmt.Fprintf(out, "lab: asked the lab (pid %d) to stop\n", pid)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) || zombie(pid) {
			return nil
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(out, "lab: pid %d did not stop in time: killing it\n", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return nil
		case <-tick.C:
		}
	}
}

// zombie reports whether pid has exited but not been reaped.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) STATE ...: comm may contain spaces; the state follows the last ')'.
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' {
			return i+2 < len(b) && b[i+2] == 'Z'
		}
	}
	return false
}
