// Package reconciler is the per-host agent: it makes one HAProxy +
// keepalived host match the desired state at the head of a git branch.
//
// A reconcile runs ordered steps (fetch, load+validate, render, read actual,
// plan, apply, verify, record). Server-level changes go through the HAProxy
// runtime API without a reload and are persisted to haproxy.cfg; structural
// changes are a checked, atomic, verified reload, coalesced so that a burst
// of commits costs at most one reload per debounce window; keepalived
// changes are a checked reload that keeps the VIPs. A failed apply is rolled
// back; an invalid revision is never applied.
package reconciler

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/plan"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/reconciler/keepalived"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
	"github.com/ddc-gitops/ddc-gitops/reconciler/trigger"
	"github.com/ddc-gitops/ddc-gitops/render"
	"github.com/ddc-gitops/ddc-gitops/trust"
)

// Fetcher yields the desired state at the head of the followed branch.
// *source.Source (git) and DirSource (--watch) implement it.
type Fetcher interface {
	Sync(ctx context.Context) (*source.Snapshot, error)
}

// DriftCheckAlways as Config.DriftInterval reads the host's full state at
// every reconcile.
const DriftCheckAlways time.Duration = -1

// Drift modes.
const (
	DriftCorrect = "correct" // report drift and put the host back in its desired state
	DriftWarn    = "warn"    // only report drift
)

// HAProxyPaths locate the HAProxy this agent manages (defaults: Debian's,
// see DefaultConfig).
type HAProxyPaths struct {
	Bin          string
	ConfigPath   string
	MasterSocket string
	AdminSocket  string
	// PIDFile is the master's pid file (--supervise adopts a master it names).
	PIDFile string
}

// Config configures an Agent.
type Config struct {
	// Host is this host's name in the desired state.
	Host   string
	Source Fetcher
	// StateDir keeps the applied revision and the last good configs.
	StateDir string
	Render   render.Options
	HAProxy  HAProxyPaths
	// Keepalived is nil when the agent does not manage keepalived.
	Keepalived *keepalived.Driver
	// Secrets, when set, decrypts the revision's secrets for this host
	// into its crt-base before the revision is rendered and checked.
	Secrets SecretInstaller
	// Trust, when set, verifies the commits of each new head before it is
	// applied (trust.go, docs/trust.md); Source must then be a git source.
	Trust *trust.Verifier
	// Drift is DriftCorrect (default) or DriftWarn.
	Drift string
	// DriftInterval is how often a reconcile reads the host's full state
	// (the runtime API's server state, haproxy.cfg, keepalived.conf) to
	// look for drift (default 30s). In between, a reconcile of the
	// revision the host runs costs a fetch, and a new revision is planned
	// from what changed (planFromApplied). DriftCheckAlways (any negative
	// value) reads the full state at every reconcile.
	DriftInterval time.Duration
	// ReloadDebounce is the least time between two reloads (default 2s):
	// structural changes arriving meanwhile are applied together.
	ReloadDebounce time.Duration
	// AdmitTimeout is how long a new server may wait for its first passing
	// health check before it is reported stuck (default 10s). Nothing waits
	// for it: the server stays out of service until it passes (admission.go).
	AdmitTimeout time.Duration
	// DrainTimeout bounds how long a removed server drains (default 30s).
	DrainTimeout time.Duration
	// RetryMin and RetryMax bound the backoff after transient failures.
	RetryMin, RetryMax time.Duration
	// RestartMin and RestartMax bound the wait before Supervise restarts
	// a process that exited by itself (defaults 1s and 30s): it doubles
	// with each restart and falls back to RestartMin once an instance has
	// served for a minute.
	RestartMin, RestartMax time.Duration
	Logger                 *slog.Logger
	Registry               prometheus.Registerer
	Now                    func() time.Time
}

