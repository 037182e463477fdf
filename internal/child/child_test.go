package child_test

import (
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/internal/child"
)

func wait(t *testing.T, p *child.Proc) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		_ = p.Signal(syscall.SIGKILL, true)
		t.Fatalf("pid %d did not exit", p.Pid())
	}
}

func TestLinesAndExitStatus(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	p, err := child.Start(child.Spec{Path: "sh", Args: []string{"-c", "echo one; echo two >&2; printf 'three\\r\\n\\nfour'; exit 3"},
		Lines: func(l string) { mu.Lock(); lines = append(lines, l); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	wait(t, p)
	var ee *exec.ExitError
	if err := p.Err(); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("Err() = %v, want exit status 3", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"one", "two", "three", "four"}; !slices.Equal(lines, want) {
		t.Fatalf("lines %q, want %q (all read before Done)", lines, want)
	}
}

func TestStartFailure(t *testing.T) {
	_, err := child.Start(child.Spec{Name: "nothing", Path: "/nonexistent/bin"})
	if err == nil || !strings.Contains(err.Error(), "starting nothing") {
		t.Fatalf("Start = %v, want an error naming the process", err)
	}
}

// TestStopSteps stops a shell that ignores SIGTERM and has a child of its
// own: SIGTERM does nothing within its grace, SIGKILL to the group ends
// both, and nothing of the group is left.
func TestStopSteps(t *testing.T) {
	up := make(chan struct{})
	p, err := child.Start(child.Spec{Path: "sh", Args: []string{"-c", `trap "" TERM; echo up; sleep 60 & wait`},
		Lines: func(l string) {
			if l == "up" {
				close(up)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Signal(syscall.SIGKILL, true) })
	select { // the trap is set
	case <-up:
	case <-time.After(10 * time.Second):
		t.Fatal("the shell did not start")
	}
	var sent []syscall.Signal
	start := time.Now()
	err = p.Stop([]child.Step{
		{Signal: syscall.SIGTERM, Grace: 300 * time.Millisecond},
		{Signal: syscall.SIGKILL, Group: true, Grace: 5 * time.Second},
	}, func(st child.Step) { sent = append(sent, st.Signal) })
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("stopped after %v: SIGTERM should have been ignored for its grace", took)
	}
	if !slices.Equal(sent, []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}) {
		t.Fatalf("steps run: %v", sent)
	}
	if !p.Exited() {
		t.Fatal("Stop returned nil but the process runs")
	}
	if err := child.ReapGroup(p.Pid(), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-p.Pid(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process group %d still has members: %v", p.Pid(), err)
	}
}

func TestStopGivesUp(t *testing.T) {
	p, err := child.Start(child.Spec{Path: "sleep", Args: []string{"60"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Signal(syscall.SIGKILL, true); wait(t, p) })
	err = p.Stop([]child.Step{{Grace: 50 * time.Millisecond}}, nil)
	if err == nil || !strings.Contains(err.Error(), "still runs") {
		t.Fatalf("Stop = %v, want an error: nothing was sent", err)
	}
}

// TestAdopt watches a process it did not start, stops it, and sees it go
// although it stays a zombie until its real parent reaps it.
func TestAdopt(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	p := child.Adopt("sleep", cmd.Process.Pid, func() bool {
		// The real parent reaps at once here; check the pid like Alive.
		return child.Alive(cmd.Process.Pid)
	})
	if p.Exited() {
		t.Fatal("adopted process reported exited while it runs")
	}
	if err := p.Stop([]child.Step{{Signal: syscall.SIGTERM, Grace: 5 * time.Second}}, nil); err != nil {
		t.Fatal(err)
	}
	if p.Err() != nil {
		t.Fatalf("adopted Err() = %v, want nil (unknown)", p.Err())
	}
	if err := <-waited; err == nil {
		t.Fatal("sleep exited cleanly, want killed by SIGTERM")
	}
	if child.Alive(cmd.Process.Pid) {
		t.Fatal("Alive reports a reaped process")
	}
}

// sleeper is a Runner whose process exits by itself after d.
type sleeper struct {
	d       string
	started chan struct{}
	p       *child.Proc
}

func (s *sleeper) Run(ctx context.Context) error {
	p, err := child.Start(child.Spec{Path: "sleep", Args: []string{s.d}})
	if err != nil {
		return err
	}
	s.p = p
	close(s.started)
	select {
	case <-p.Done():
		return p.Err()
	case <-ctx.Done():
		return p.Stop([]child.Step{{Signal: syscall.SIGTERM, Grace: 5 * time.Second}}, nil)
	}
}

func (s *sleeper) Ready(ctx context.Context) error {
	select {
	case <-s.started:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestSuperviseRestartsWithBackoff lets instances exit by themselves and
// checks the backoff doubles up to RestartMax; cancelling stops the
// running instance and returns nil.
func TestSuperviseRestartsWithBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var waits []time.Duration
	var last *sleeper
	enough := make(chan struct{})
	long := make(chan *sleeper, 1)
	s := child.Supervisor{
		Name: "sleep",
		New: func() child.Runner {
			mu.Lock()
			defer mu.Unlock()
			d := "0.01"
			if len(waits) >= 4 {
				d = "60" // the fifth instance stays up
			}
			last = &sleeper{d: d, started: make(chan struct{})}
			if d == "60" {
				long <- last
			}
			return last
		},
		RestartMin: 10 * time.Millisecond,
		RestartMax: 40 * time.Millisecond,
		OnRestart: func(err error, served bool, ran, wait time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			if !served || err == nil {
				t.Errorf("restart after served=%v err=%v", served, err)
			}
			waits = append(waits, wait)
			if len(waits) == 4 {
				close(enough)
			}
		},
	}
	up := make(chan error, 1)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, up) }()
	if err := <-up; err != nil {
		t.Fatal(err)
	}
	select {
	case <-enough:
	case <-time.After(20 * time.Second):
		t.Fatal("no four restarts")
	}
	mu.Lock()
	want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond}
	if !slices.Equal(waits, want) {
		t.Errorf("backoffs %v, want %v", waits, want)
	}
	mu.Unlock()
	// Wait for the fifth (long) instance to run, then stop everything.
	select {
	case l := <-long:
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		err := l.Ready(rctx)
		rcancel()
		if err != nil {
			t.Fatalf("the fifth instance did not start: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no fifth instance")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !last.p.Exited() {
		t.Fatal("the running instance was not stopped")
	}
}

// TestSuperviseFirstInstanceMustServe: a first instance that does not
// come up ends Run with the error, also sent on up; it is stopped.
func TestSuperviseFirstInstanceMustServe(t *testing.T) {
	s := child.Supervisor{
		Name:         "never",
		New:          func() child.Runner { return &sleeper{d: "60", started: make(chan struct{})} },
		ReadyTimeout: 5 * time.Second,
		// The process serves, but what has to follow fails.
		OnReady: func(context.Context, child.Runner) error { return errors.New("not reached") },
	}
	up := make(chan error, 1)
	err := s.Run(context.Background(), up)
	if err == nil || !strings.Contains(err.Error(), "starting never: not reached") {
		t.Fatalf("Run = %v", err)
	}
	if uerr := <-up; uerr == nil || uerr.Error() != err.Error() {
		t.Fatalf("up got %v, want %v", uerr, err)
	}
}
