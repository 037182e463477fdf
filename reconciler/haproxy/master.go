package haproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults for Master's zero fields.
const (
	DefaultReloadTimeout = 30 * time.Second
	DefaultLostAfter     = 2 * time.Second
	masterPollInterval   = 20 * time.Millisecond
)

// Reload outcomes, matched with errors.Is on the error Reload returns.
var (
	// ErrReloadFailed: the master re-executed but the new configuration did
	// not start (the `[failed: N]` counter grew); the old worker still serves
	// the old configuration.
	ErrReloadFailed = errors.New("haproxy reload failed")
	// ErrReloadLost: the master never re-executed (its reload counter did not
	// move), even after the reload was sent a second time.
	ErrReloadLost = errors.New("haproxy reload lost")
)

// Master is a client for the master CLI of a master-worker haproxy (the -S
// socket). Use NewMaster; a Master must not be copied.
type Master struct {
	// Socket is the path of the master socket.
	Socket string
	// ReloadTimeout bounds Reload when its context has no earlier deadline
	// (default 30s).
	ReloadTimeout time.Duration
	// LostAfter is how long Reload waits, after sending `reload`, for the
	// master's reload counter to move before it sends `reload` once more
	// (default 2s).
	LostAfter time.Duration
	// Logger receives reload logs; nil discards them.
	Logger *slog.Logger

	mu sync.Mutex // one Reload at a time
}

// NewMaster returns a client for the master socket at path.
func NewMaster(path string, logger *slog.Logger) *Master {
	return &Master{Socket: path, Logger: logger}
}

// Proc is one process line of `show proc`.
type Proc struct {
	PID  int
	Type string // master, worker, or a program name
	// Reloads is, for the master, the number of reloads since start; for a
	// worker, the number of reloads it has survived (0 for the newest).
	Reloads int
	Uptime  time.Duration
	Version string
}

// ProcInfo is the parsed output of the master CLI's `show proc`.
type ProcInfo struct {
	Master Proc
	// Failed is the master's `[failed: N]` count: failed reloads since the
	// last successful one (2.6 resets it to 0 on success).
	Failed int
	// HasFailedCount reports whether `[failed: N]` was printed at all.
	HasFailedCount bool
	// ReloadFailed reports that the prompt read master[ReloadFailed]>.
	ReloadFailed bool
	// Workers lists current and old (still stopping) workers.
	Workers  []Proc
	Programs []Proc
}

// Worker returns the newest worker (the one with the fewest reloads), if any.
func (p ProcInfo) Worker() (Proc, bool) {
	var best Proc
	found := false
	for _, w := range p.Workers {
		if !found || w.Reloads < best.Reloads {
			best, found = w, true
		}
	}
	return best, found
}

func (p ProcInfo) hasWorker(pid int) bool {
	for _, w := range p.Workers {
		if w.PID == pid {
			return true
		}
	}
	return false
}