// Agent reconciles one host. Create it with New; Run it, or call Reconcile.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	runtime *haproxy.Runtime
	master  *haproxy.Master
	metrics *metrics
	trigger *trigger.Trigger
	// loads decodes only the node files that changed since the last load.
	loads desired.Cache

	// status is the snapshot Status returns, published copy-on-write by
	// updateStatus (under smu), read without any lock: a status request
	// never waits for a reconcile.
	status atomic.Pointer[agentapi.Status]
	smu    sync.Mutex
	// admWatch tells the admission watch which servers wait (admission.go).
	admWatch *admissionWatch
	gate     *gate       // the health gate (gate.go)
	trust    *trustCheck // nil without Config.Trust
	// waves is this host's part in rollout waves (waves.go).
	waves *waveState

	mu         sync.Mutex // serialises reconciles; guards the fields below
	state      persisted
	lastReload time.Time
	// logTarget is the haproxy log target checkLogTarget last looked at.
	logTarget string
	// shardingAdvised: adviseSharding has logged its advice, and the
	// fleet has not stopped needing it since.
	shardingAdvised bool
	// lastCheck is when a reconcile last read the host's full state and
	// found it converged (see Config.DriftInterval).
	lastCheck time.Time
	failures  int // consecutive transient failures, for backoff
	// pendingStatus describes each server waiting for admission.
	pendingStatus []string
	// scratch is reused for the servers' "before" lists (servers.go).
	scratch []plan.Before
	// cached is the last rendered revision for this host.
	cached struct {
		rev   string
		host  *render.Host
		fleet *desired.Fleet // the revision's fleet, to render again when an override expires
	}
	// ov is the overrides' and freeze windows' state (overrides.go).
	ov overrideState
}

// New fills cfg's zero fields from DefaultConfig, checks it and restores
// the persisted state.
func New(cfg Config) (*Agent, error) {
	if err := cfg.finalize(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("agent: creating state directory: %w", err)
	}
	log := cfg.Logger.With("host", cfg.Host)
	a := &Agent{
		cfg:      cfg,
		log:      log,
		runtime:  &haproxy.Runtime{Socket: cfg.HAProxy.AdminSocket, Logger: log},
		master:   haproxy.NewMaster(cfg.HAProxy.MasterSocket, log),
		metrics:  newMetrics(cfg.Registry),
		trigger:  trigger.New(),
		admWatch: newAdmissionWatch(),
		waves:    newWaveState(cfg.Registry),
		ov:       newOverrideMetrics(cfg.Registry),
	}
	trustCheck, err := newTrustCheck(cfg)
	if err != nil {
		return nil, err
	}
	a.trust = trustCheck
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(newHostCollector(cfg.HAProxy.ConfigPath, cfg.Keepalived, log))
	}
	st, err := a.loadState()
	if err != nil {
		return nil, err
	}
	a.state = st
	a.status.Store(&agentapi.Status{
		Host:            cfg.Host,
		AppliedRevision: st.AppliedRevision,
		AppliedAt:       st.AppliedAt,
		FailedRevision:  st.FailedRevision,
		LastResult:      agentapi.ResultPending,
		Pending:         slices.Clone(st.Pending),
	})
	if st.AppliedRevision != "" {
		a.metrics.appliedRevision.WithLabelValues(st.AppliedRevision).Set(1)
	}
	a.gate = newGate(a)
	return a, nil
}

// Trigger is where sync requests arrive (poll ticker, HTTP, SIGHUP, file
// watch); bursts collapse into one reconcile.
func (a *Agent) Trigger() *trigger.Trigger { return a.trigger }

// Status returns a copy of the agent's status. It takes no lock and never
// waits for a reconcile: it copies the last published snapshot, which
// names the reconcile in progress and its step.
func (a *Agent) Status() agentapi.Status {
	return cloneStatus(a.status.Load())
}

// updateStatus publishes a new status snapshot: fn changes a private copy
// of the current one, which then replaces it. fn must not block.
func (a *Agent) updateStatus(fn func(s *agentapi.Status)) {
	a.smu.Lock()
	defer a.smu.Unlock()
	s := cloneStatus(a.status.Load())
	fn(&s)
	a.status.Store(&s)
}

// cloneStatus copies s deeply enough that neither copy sees changes to
// the other.
func cloneStatus(s *agentapi.Status) agentapi.Status {
	c := *s
	c.Drift = slices.Clone(s.Drift)
	c.Pending = slices.Clone(s.Pending)
	c.Steps = maps.Clone(s.Steps)
	if s.InProgress != nil {
		p := *s.InProgress
		c.InProgress = &p
	}
	return c
}

// Run reconciles at start, then whenever the trigger fires or a retry is
// due, until ctx is cancelled.
func (a *Agent) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() { defer close(watchDone); a.watchAdmission(watchCtx) }()
	gateDone := make(chan struct{})
	go func() { defer close(gateDone); a.gate.run(watchCtx) }()
	defer func() { stopWatch(); <-watchDone; <-gateDone }()
	return a.trigger.Loop(ctx, func(ctx context.Context, why trigger.Reason) time.Duration {
		if why.What != "" {
			a.log.Debug("sync triggered", "reason", why.What)
		}
		return a.Reconcile(ctx).RetryAfter
	})
}

