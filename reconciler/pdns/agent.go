// Package pdns is the DNS host role of the agent: on a host named in
// fleet.yaml's dns.nameservers it makes PowerDNS Authoritative (bind
// backend, LUA records) serve the fleet's geo DNS zone at the head of a git
// branch. A reconcile fetches, loads and validates, renders the zone
// (render.RenderDNS), checks it with pdnsutil, writes named.conf and the
// zone file atomically, reloads the zone with pdns_control, verifies by
// querying the server for every record, and rolls back to the last good
// files when any step after the write fails.
package pdns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/reconciler/atomicfile"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
	"github.com/ddc-gitops/ddc-gitops/reconciler/trigger"

	"github.com/prometheus/client_golang/prometheus"
)

// NamedConf is the bind backend's configuration file in the configuration directory.
const NamedConf = "named.conf"

// ZoneFileName is the zone file of zone ("ddc.example." -> "ddc.example.zone").
func ZoneFileName(zone string) string { return strings.TrimSuffix(zone, ".") + ".zone" }

// Fetcher yields the desired state at the head of the followed branch
// (*source.Source, reconciler.DirSource).
type Fetcher interface {
	Sync(ctx context.Context) (*source.Snapshot, error)
}

// Drift modes, as for HAProxy hosts.
const (
	DriftCorrect = "correct"
	DriftWarn    = "warn"
)

// Config configures the DNS role.
type Config struct {
	// Host is this host's name: a dns.nameservers name.
	Host   string
	Source Fetcher
	// StateDir keeps the applied revision and serial (dns-state.json).
	StateDir string
	// ConfigDir is the directory of named.conf and the zone file, and of
	// the server's control socket (pdns_control --config-dir).
	ConfigDir string
	// UtilBin and ControlBin default to Debian's pdnsutil and pdns_control.
	UtilBin, ControlBin string
	// Query is the server's address (host:port) the agent verifies through.
	Query string
	// Drift is DriftCorrect (default) or DriftWarn.
	Drift string
	// VerifyTimeout bounds the wait for the server to serve a new zone (default 5s).
	VerifyTimeout time.Duration
	// RetryMin and RetryMax bound the backoff after failures (defaults 1s, 1m).
	RetryMin, RetryMax time.Duration
	Logger             *slog.Logger
	Registry           prometheus.Registerer
	Now                func() time.Time
}

// Outcome is the result of one reconcile.
type Outcome struct {
	Result   string // an agentapi.Result* value, or "retrying"
	Revision string
	Serial   uint32
	Err      error
	Drift    []string
	// RetryAfter, when positive, asks for another reconcile after it.
	RetryAfter time.Duration
	// Converged reports whether the server now serves Revision.
	Converged bool
}

const resultRetrying = "retrying"

// persisted is what survives an agent restart.
type persisted struct {
	AppliedRevision string    `json:"appliedRevision"`
	AppliedAt       time.Time `json:"appliedAt"`
	Serial          uint32    `json:"serial"`
	FailedRevision  string    `json:"failedRevision,omitempty"`
	FailedKind      string    `json:"failedKind,omitempty"`
	FailedError     string    `json:"failedError,omitempty"`
}

// Agent reconciles one DNS host. Create it with New; Run it, or call Reconcile.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	ctl     Control
	metrics *metrics
	trigger *trigger.Trigger

	mu       sync.Mutex // serialises reconciles; guards the fields below
	state    persisted
	status   agentapi.Status
	failures int
	cached   struct {
		rev   string
		fleet *desired.Fleet
	}
}

