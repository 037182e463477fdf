// Package netns builds throw-away network topologies for tests and the lab:
// network namespaces, Linux bridges, veth pairs, addresses and routes, made
// with iproute2's `ip`. Addresses are restricted to 198.18.0.0/15 (RFC 2544
// benchmarking range), so nothing built here can shadow a real network.
//
// Namespaces are the files under /run/netns that `ip netns` manages, so every
// namespace made here is visible with `ip netns list` and removable with
// Cleanup after a crashed run.
package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// RunDir is where `ip netns` keeps its named namespaces.
const RunDir = "/run/netns"

// ipBin is the iproute2 binary; looked up in PATH.
const ipBin = "ip"

// maxIfName is the longest Linux interface name (IFNAMSIZ-1).
const maxIfName = 15

// validName reports whether s can be used as a namespace or interface name:
// letters, digits, '-', '_' and '.', not starting with '.' or '-'.
func validName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func checkNetnsName(name string) error {
	if !validName(name) {
		return fmt.Errorf("invalid network namespace name %q", name)
	}
	return nil
}

func checkIfName(name string) error {
	if !validName(name) || len(name) > maxIfName {
		return fmt.Errorf("invalid interface name %q (letters, digits, '-', '_', '.'; at most %d characters)", name, maxIfName)
	}
	return nil
}

// IP runs `ip ARGS...` and returns its standard output. The error carries
// the command line and ip's standard error.
func IP(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, ipBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// ipIn runs `ip -n NS ARGS...`, or `ip ARGS...` in the current namespace when
// ns is empty.
func ipIn(ctx context.Context, ns string, args ...string) ([]byte, error) {
	if ns == "" {
		return IP(ctx, args...)
	}
	return IP(ctx, append([]string{"-n", ns}, args...)...)
}

// Add creates the named network namespace with its loopback up.
func Add(ctx context.Context, name string) error {
	if err := checkNetnsName(name); err != nil {
		return err
	}
	if _, err := IP(ctx, "netns", "add", name); err != nil {
		return fmt.Errorf("creating network namespace %s: %w", name, err)
	}
	if _, err := ipIn(ctx, name, "link", "set", "dev", "lo", "up"); err != nil {
		return fmt.Errorf("bringing up lo in %s: %w", name, err)
	}
	return nil
}

// Delete removes the named namespace. Processes still inside keep it (and
// its interfaces) alive until they exit; Cleanup kills them first.
func Delete(ctx context.Context, name string) error {
	if err := checkNetnsName(name); err != nil {
		return err
	}
	if _, err := IP(ctx, "netns", "delete", name); err != nil {
		return fmt.Errorf("deleting network namespace %s: %w", name, err)
	}
	return nil
}

// Exists reports whether the named namespace exists.
func Exists(name string) bool {
	if checkNetnsName(name) != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(RunDir, name))
	return err == nil
}

// List returns the names of all named namespaces, sorted.
func List() ([]string, error) {
	entries, err := os.ReadDir(RunDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", RunDir, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names, nil
}

// Pids returns the processes whose network namespace is the named one.
func Pids(ctx context.Context, name string) ([]int, error) {
	if err := checkNetnsName(name); err != nil {
		return nil, err
	}
	out, err := IP(ctx, "netns", "pids", name)
	if err != nil {
		return nil, fmt.Errorf("listing processes in %s: %w", name, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("parsing `ip netns pids %s` output %q: %w", name, f, err)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// Command returns a command that runs name with args inside namespace ns
// (`ip netns exec NS ...`, which execs in place: the command's pid is the
// program's), or directly when ns is empty.
func Command(ctx context.Context, ns, name string, args ...string) *exec.Cmd {
	if ns == "" {
		return exec.CommandContext(ctx, name, args...)
	}
	return exec.CommandContext(ctx, ipBin, append([]string{"netns", "exec", ns, name}, args...)...)
}

// Output runs name with args inside namespace ns and returns its standard
// output; the error carries the standard error.
func Output(ctx context.Context, ns, name string, args ...string) ([]byte, error) {
	cmd := Command(ctx, ns, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("running %s in namespace %q: %w: %s", name, ns, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// Do runs fn on an OS thread that has entered namespace ns, then returns
// the thread to its namespace; with an empty ns it just calls fn. Sockets
// created by fn belong to ns and keep working after Do returns. Only fn's
// own goroutine is in ns: goroutines it starts are not. If the thread cannot
// be returned, it is discarded rather than reused.
func Do(ns string, fn func() error) error {
	if ns == "" {
		return fn()
	}
	if err := checkNetnsName(ns); err != nil {
		return err
	}
	target, err := os.Open(filepath.Join(RunDir, ns))
	if err != nil {
		return fmt.Errorf("opening network namespace %s: %w", ns, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("opening the current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering network namespace %s: %w", ns, err)
			return
		}
		err = fn()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		} // else: stay locked, so the thread dies with this goroutine
		errc <- err
	}()
	return <-errc
}

// Dial connects to address from inside namespace ns.
func Dial(ctx context.Context, ns, network, address string) (net.Conn, error) {
	var c net.Conn
	err := Do(ns, func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, address)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dialing %s %s from namespace %q: %w", network, address, ns, err)
	}
	return c, nil
}

// Listen opens a listener inside namespace ns.
func Listen(ctx context.Context, ns, network, address string) (net.Listener, error) {
	var l net.Listener
	err := Do(ns, func() error {
		var lc net.ListenConfig
		var err error
		l, err = lc.Listen(ctx, network, address)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listening on %s %s in namespace %q: %w", network, address, ns, err)
	}
	return l, nil
}