// Outcome is the result of one reconcile.
type Outcome struct {
	Result   string // an agentapi.Result* value, or "retrying"/"deferred"
	Revision string
	Err      error
	// RetryAfter, when positive, asks for another reconcile after it.
	RetryAfter time.Duration
	// Converged reports whether the host now matches Revision.
	Converged      bool
	Reloads        int
	RuntimeChanges int
}

// Outcome results beyond agentapi's.
const (
	resultRetrying = "retrying" // a transient failure; retried with backoff
	resultDeferred = "deferred" // a reload waits for its debounce window
)

// Reconcile runs one reconcile now. Concurrent calls run one after another.
func (a *Agent) Reconcile(ctx context.Context) Outcome {
	a.mu.Lock()
	defer a.mu.Unlock()
	start := a.cfg.Now()
	r := &run{a: a, steps: map[string]float64{}, start: start}
	out := a.nextWake(r.reconcile(ctx)) // overrides.go
	if r.checked && out.Converged && out.Err == nil {
		a.lastCheck = start
	} else if !out.Converged {
		a.lastCheck = time.Time{}
	}
	a.record(r, out, start)
	return out
}

func (a *Agent) backoff() time.Duration {
	d := a.cfg.RetryMin << min(a.failures, 16)
	d = min(d, a.cfg.RetryMax)
	// ±20% jitter so agents do not retry in lockstep.
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func (a *Agent) record(r *run, out Outcome, start time.Time) {
	now := a.cfg.Now()
	a.metrics.duration.Observe(now.Sub(start).Seconds())
	a.metrics.reconciles.WithLabelValues(out.Result).Inc()
	a.updateStatus(func(s *agentapi.Status) {
		s.InProgress = nil
		s.Counts.Reconciles++
		s.LastReconcile = now
		s.LastDuration = now.Sub(start).Seconds()
		s.Steps = maps.Clone(r.steps)
		if r.zone != "" {
			s.Zone = r.zone
		}
		if r.desiredRev != "" {
			s.DesiredRevision = r.desiredRev
		}
		s.Drift = slices.Clone(r.drift)
		s.Pending = slices.Clone(a.pendingStatus)
		s.LastResult = out.Result
		s.LastError = ""
		if out.Err != nil {
			s.LastError = out.Err.Error()
		}
		s.AppliedRevision, s.AppliedAt = a.state.AppliedRevision, a.state.AppliedAt
		s.FailedRevision = a.state.FailedRevision
		s.Counts.RuntimeChanges += out.RuntimeChanges
	})
	if out.Converged {
		a.failures = 0
		a.metrics.lastSuccess.Set(float64(now.Unix()))
	}
	level := slog.LevelInfo
	if out.Err != nil {
		level = slog.LevelWarn
	}
	if out.Result != agentapi.ResultNoop || out.Err != nil || len(r.drift) > 0 {
		a.log.Log(context.Background(), level, "reconcile", "zone", r.zone, "result", out.Result, "revision", short(out.Revision),
			"reloads", out.Reloads, "runtimeChanges", out.RuntimeChanges, "drift", len(r.drift), "err", out.Err,
			"duration", now.Sub(start).Round(time.Microsecond), "stepsMs", stepsMillis(r.steps))
	}
}

// stepsMillis is a reconcile's step durations in milliseconds (0.01 ms
// resolution) for its log record.
func stepsMillis(steps map[string]float64) map[string]float64 {
	m := make(map[string]float64, len(steps))
	for k, v := range steps {
		m[k] = math.Round(v*1e5) / 100
	}
	return m
}

// checkLogTarget says once per target when haproxy is to log to a syslog
// socket this host does not have: haproxy would then print an ALERT for
// every log line, into the agent's log under --supervise.
func (a *Agent) checkLogTarget(target string) {
	if target == a.logTarget {
		return
	}
	a.logTarget = target
	if !strings.HasPrefix(target, "/") {
		return
	}
	if _, err := os.Stat(target); err != nil {
		a.log.Warn("haproxy logs to a syslog socket this host does not have, so each of its log lines becomes an ALERT about it: run a syslog daemon, or set haproxy.logTarget in fleet.yaml (none, stderr)",
			"logTarget", target, "err", err)
	}
}

// adviseSharding logs desired.ShardingAdvice once when a loaded fleet
// starts to need it (again), not at every revision.
func (a *Agent) adviseSharding(f *desired.Fleet) {
	advice := desired.ShardingAdvice(f)
	if advice != "" && !a.shardingAdvised {
		a.log.Info("fleet layout: " + advice)
	}
	a.shardingAdvised = advice != ""
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
