package trigger

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fsnotify/fsnotify"
)

func drain(tr *Trigger) int {
	n := 0
	for {
		select {
		case <-tr.C():
			n++
		default:
			return n
		}
	}
}

// TestDebounce drives the debounce loop with synthetic events in a bubble
// of virtual time.
func TestDebounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const root = "/fleet"
		tr := New()
		w := &Watcher{t: tr, root: root, quiet: 200 * time.Millisecond, max: 2 * time.Second,
			log: slog.New(slog.DiscardHandler), add: func(string) error { return nil }}
		events := make(chan fsnotify.Event)
		errs := make(chan error)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- w.loop(ctx, events, errs) }()
		write := func(name string, op fsnotify.Op) { events <- fsnotify.Event{Name: root + "/" + name, Op: op} }

		// A burst of 50 writes 10 ms apart: one trigger, 200 ms after the last.
		var last time.Time
		for i := range 50 {
			write(fmt.Sprintf("nodes/n%d.yaml", i), fsnotify.Write)
			last = time.Now()
			time.Sleep(10 * time.Millisecond)
		}
		r := <-tr.C()
		if got := r.At.Sub(last); got != 200*time.Millisecond || r.What != ReasonWatch {
			t.Errorf("trigger %q %v after the last write, want watch 200ms", r.What, got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n := drain(tr); n != 0 {
			t.Errorf("%d extra triggers after the burst", n)
		}

		// .git and chmod-only events are not changes.
		write(".git/index", fsnotify.Write)
		write(".git", fsnotify.Create)
		write("sub/.git/HEAD", fsnotify.Write)
		write("nodes/a.yaml", fsnotify.Chmod)
		time.Sleep(time.Second)
		synctest.Wait()
		if n := drain(tr); n != 0 {
			t.Errorf("%d triggers for .git or chmod events", n)
		}

		// A never-ending stream still triggers every max (2 s).
		start := time.Now()
		var at []time.Duration
		for i := range 50 { // 5 s of writes every 100 ms
			write(fmt.Sprintf("f%d", i), fsnotify.Write)
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
			select {
			case r := <-tr.C():
				at = append(at, r.At.Sub(start))
			default:
			}
		}
		if len(at) != 2 || at[0] != 2*time.Second || at[1] < 4*time.Second || at[1] > 4200*time.Millisecond {
			t.Errorf("triggers during a 5s stream at %v, want at 2s and about 4s", at)
		}

		// An event overflow triggers to be safe.
		errs <- fsnotify.ErrEventOverflow
		time.Sleep(time.Second)
		synctest.Wait()
		if n := drain(tr); n != 1 {
			t.Errorf("%d triggers after an overflow (and the end of the stream), want 1", n)
		}

		cancel()
		if err := <-done; err != nil {
			t.Errorf("loop returned %v on cancel", err)
		}
	})
}

// waitTrigger waits (bounded) for a trigger.
func waitTrigger(t *testing.T, tr *Trigger, what string) {
	t.Helper()
	select {
	case <-tr.C():
	case <-time.After(10 * time.Second):
		t.Fatalf("no trigger within 10s after %s", what)
	}
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func mkfile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWatchRealFiles runs the watcher on a real directory with inotify.
func TestWatchRealFiles(t *testing.T) {
	dir := t.TempDir()
	mkfile(t, filepath.Join(dir, "nodes", "a.yaml"), "a")
	mkfile(t, filepath.Join(dir, ".git", "objects", "x"), "x")
	tr := New()
	w, err := tr.NewWatcher(dir, 20*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	w.onEvent = func(ev fsnotify.Event) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, ev.Name)
	}
	saw := func(name string) bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(seen, name)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	if got, want := w.WatchList(), []string{dir, filepath.Join(dir, "nodes")}; !slices.Equal(got, want) {
		t.Fatalf("watching %v, want %v (no .git)", got, want)
	}

	mkfile(t, filepath.Join(dir, "nodes", "b.yaml"), "b")
	waitTrigger(t, tr, "writing a file")

	// New nested directories are watched as they appear, including ones
	// created before the watcher saw their parent.
	deep := filepath.Join(dir, "zones", "eu", "extra")
	mkfile(t, filepath.Join(deep, "early.yaml"), "x")
	eventually(t, "watch on new nested directory", func() bool { return slices.Contains(w.WatchList(), deep) })
	late := filepath.Join(deep, "late.yaml")
	mkfile(t, late, "y")
	eventually(t, "event from inside the new directory", func() bool { return saw(late) })
	waitTrigger(t, tr, "writing in a new directory")

	// Changes inside .git never count.
	mkfile(t, filepath.Join(dir, ".git", "HEAD"), "ref: refs/heads/main")
	mkfile(t, filepath.Join(dir, ".git", "objects", "y"), "y")
	sentinel := filepath.Join(dir, "sentinel")
	mkfile(t, sentinel, "s")
	eventually(t, "sentinel event", func() bool { return saw(sentinel) })
	mu.Lock()
	for _, p := range seen {
		if strings.Contains(p, ".git") {
			t.Errorf("event for %s counted as a change", p)
		}
	}
	mu.Unlock()

	// A renamed directory is followed under its new name.
	moved := filepath.Join(dir, "zones", "us")
	if err := os.Rename(filepath.Join(dir, "zones", "eu"), moved); err != nil {
		t.Fatal(err)
	}
	eventually(t, "watch on renamed directory", func() bool {
		l := w.WatchList()
		return slices.Contains(l, filepath.Join(moved, "extra")) && !slices.Contains(l, deep)
	})
	afterMove := filepath.Join(moved, "extra", "after.yaml")
	mkfile(t, afterMove, "z")
	eventually(t, "event from the renamed directory", func() bool { return saw(afterMove) })

	// A burst of writes settles into few triggers.
	drain(tr)
	for i := range 100 {
		mkfile(t, filepath.Join(dir, "nodes", fmt.Sprintf("burst-%d.yaml", i)), "x")
	}
	waitTrigger(t, tr, "a burst of writes")
}

func TestNewWatcherErrors(t *testing.T) {
	if _, err := New().NewWatcher(filepath.Join(t.TempDir(), "missing"), 0, nil); err == nil {
		t.Error("watching a missing directory succeeded")
	}
	f := filepath.Join(t.TempDir(), "file")
	mkfile(t, f, "x")
	if _, err := New().NewWatcher(f, 0, nil); err == nil {
		t.Error("watching a file succeeded")
	}
}