// New checks cfg, applies defaults and restores the persisted state.
func New(cfg Config) (*Agent, error) {
	switch {
	case cfg.Host == "":
		return nil, errors.New("dns agent: no host name")
	case cfg.Source == nil:
		return nil, errors.New("dns agent: no source")
	case cfg.StateDir == "":
		return nil, errors.New("dns agent: no state directory")
	case !filepath.IsAbs(cfg.ConfigDir):
		return nil, fmt.Errorf("dns agent: the PowerDNS configuration directory %q is not an absolute path", cfg.ConfigDir)
	case cfg.Query == "":
		return nil, errors.New("dns agent: no address to verify the server through")
	}
	if cfg.Drift == "" {
		cfg.Drift = DriftCorrect
	}
	if cfg.Drift != DriftCorrect && cfg.Drift != DriftWarn {
		return nil, fmt.Errorf("dns agent: drift must be %s or %s, got %q", DriftCorrect, DriftWarn, cfg.Drift)
	}
	if cfg.VerifyTimeout == 0 {
		cfg.VerifyTimeout = 5 * time.Second
	}
	if cfg.RetryMin == 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("dns agent: creating state directory: %w", err)
	}
	a := &Agent{cfg: cfg, log: cfg.Logger.With("role", "dns"), ctl: Control{Bin: cfg.ControlBin, ConfigDir: cfg.ConfigDir},
		metrics: newMetrics(cfg.Registry), trigger: trigger.New()}
	if data, err := os.ReadFile(a.statePath()); err == nil {
		if err := json.Unmarshal(data, &a.state); err != nil {
			return nil, fmt.Errorf("dns agent: reading %s: %w", a.statePath(), err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("dns agent: %w", err)
	}
	a.status = agentapi.Status{Host: cfg.Host, AppliedRevision: a.state.AppliedRevision, AppliedAt: a.state.AppliedAt,
		FailedRevision: a.state.FailedRevision, LastResult: agentapi.ResultPending}
	return a, nil
}

func (a *Agent) statePath() string { return filepath.Join(a.cfg.StateDir, "dns-state.json") }

// Trigger is the agent's sync trigger (poll, signals, POST /v1/sync).
func (a *Agent) Trigger() *trigger.Trigger { return a.trigger }

// Status returns a copy of the agent's status.
func (a *Agent) Status() agentapi.Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.status
	s.Drift = append([]string(nil), s.Drift...)
	return s
}

// Run reconciles at start, whenever the trigger fires and after failures,
// until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	return a.trigger.Loop(ctx, func(ctx context.Context, why trigger.Reason) time.Duration {
		if why.What != "" {
			a.log.Debug("sync triggered", "reason", why.What)
		}
		return a.Reconcile(ctx).RetryAfter
	})
}

// Reconcile runs one reconcile and records its outcome.
func (a *Agent) Reconcile(ctx context.Context) Outcome {
	a.mu.Lock()
	defer a.mu.Unlock()
	start := a.cfg.Now()
	steps := map[string]float64{}
	out := a.reconcile(ctx, steps)
	a.record(out, start, steps)
	return out
}

func (a *Agent) record(out Outcome, start time.Time, steps map[string]float64) {
	now := a.cfg.Now()
	m := a.metrics
	m.duration.Observe(now.Sub(start).Seconds())
	m.reconciles.WithLabelValues(out.Result).Inc()
	m.drift.Set(float64(len(out.Drift)))
	s := &a.status
	s.Counts.Reconciles++
	s.LastReconcile = now
	s.LastResult = out.Result
	s.Steps = steps
	s.Drift = out.Drift
	s.DesiredRevision = out.Revision
	s.LastError = ""
	if out.Err != nil {
		s.LastError = out.Err.Error()
	}
	s.AppliedRevision, s.AppliedAt = a.state.AppliedRevision, a.state.AppliedAt
	s.FailedRevision = a.state.FailedRevision
	if out.Converged {
		m.lastSuccess.Set(float64(now.Unix()))
		m.serial.Set(float64(a.state.Serial))
	}
	level := slog.LevelInfo
	if out.Result == agentapi.ResultNoop {
		level = slog.LevelDebug
	} else if out.Err != nil {
		level = slog.LevelWarn
	}
	a.log.Log(context.Background(), level, "dns reconcile", "result", out.Result, "revision", short(out.Revision),
		"serial", out.Serial, "drift", len(out.Drift), "err", out.Err, "duration", now.Sub(start))
}

func (a *Agent) backoff() time.Duration {
	d := a.cfg.RetryMin << min(a.failures, 16)
	d = min(d, a.cfg.RetryMax)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

func (a *Agent) saveState() {
	data, err := json.MarshalIndent(a.state, "", "  ")
	if err == nil {
		_, err = atomicfile.Write(a.statePath(), append(data, '\n'), 0o644)
	}
	if err != nil {
		a.log.Error("saving dns agent state", "err", err)
	}
}

// stall records a revision that cannot be applied until the branch moves.
func (a *Agent) stall(rev string, err error) Outcome {
	a.state.FailedRevision, a.state.FailedKind, a.state.FailedError = rev, agentapi.ResultStalled, err.Error()
	a.saveState()
	return Outcome{Result: agentapi.ResultStalled, Revision: rev, Err: err}
}

// fail records a failed apply (rolled back) to retry with backoff.
func (a *Agent) fail(rev string, serial uint32, err error) Outcome {
	a.failures++
	a.state.FailedRevision, a.state.FailedKind, a.state.FailedError = rev, agentapi.ResultFailed, err.Error()
	a.saveState()
	return Outcome{Result: agentapi.ResultFailed, Revision: rev, Serial: serial, Err: err, RetryAfter: a.backoff()}
}

func timed(steps map[string]float64, name string, fn func() error) error {
	t := time.Now()
	err := fn()
	steps[name] = time.Since(t).Seconds()
	return err
}
