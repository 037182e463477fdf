package keepalived

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ddc-gitops/ddc-gitops/reconciler/atomicfile"
)

// Defaults of the reload confirmation.
const (
	// DefaultSettle is how long keepalived and its children must stay up
	// after a SIGHUP for the reload to count as survived.
	DefaultSettle = time.Second
	// DefaultReloadTimeout bounds the wait for a ReloadCounter to move.
	DefaultReloadTimeout = 10 * time.Second
)

// confirmPoll is the interval of the post-reload liveness checks.
const confirmPoll = 20 * time.Millisecond

var (
	// ErrNotRunning: no live keepalived behind the pid file.
	ErrNotRunning = errors.New("keepalived is not running")
	// ErrReloadFailed: keepalived did not survive or did not finish a reload.
	ErrReloadFailed = errors.New("keepalived reload failed")
)

// ReloadCounter reports how many reloads keepalived has completed; *Process
// implements it by counting keepalived's "Reload complete" log lines.
type ReloadCounter interface {
	Reloads() int
}

// Driver installs keepalived.conf on a host and reloads keepalived. The
// zero value drives Debian's system keepalived.
type Driver struct {
	// Bin is the keepalived binary (default "keepalived" in PATH).
	Bin string
	// ConfigPath is the config keepalived reads (default DefaultConfigPath).
	ConfigPath string
	// PIDFile names the keepalived parent process (default DefaultPIDFile).
	PIDFile string
	// Netns is the network namespace keepalived runs in; empty for the
	// current one. The config is checked there.
	Netns string
	// Logger receives the driver's events (default: discarded).
	Logger *slog.Logger
	// Settle is how long keepalived must survive a SIGHUP (default DefaultSettle).
	Settle time.Duration
	// Reloads, when set, makes a reload count only once the counter moved
	// (within ReloadTimeout). A system keepalived logs to syslog, so only
	// a supervised *Process can offer it.
	Reloads ReloadCounter
	// ReloadTimeout bounds the wait for Reloads (default DefaultReloadTimeout).
	ReloadTimeout time.Duration
}

func (d *Driver) bin() string        { return cmp.Or(d.Bin, DefaultBin) }
func (d *Driver) configPath() string { return cmp.Or(d.ConfigPath, DefaultConfigPath) }
func (d *Driver) pidFile() string    { return cmp.Or(d.PIDFile, DefaultPIDFile) }

func (d *Driver) log() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// Check validates conf with `keepalived -t` in the driver's namespace, on a
// temp file next to ConfigPath.
func (d *Driver) Check(ctx context.Context, conf []byte) error {
	return check(ctx, d.bin(), filepath.Dir(d.configPath()), conf, d.Netns)
}

// Running returns the pid of the live keepalived parent, or ErrNotRunning.
func (d *Driver) Running() (int, error) {
	p, ok, err := running(d.pidFile(), d.bin())
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("%w (pid file %s)", ErrNotRunning, d.pidFile())
	}
	return p.pid, nil
}

