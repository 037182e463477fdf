package devchain

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// envChild makes TestGethDiesWithParent the child process that starts geth.
const envChild = "DEVCHAIN_TEST_CHILD_DATADIR"

// geth does not outlive a lab that is killed (SIGKILL, no cleanup): the
// parent-death signal takes it down.
func TestGethDiesWithParent(t *testing.T) {
	if dir := os.Getenv(envChild); dir != "" {
		n, err := Start(context.Background(), Options{Geth: os.Getenv(EnvGeth), DataDir: dir, HTTPAddr: mustFree(t), WSAddr: mustFree(t)})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("pid", n.Pid())
		// Wait for the parent to kill this process.
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		os.Exit(0)
	}
	bin := gethBinary(t)
	// Become the subreaper: geth, orphaned, is reparented to this process,
	// which reaps it (and so can tell its exit from a zombie left to init).
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatalf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	t.Cleanup(func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
	child := exec.Command(os.Args[0], "-test.run=^TestGethDiesWithParent$", "-test.count=1")
	child.Env = append(os.Environ(), envChild+"="+filepath.Join(t.TempDir(), "geth"), EnvGeth+"="+bin)
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "pid ") {
		t.Fatalf("child said %q, %v", line, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "pid ")))
	if err != nil {
		t.Fatal(err)
	}
	if !alive(pid) {
		t.Fatalf("geth pid %d is not running", pid)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	type result struct {
		ws  syscall.WaitStatus
		err error
	}
	reaped := make(chan result, 1)
	go func() {
		var r result
		for {
			_, r.err = syscall.Wait4(pid, &r.ws, 0, nil)
			if !errors.Is(r.err, syscall.EINTR) {
				break
			}
		}
		reaped <- r
	}()
	select {
	case r := <-reaped:
		if r.err != nil {
			t.Fatalf("waiting for geth pid %d (reparented to the test): %v", pid, r.err)
		}
		if !r.ws.Signaled() || r.ws.Signal() != syscall.SIGKILL {
			t.Fatalf("geth ended with %v, want killed by SIGKILL", r.ws)
		}
	case <-time.After(testTimeout):
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-reaped
		t.Fatalf("geth pid %d outlived its parent", pid)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) STATE ...
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func mustFree(t *testing.T) string {
	a, err := FreeAddr("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return a
}