// ShowProc runs `show proc` on the master socket. While the master
// re-executes (a reload) its socket refuses connections for a few tens of
// milliseconds, and a connection accepted by a master that is still starting
// can be reset: ShowProc retries (it only reads) with a short backoff until
// ctx ends (10s when ctx has no deadline).
func (m *Master) ShowProc(ctx context.Context) (ProcInfo, error) {
	ctx, cancel := m.withTimeout(ctx, 10*time.Second)
	defer cancel()
	backoff := 2 * time.Millisecond
	for {
		info, err := m.showProcOnce(ctx)
		if err == nil {
			return info, nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ProcInfo{}, err
		case <-t.C:
		}
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

// showProcOnce is one show proc exchange, without retries.
func (m *Master) showProcOnce(ctx context.Context) (ProcInfo, error) {
	ctx, cancel := m.withTimeout(ctx, 10*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", m.Socket)
	if err != nil {
		return ProcInfo{}, fmt.Errorf("connecting to haproxy master socket %s: %w", m.Socket, err)
	}
	defer conn.Close()
	out, err := converse(ctx, conn, []byte("prompt;show proc;quit\n"))
	if err != nil {
		return ProcInfo{}, fmt.Errorf("show proc on %s: %w", m.Socket, err)
	}
	info, err := ParseShowProc(out)
	if err != nil {
		return ProcInfo{}, fmt.Errorf("show proc on %s: %w", m.Socket, err)
	}
	return info, nil
}

var masterPrompt = regexp.MustCompile(`master(\[[^\]]*\])?> `)

// ParseShowProc parses a prompt-mode `show proc` session (prompts included;
// a ReloadFailed prompt sets ReloadFailed).
func ParseShowProc(out string) (ProcInfo, error) {
	var info ProcInfo
	info.ReloadFailed = strings.Contains(out, "master[ReloadFailed]>")
	out = masterPrompt.ReplaceAllString(out, "")
	section := ""
	sawMaster := false
	for ln, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "#<"): // column header
			continue
		case strings.HasPrefix(line, "#"):
			section = strings.TrimSpace(strings.TrimPrefix(line, "#"))
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			return info, fmt.Errorf("line %d: %q: too few fields", ln+1, line)
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			return info, fmt.Errorf("line %d: %q: bad pid: %w", ln+1, line, err)
		}
		p := Proc{PID: pid, Type: f[1], Reloads: atoi(f[2])}
		rest := f[3:]
		if len(rest) >= 2 && rest[0] == "[failed:" {
			info.Failed = atoi(strings.TrimSuffix(rest[1], "]"))
			info.HasFailedCount = true
			rest = rest[2:]
		}
		if len(rest) > 0 {
			p.Uptime = parseUptime(rest[0])
		}
		if len(rest) > 1 {
			p.Version = rest[1]
		}
		switch {
		case section == "" && p.Type == "master":
			info.Master = p
			sawMaster = true
		case strings.Contains(section, "worker"):
			info.Workers = append(info.Workers, p)
		case strings.Contains(section, "program"):
			info.Programs = append(info.Programs, p)
		}
	}
	if !sawMaster {
		return info, fmt.Errorf("no master line in %.80q", out)
	}
	return info, nil
}

// parseUptime parses HAProxy's "0d00h12m11s".
func parseUptime(s string) time.Duration {
	var d time.Duration
	num := 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			num = num*10 + int(c-'0')
		case c == 'd':
			d += time.Duration(num) * 24 * time.Hour
			num = 0
		case c == 'h':
			d += time.Duration(num) * time.Hour
			num = 0
		case c == 'm':
			d += time.Duration(num) * time.Minute
			num = 0
		case c == 's':
			d += time.Duration(num) * time.Second
			num = 0
		default:
			return 0
		}
	}
	return d
}

// ReloadError describes a reload that did not succeed; it matches
// ErrReloadFailed or ErrReloadLost.
type ReloadError struct {
	Before, After ProcInfo
	// Sent is how many times `reload` was sent (1 or 2).
	Sent int
	kind error
}

// Error tells what happened in terms of show proc.
func (e *ReloadError) Error() string {
	switch e.kind {
	case ErrReloadFailed:
		return fmt.Sprintf("%v: the new configuration did not start (master reloads %d->%d, failed %d->%d, worker %s kept)",
			e.kind, e.Before.Master.Reloads, e.After.Master.Reloads, e.Before.Failed, e.After.Failed, workerPIDs(e.After))
	default:
		return fmt.Sprintf("%v: the master's reload counter stayed at %d after sending reload %d times", e.kind, e.After.Master.Reloads, e.Sent)
	}
}

// Unwrap returns ErrReloadFailed or ErrReloadLost.
func (e *ReloadError) Unwrap() error { return e.kind }

func workerPIDs(p ProcInfo) string {
	var s []string
	for _, w := range p.Workers {
		s = append(s, strconv.Itoa(w.PID))
	}
	return strings.Join(s, ",")
}

