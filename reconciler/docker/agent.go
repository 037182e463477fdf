package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
	"github.com/ddc-gitops/ddc-gitops/reconciler/trigger"
)

// Fetcher yields the desired state at the head of the followed branch
// (*source.Source, reconciler.DirSource).
type Fetcher interface {
	Sync(ctx context.Context) (*source.Snapshot, error)
}

// AgentConfig configures the container role of an agent.
type AgentConfig struct {
	Reconciler ReconcilerConfig
	Source     Fetcher
	// Resync is the interval of a full pass without any trigger (default
	// 10s); engine events about managed containers trigger one at once.
	Resync   time.Duration
	Registry prometheus.Registerer
	Logger   *slog.Logger
}

// Agent is the container role: it follows the branch and keeps its
// engine's containers as git declares them.
type Agent struct {
	cfg     AgentConfig
	rec     *Reconciler
	eng     *Engine
	log     *slog.Logger
	trigger *trigger.Trigger
	m       *agentMetrics

	mu     sync.Mutex // guards status and the cached fleet
	status agentapi.Status
	cached struct {
		rev   string
		fleet *desired.Fleet
	}
	// failedRev is the newest revision that did not load (invalid); it
	// reaches the status with the pass's result (record), never before,
	// so a status read sees a failed revision and its error together.
	failedRev string
}

