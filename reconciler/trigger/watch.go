package trigger

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// MaxWaitFactor bounds debouncing: under a never-ending stream of changes a
// watcher still notifies every MaxWaitFactor × debounce.
const MaxWaitFactor = 10

// Watcher notifies ReasonWatch when files under a directory change: every
// directory of the tree is watched (new ones as they appear, never .git),
// and a burst of changes yields one notification once the tree has been
// quiet for the debounce time.
type Watcher struct {
	t     *Trigger
	root  string
	quiet time.Duration
	max   time.Duration
	log   *slog.Logger
	fsw   *fsnotify.Watcher
	add   func(dir string) error
	// onEvent, if set, sees every event that counts as a change (tests).
	onEvent func(fsnotify.Event)
}

// Watch watches dir and notifies t until ctx is done; see NewWatcher.
func (t *Trigger) Watch(ctx context.Context, dir string, debounce time.Duration) error {
	w, err := t.NewWatcher(dir, debounce, nil)
	if err != nil {
		return err
	}
	return w.Run(ctx)
}

// NewWatcher starts watching dir (recursively, .git excluded) for t. Changes
// made after it returns are seen. debounce <= 0 means DefaultDebounce. Call
// Run to deliver notifications (and to release the watches when done).
func (t *Trigger) NewWatcher(dir string, debounce time.Duration, log *slog.Logger) (*Watcher, error) {
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", dir, err)
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("watching %s: not a directory (%v)", dir, err)
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", dir, err)
	}
	w := &Watcher{t: t, root: root, quiet: debounce, max: MaxWaitFactor * debounce,
		log: log.With("component", "watch-trigger", "dir", root), fsw: fsw, add: fsw.Add}
	if err := w.addTree(root); err != nil {
		_ = fsw.Close()
		return nil, err
	}
	return w, nil
}

// Run delivers notifications until ctx is done, then stops watching. It
// returns nil on cancellation.
func (w *Watcher) Run(ctx context.Context) error {
	defer w.fsw.Close()
	return w.loop(ctx, w.fsw.Events, w.fsw.Errors)
}

// WatchList returns the directories being watched.
func (w *Watcher) WatchList() []string {
	l := w.fsw.WatchList()
	slices.Sort(l)
	return l
}

// loop debounces the events: each relevant event pushes the notification
// back to quiet after it, but never more than max after the first event of
// the burst.
func (w *Watcher) loop(ctx context.Context, events <-chan fsnotify.Event, errs <-chan error) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var first time.Time
	pending := false
	arm := func() {
		now := time.Now()
		if !pending {
			pending, first = true, now
		}
		wait := min(w.quiet, max(w.max-now.Sub(first), 0))
		timer.Reset(wait)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return errors.New("watch trigger: file watcher closed")
			}
			if w.handle(ev) {
				arm()
			}
		case err, ok := <-errs:
			if !ok {
				return errors.New("watch trigger: file watcher closed")
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("file events lost, triggering a sync to be safe", "err", err)
				arm()
				continue
			}
			w.log.Warn("file watcher error", "err", err)
		case <-timer.C:
			pending = false
			w.t.Notify(ReasonWatch)
		}
	}
}

// handle keeps the watch list in step with the tree and reports whether ev
// is a change worth a sync.
func (w *Watcher) handle(ev fsnotify.Event) bool {
	if w.ignored(ev.Name) || ev.Op == fsnotify.Chmod {
		return false
	}
	if ev.Has(fsnotify.Create) {
		if st, err := os.Lstat(ev.Name); err == nil && st.IsDir() {
			// Anything created inside before the watch was added is found
			// by the walk.
			if err := w.addTree(ev.Name); err != nil {
				w.log.Warn("watching new directory", "err", err)
			}
		}
	}
	if (ev.Has(fsnotify.Rename) || ev.Has(fsnotify.Remove)) && w.fsw != nil {
		// A renamed directory keeps its watches (and those of everything
		// below it) under the old names; drop them all, the Create of the
		// new name adds the tree back under its new names.
		prefix := ev.Name + string(filepath.Separator)
		for _, p := range w.fsw.WatchList() {
			if p == ev.Name || strings.HasPrefix(p, prefix) {
				_ = w.fsw.Remove(p)
			}
		}
	}
	if w.onEvent != nil {
		w.onEvent(ev)
	}
	return true
}

// ignored reports whether p is inside (or is) a .git directory.
func (w *Watcher) ignored(p string) bool {
	rel, err := filepath.Rel(w.root, p)
	if err != nil {
		return false
	}
	return slices.Contains(strings.Split(filepath.ToSlash(rel), "/"), ".git")
}

// addTree watches dir and every directory below it except .git.
func (w *Watcher) addTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked
			}
			if p == dir {
				return fmt.Errorf("watching %s: %w", p, err)
			}
			w.log.Warn("not watching unreadable directory", "path", p, "err", err)
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		if d.Name() == ".git" {
			return fs.SkipDir
		}
		if err := w.add(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("watching %s: %w", p, err)
		}
		return nil
	})
}