// Reload asks the master to reload and verifies the outcome with show proc:
// success is the master's reload counter past its value before, a worker
// PID that was not there before, and no failed reload. A grown `[failed: N]`
// counter yields ErrReloadFailed (HAProxy kept the old worker). When the
// counter has not moved LostAfter after sending, the reload was lost (sent
// while the master re-executed, or dropped): it is sent once more, and
// ErrReloadLost is returned if the counter still does not move before the
// deadline.
//
// Reloads through one Master are serialized; Reload assumes nothing else
// reloads this haproxy meanwhile (another reload would be taken as ours).
func (m *Master) Reload(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ctx, cancel := m.withTimeout(ctx, m.ReloadTimeout)
	defer cancel()
	start := time.Now()
	before, err := m.ShowProc(ctx)
	if err != nil {
		return fmt.Errorf("reading show proc before reload: %w", err)
	}
	if err := m.sendReload(ctx); err != nil {
		return err
	}
	sent, sentAt := 1, time.Now()
	t := time.NewTicker(masterPollInterval)
	defer t.Stop()
	last := before
	for {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return fmt.Errorf("reload: %w", ctx.Err())
			}
			if last.Master.Reloads > before.Master.Reloads {
				return fmt.Errorf("reload: master re-executed but no new worker appeared in show proc: %w", ctx.Err())
			}
			return &ReloadError{Before: before, After: last, Sent: sent, kind: ErrReloadLost}
		case <-t.C:
		}
		info, err := m.ShowProc(ctx)
		if err != nil {
			continue // the master re-executes: retried until ctx ends
		}
		last = info
		if info.Master.Reloads <= before.Master.Reloads {
			if sent == 1 && time.Since(sentAt) >= m.lostAfter() {
				m.logger().Warn("haproxy reload not seen in show proc, sending it again",
					"socket", m.Socket, "reloads", info.Master.Reloads, "waited", time.Since(sentAt))
				if err := m.sendReload(ctx); err != nil {
					return err
				}
				sent, sentAt = 2, time.Now()
			}
			continue
		}
		if info.Failed > before.Failed || (info.ReloadFailed && !hasNewWorker(before, info)) {
			return &ReloadError{Before: before, After: info, Sent: sent, kind: ErrReloadFailed}
		}
		if hasNewWorker(before, info) {
			w, _ := info.Worker()
			m.logger().Info("haproxy reloaded", "socket", m.Socket, "reloads", info.Master.Reloads,
				"worker", w.PID, "sent", sent, "elapsed", time.Since(start))
			return nil
		}
	}
}

func hasNewWorker(before, after ProcInfo) bool {
	for _, w := range after.Workers {
		if !before.hasWorker(w.PID) {
			return true
		}
	}
	return false
}

// sendReload sends `reload` and waits for the master to close the
// connection (it re-executes), bounded by LostAfter.
func (m *Master) sendReload(ctx context.Context) error {
	conn, err := m.dial(ctx)
	if err != nil {
		return fmt.Errorf("sending reload to %s: %w", m.Socket, err)
	}
	defer conn.Close()
	rctx, cancel := context.WithTimeout(ctx, m.lostAfter())
	defer cancel()
	if _, err := converse(rctx, conn, []byte("reload\n")); err != nil && ctx.Err() != nil {
		return fmt.Errorf("sending reload: %w", err)
	}
	return nil
}

// dial connects to the master socket, retrying while it refuses connections
// or is missing (the master re-executes) with a backoff from 2ms to 50ms.
func (m *Master) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	backoff := 2 * time.Millisecond
	for {
		conn, err := d.DialContext(ctx, "unix", m.Socket)
		if err == nil {
			return conn, nil
		}
		if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.EAGAIN) {
			return nil, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

func (m *Master) withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = DefaultReloadTimeout
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

func (m *Master) lostAfter() time.Duration {
	if m.LostAfter > 0 {
		return m.LostAfter
	}
	return DefaultLostAfter
}

func (m *Master) logger() *slog.Logger {
	if m.Logger != nil {
		return m.Logger
	}
	return discardLogger
}
