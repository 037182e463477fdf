package netns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"
)

// minCleanupPrefix keeps Cleanup from matching unrelated namespaces.
const minCleanupPrefix = 3

// Cleanup removes what a run with this prefix left behind, e.g. after a
// crash: it kills every process inside each namespace whose name starts with
// prefix, deletes those namespaces, and deletes the links of the current
// namespace whose names start with prefix. prefix must be at least 3
// characters long.
func Cleanup(ctx context.Context, prefix string) error {
	if !validName(prefix) || len(prefix) < minCleanupPrefix {
		return fmt.Errorf("refusing cleanup with prefix %q: need a valid name of at least %d characters", prefix, minCleanupPrefix)
	}
	names, err := List()
	if err != nil {
		return err
	}
	var errs []error
	for _, ns := range names {
		if strings.HasPrefix(ns, prefix) {
			errs = append(errs, destroy(ctx, ns))
		}
	}
	links, err := LinkNames(ctx, "")
	if err != nil {
		errs = append(errs, err)
	}
	for _, l := range links {
		if strings.HasPrefix(l, prefix) {
			errs = append(errs, deleteLeftLink(ctx, l))
		}
	}
	return errors.Join(errs...)
}

// deleteLeftLink deletes link dev of the current namespace unless it is
// gone by then. The kernel destroys a deleted namespace's devices
// asynchronously, and the root end of a veth goes with its peer, so a link
// listed after `ip netns delete` may vanish before its own delete ("No such
// device"): that is the outcome Cleanup wants, not an error.
func deleteLeftLink(ctx context.Context, dev string) error {
	err := DeleteLink(ctx, "", dev)
	if err == nil {
		return nil
	}
	if names, lerr := LinkNames(ctx, ""); lerr == nil && !slices.Contains(names, dev) {
		return nil
	}
	return err
}

// destroy kills the processes inside ns, waits until none is left, and
// deletes ns. A namespace with processes inside outlives `ip netns delete`,
// together with its interfaces, so the order matters.
func destroy(ctx context.Context, ns string) error {
	if err := KillAll(ctx, ns); err != nil {
		return err
	}
	return Delete(ctx, ns)
}

// KillAll sends SIGKILL to every process inside namespace ns and waits (up
// to ctx's deadline, or 10 seconds) until none is left.
func KillAll(ctx context.Context, ns string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		pids, err := Pids(ctx, ns)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			if pid == os.Getpid() {
				// A thread of ours is inside (Do on the main thread).
				return fmt.Errorf("refusing to kill this process (pid %d), which is inside namespace %s", pid, ns)
			}
			// ESRCH: it exited meanwhile.
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("killing pid %d in namespace %s: %w", pid, ns, err)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("processes %v in namespace %s still running: %w", pids, ns, ctx.Err())
		case <-tick.C:
		}
	}
}