// NewAgent checks cfg and builds the agent.
func NewAgent(cfg AgentConfig) (*Agent, error) {
	if cfg.Source == nil {
		return nil, errors.New("container agent: no source")
	}
	if cfg.Resync <= 0 {
		cfg.Resync = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Agent{cfg: cfg, eng: cfg.Reconciler.Engine, log: cfg.Logger, trigger: trigger.New(), m: newAgentMetrics(cfg.Registry)}
	rc := cfg.Reconciler
	rc.Logger = cfg.Logger
	rc.OnHealth = func(name, health string) {
		a.log.Info("container health", "container", name, "health", health)
		a.trigger.Notify("health " + name + " " + health)
	}
	rec, err := NewReconciler(rc)
	if err != nil {
		return nil, err
	}
	a.rec = rec
	a.status = agentapi.Status{Host: rc.Host, LastResult: agentapi.ResultPending}
	return a, nil
}

// Trigger is what makes the agent sync now.
func (a *Agent) Trigger() *trigger.Trigger { return a.trigger }

// Run reconciles at start, on every trigger, on engine events about
// managed containers and every Resync, until ctx is cancelled. An
// unreachable engine or git server is reported and retried; it never stops
// the agent.
func (a *Agent) Run(ctx context.Context) error {
	defer a.rec.Close()
	go a.watchEvents(ctx)
	retry := time.Duration(0)
	return a.trigger.Loop(ctx, func(ctx context.Context, _ trigger.Reason) time.Duration {
		res := a.Reconcile(ctx)
		// Not converged (the engine is down, a container is restarting or
		// its image is missing): look again soon, backing off to Resync.
		if res.Converged() {
			retry = 0
			return a.cfg.Resync
		}
		retry = min(max(2*retry, 500*time.Millisecond), a.cfg.Resync)
		return retry
	})
}

// watchEvents triggers a pass whenever the engine reports a managed
// container dying or going away; it reconnects after engine restarts.
func (a *Agent) watchEvents(ctx context.Context) {
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		f := filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)), filters.Arg("label", LabelContainer))
		for _, e := range []string{"die", "destroy", "stop", "oom", "start"} {
			f.Add("event", e)
		}
		msgs, errs := a.eng.c.Events(ctx, events.ListOptions{Filters: f})
		connected := time.Now()
	loop:
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-msgs:
				if m.Action != "start" {
					a.trigger.Notify(fmt.Sprintf("engine event %s %s", m.Action, m.Actor.Attributes[LabelContainer]))
				}
			case err := <-errs:
				if ctx.Err() == nil {
					a.log.Debug("engine events", "err", err)
				}
				break loop
			}
		}
		if time.Since(connected) > time.Minute {
			backoff = 200 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// Reconcile runs one pass now: fetch, load, apply.
func (a *Agent) Reconcile(ctx context.Context) Result {
	start := time.Now()
	steps := map[string]float64{}
	res := a.pass(ctx, steps)
	for k, v := range res.Steps {
		steps[k] = v
	}
	res.Steps = steps
	a.record(res, start)
	return res
}

func (a *Agent) pass(ctx context.Context, steps map[string]float64) Result {
	t := time.Now()
	snap, err := a.cfg.Source.Sync(ctx)
	steps["fetch"] = time.Since(t).Seconds()
	if err != nil {
		return a.stale(ctx, fmt.Errorf("fetching desired state: %w", err))
	}
	rev := snap.Revision.Hash
	a.mu.Lock()
	a.status.DesiredRevision = rev
	f := a.cached.fleet
	cachedRev := a.cached.rev
	a.mu.Unlock()
	if cachedRev != rev || f == nil {
		t = time.Now()
		nf, err := desired.Load(snap.FS)
		steps["load"] = time.Since(t).Seconds()
		if err != nil {
			a.mu.Lock()
			a.failedRev = rev
			a.mu.Unlock()
			return a.stale(ctx, fmt.Errorf("revision %s is invalid, keeping what runs: %w", shortRev(rev), err))
		}
		f = nf
		a.mu.Lock()
		a.cached.rev, a.cached.fleet = rev, nf
		a.mu.Unlock()
	}
	a.mu.Lock()
	a.failedRev = "" // the head is a valid revision: the invalid one is behind
	a.mu.Unlock()
	res := a.rec.Apply(ctx, rev, f)
	if res.Err == nil {
		a.mu.Lock()
		if z, _ := f.ContainerHost(a.rec.cfg.Host); z != nil {
			a.status.Zone = z.Name
		}
		a.mu.Unlock()
	}
	return res
}

// stale is a pass that did not reach the engine for want of a usable
// revision: the last known states stay, with err.
func (a *Agent) stale(ctx context.Context, err error) Result {
	a.mu.Lock()
	f, rev := a.cached.fleet, a.cached.rev
	a.mu.Unlock()
	if f != nil {
		// Keep the last good revision running (drift correction too).
		res := a.rec.Apply(ctx, rev, f)
		if res.Err == nil {
			res.Err = err
		}
		return res
	}
	return Result{Err: err, Ops: map[string]int{}, Steps: map[string]float64{}}
}

func (a *Agent) record(res Result, start time.Time) {
	now := time.Now()
	result := agentapi.ResultNoop
	switch {
	case res.Err != nil:
		result = agentapi.ResultFailed
	case !res.Converged():
		result = agentapi.ResultDegraded
	case len(res.Ops) > 0:
		result = agentapi.ResultApplied
	}
	a.m.observe(res, result, now.Sub(start))
	a.mu.Lock()
	defer a.mu.Unlock()
	s := &a.status
	s.Counts.Reconciles++
	s.LastReconcile = now
	s.LastResult = result
	s.FailedRevision = a.failedRev
	s.LastError = ""
	if res.Err != nil {
		s.LastError = res.Err.Error()
	}
	s.Steps = res.Steps
	s.Drift = res.Drift
	s.Containers = res.Containers
	if res.Err == nil && a.cached.rev != "" {
		if s.AppliedRevision != a.cached.rev {
			s.AppliedAt = now
		}
		s.AppliedRevision = a.cached.rev
	}
	level := slog.LevelDebug
	if res.Err != nil || len(res.Ops) > 0 || len(res.Drift) > 0 {
		level = slog.LevelInfo
	}
	a.log.Log(context.Background(), level, "container reconcile", "result", result, "ops", res.Ops, "drift", len(res.Drift), "err", res.Err, "duration", now.Sub(start).Round(time.Microsecond))
}

// Status is the agent's report: the revision and each container's state
// and health (refreshed between passes).
func (a *Agent) Status() agentapi.Status {
	a.mu.Lock()
	s := a.status
	s.Containers = append([]agentapi.ContainerStatus(nil), s.Containers...)
	s.Drift = append([]string(nil), s.Drift...)
	a.mu.Unlock()
	for i := range s.Containers {
		c := &s.Containers[i]
		if c.State == agentapi.ContainerRunning && c.Health != HealthNone {
			c.Health = a.rec.Health(c.Name)
		}
	}
	return s
}

// Handler serves the container role's HTTP API, the same paths as an
// HAProxy host's agent (agentapi.NewHandler): /healthz, /readyz, /v1/status,
// /v1/sync (authenticated by auth) and /metrics (from gatherer).
func (a *Agent) Handler(auth trigger.HTTPAuth, gatherer prometheus.Gatherer) (http.Handler, error) {
	sync, err := a.trigger.HTTPHandler(auth)
	if err != nil {
		return nil, err
	}
	return agentapi.NewHandler(agentapi.Endpoints{Sync: sync, Status: a.Status, Gatherer: gatherer}), nil
}

// agentMetrics are the container role's series.
type agentMetrics struct {
	containers *prometheus.GaugeVec
	ops        *prometheus.CounterVec
	reconciles *prometheus.CounterVec
	duration   prometheus.Histogram
	steps      *prometheus.HistogramVec
	drift      prometheus.Counter
}

func newAgentMetrics(reg prometheus.Registerer) *agentMetrics {
	m := &agentMetrics{
		containers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ddc_gitops_agent_containers", Help: "Declared containers of this container host by state (running, exited, missing, image-missing, error, unknown, ...).",
		}, []string{"state"}),
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ddc_gitops_agent_container_ops_total", Help: "Container operations by kind (create, replace, recreate, remove).",
		}, []string{"op"}),
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ddc_gitops_agent_reconcile_total", Help: "Reconciles by result (applied, noop, degraded, failed).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ddc_gitops_agent_reconcile_duration_seconds", Help: "Duration of one reconcile, fetch to record.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ddc_gitops_agent_step_duration_seconds", Help: "Duration of each step of a reconcile (fetch, load, ping, network, list, containers).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"step"}),
		drift: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ddc_gitops_agent_drift_total", Help: "Differences found between the host and its desired state that nobody committed.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.containers, m.ops, m.reconciles, m.duration, m.steps, m.drift)
	}
	return m
}

func (m *agentMetrics) observe(res Result, result string, d time.Duration) {
	m.reconciles.WithLabelValues(result).Inc()
	m.duration.Observe(d.Seconds())
	for k, v := range res.Steps {
		m.steps.WithLabelValues(k).Observe(v)
	}
	for op, n := range res.Ops {
		m.ops.WithLabelValues(op).Add(float64(n))
	}
	m.drift.Add(float64(len(res.Drift)))
	m.containers.Reset()
	for _, s := range []string{agentapi.ContainerRunning, agentapi.ContainerExited, agentapi.ContainerMissing, agentapi.ContainerImageMissing, agentapi.ContainerError, agentapi.ContainerUnknown} {
		m.containers.WithLabelValues(s).Set(0)
	}
	for _, c := range res.Containers {
		m.containers.WithLabelValues(c.State).Inc()
	}
}