// Apply makes conf keepalived's running configuration. It does nothing and
// returns changed=false when ConfigPath already holds exactly conf.
// Otherwise it checks conf (a rejection is a *CheckError and leaves
// everything untouched), replaces ConfigPath atomically and sends SIGHUP to
// keepalived. The reload counts only if keepalived and the children it had
// are still alive after Settle (and, with Reloads set, a reload completed);
// if not, the previous file is put back, keepalived (if alive) gets another
// SIGHUP, and the error wraps ErrReloadFailed with the cause.
//
// When keepalived is not running the file is still installed (it takes
// effect when keepalived starts) and Apply reports changed=true, nil; use
// Running to tell.
func (d *Driver) Apply(ctx context.Context, conf []byte) (changed bool, err error) {
	path := d.configPath()
	old, err := os.ReadFile(path)
	existed := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("reading current keepalived config %s: %w", path, err)
	}
	if existed && bytes.Equal(old, conf) {
		return false, nil
	}
	if err := d.Check(ctx, conf); err != nil {
		return false, err
	}
	parent, up, err := running(d.pidFile(), d.bin())
	if err != nil {
		return false, err
	}
	var kids []proc
	if up {
		if kids, err = children(parent); err != nil {
			return false, err
		}
	}
	if _, err := atomicfile.Write(path, conf, 0o640); err != nil {
		return false, fmt.Errorf("installing keepalived config: %w", err)
	}
	if !up {
		d.log().Warn("keepalived not running: config installed, takes effect when it starts",
			"config", path, "pid_file", d.pidFile())
		return true, nil
	}
	rerr := d.reload(ctx, parent, kids)
	if rerr == nil {
		d.log().Info("keepalived config applied", "config", path, "pid", parent.pid, "bytes", len(conf))
		return true, nil
	}
	if ctx.Err() != nil {
		// Interrupted while confirming: keepalived got the SIGHUP and is
		// not known to have failed, so keep the new file.
		return true, rerr
	}
	if err := d.restore(path, old, existed, parent); err != nil {
		return true, errors.Join(rerr, err)
	}
	return false, fmt.Errorf("%w; previous config restored", rerr)
}

// Reload sends SIGHUP to the running keepalived and confirms it survived,
// without touching the config (e.g. to force a reload after an out-of-band
// change).
func (d *Driver) Reload(ctx context.Context) error {
	parent, up, err := running(d.pidFile(), d.bin())
	if err != nil {
		return err
	}
	if !up {
		return fmt.Errorf("reloading: %w (pid file %s)", ErrNotRunning, d.pidFile())
	}
	kids, err := children(parent)
	if err != nil {
		return err
	}
	return d.reload(ctx, parent, kids)
}

// reload sends SIGHUP to parent and watches it and kids.
func (d *Driver) reload(ctx context.Context, parent proc, kids []proc) error {
	before := 0
	if d.Reloads != nil {
		before = d.Reloads.Reloads()
	}
	start := time.Now()
	if err := syscall.Kill(parent.pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("%w: sending SIGHUP to keepalived (pid %d): %w", ErrReloadFailed, parent.pid, err)
	}
	settle := d.Settle
	if settle <= 0 {
		settle = DefaultSettle
	}
	timeout := d.ReloadTimeout
	if timeout <= 0 {
		timeout = DefaultReloadTimeout
	}
	tick := time.NewTicker(confirmPoll)
	defer tick.Stop()
	for {
		if !parent.alive() {
			return fmt.Errorf("%w: keepalived (pid %d) exited after SIGHUP", ErrReloadFailed, parent.pid)
		}
		for _, k := range kids {
			if !k.alive() {
				return fmt.Errorf("%w: keepalived child (pid %d, e.g. the VRRP process) exited after SIGHUP", ErrReloadFailed, k.pid)
			}
		}
		elapsed := time.Since(start)
		reloaded := d.Reloads == nil || d.Reloads.Reloads() > before
		if elapsed >= settle && reloaded {
			d.log().Debug("keepalived reload confirmed", "pid", parent.pid, "children", len(kids), "elapsed", elapsed)
			return nil
		}
		if elapsed >= timeout {
			return fmt.Errorf("%w: keepalived (pid %d) reported no completed reload within %v", ErrReloadFailed, parent.pid, timeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("confirming keepalived reload: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// restore puts the previous config back and, if keepalived is still alive,
// reloads it once more without waiting for a confirmation.
func (d *Driver) restore(path string, old []byte, existed bool, parent proc) error {
	if existed {
		if _, err := atomicfile.Write(path, old, 0o640); err != nil {
			return fmt.Errorf("restoring previous keepalived config: %w", err)
		}
	} else if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing failed keepalived config %s: %w", path, err)
	}
	d.log().Warn("keepalived reload failed: previous config restored", "config", path, "existed", existed)
	if parent.alive() {
		if err := syscall.Kill(parent.pid, syscall.SIGHUP); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("reloading keepalived (pid %d) with the restored config: %w", parent.pid, err)
		}
	}
	return nil
}
