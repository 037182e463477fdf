package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/gittree"
	"github.com/ddc-gitops/ddc-gitops/reconciler/atomicfile"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// The health gate (docs/rollouts.md, "Health gate"): a sampler reads this
// host's HAProxy stats and probes its frontends and VIPs at every sample
// interval, always, so a "before" exists when a revision is applied. After
// an apply that changed the host, the gate watches for the window without
// holding up the reconciles; GateVerdict decides. Passed, the revision is
// the host's last good revision. Tripped, the revision is quarantined on
// this host and the next reconcile applies the last good revision instead
// (the quarantine substitution) through the normal apply path, until a
// newer commit arrives.

// revisionReader is a Fetcher that can also read an older revision
// (*source.Source can; DirSource cannot, it falls back to the rendered
// last good host saved in the state directory).
type revisionReader interface {
	At(ctx context.Context, rev string) (*source.Snapshot, error)
}

// maxQuarantined bounds the quarantine list kept in the agent state.
const maxQuarantined = 16

const (
	gateStateFile    = "gate-state.json"
	gateLastGoodFile = "gate-last-good-host.json"
)

// gatePersisted is the gate's part of the agent state, kept across restarts.
type gatePersisted struct {
	LastGoodRevision string                `json:"lastGoodRevision,omitempty"`
	Quarantined      []agentapi.Quarantine `json:"quarantined,omitempty"`
}

// gateConfig is the gate's configuration from the revision last loaded.
type gateConfig struct {
	enabled                bool
	window, interval, wait time.Duration // wait: probe timeout
	th                     desired.GateThresholds
	targets                []gateTarget
}

func gateConfigOf(g desired.HealthGate, targets []gateTarget) gateConfig {
	return gateConfig{enabled: g.On(), window: g.Window.D(), interval: g.SampleInterval.D(), wait: g.ProbeTimeout.D(), th: g.Thresholds, targets: targets}
}

// defaultGateConfig is the gate before any revision was loaded.
func defaultGateConfig() gateConfig {
	return gateConfigOf(desired.DefaultHealthGate(), nil)
}

// gateWatch is the watch of one applied revision.
type gateWatch struct {
	rev            string
	applied, until time.Time
	before         GateReading
}

// gateResult is a verdict waiting for the next reconcile to act on it.
type gateResult struct {
	rev      string
	tripped  bool
	verdict  string
	evidence []agentapi.GateEvidence
}

type gateMetrics struct {
	tripped, passed prometheus.Counter
	quarantined     *prometheus.GaugeVec
}

// gate is the agent's health gate.
type gate struct {
	a       *Agent
	metrics gateMetrics
	wake    chan struct{} // the configuration changed
	// pendingSince is when the sampler first saw each server waiting for
	// admission (the sampling goroutine's own).
	pendingSince map[string]time.Time

	mu      sync.Mutex // guards the fields below
	cfg     gateConfig
	samples []*gateSample
	watch   *gateWatch
	// chainBefore is the reading before the first revision applied since
	// the last good one: a later revision restarts the watch against it.
	chainBefore *GateReading
	pending     *gateResult
	// sampling: the sampler runs (Agent.Run); without it (a single
	// reconcile, --once) nothing could judge a watch.
	sampling bool

	// st and lastGood are read and changed by reconciles only (Agent.mu).
	st       gatePersisted
	lastGood *savedHost
}

// savedHost is the rendered host of one revision, kept (in memory and in
// the state directory) for a rollback when the revision cannot be read
// from the source again.
type savedHost struct {
	Revision string       `json:"revision"`
	Host     *render.Host `json:"host"`
}

func newGate(a *Agent) *gate {
	g := &gate{a: a, cfg: defaultGateConfig(), wake: make(chan struct{}, 1)}
	g.metrics = gateMetrics{
		tripped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ddc_gitops_agent_gate_tripped_total", Help: "Revisions whose health gate tripped on this host (rolled back and quarantined).",
		}),
		passed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ddc_gitops_agent_gate_passed_total", Help: "Revisions whose health gate window ended with no threshold crossed.",
		}),
		quarantined: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ddc_gitops_agent_quarantined_revision", Help: "A revision this host refuses to apply until a newer commit arrives (value 1).",
		}, []string{"revision"}),
	}
	if a.cfg.Registry != nil {
		a.cfg.Registry.MustRegister(g.metrics.tripped, g.metrics.passed, g.metrics.quarantined)
	}
	g.load()
	return g
}

// load restores the persisted gate state. An agent without one (first
// start, or an upgrade) takes the revision it runs as its last good one.
func (g *gate) load() {
	a := g.a
	b, err := os.ReadFile(a.statePath(gateStateFile))
	if err == nil {
		if err := json.Unmarshal(b, &g.st); err != nil {
			a.log.Warn("ignoring unreadable health gate state", "file", a.statePath(gateStateFile), "err", err)
			g.st = gatePersisted{}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		a.log.Warn("reading health gate state", "err", err)
	}
	if g.st.LastGoodRevision == "" {
		g.st.LastGoodRevision = a.state.AppliedRevision
	}
	for _, q := range g.st.Quarantined {
		g.metrics.quarantined.WithLabelValues(q.Revision).Set(1)
	}
	g.publish()
}

func (g *gate) save() {
	b, err := json.MarshalIndent(g.st, "", "  ")
	if err == nil {
		_, err = atomicfile.Write(g.a.statePath(gateStateFile), append(b, '\n'), 0o600)
	}
	if err != nil {
		g.a.log.Error("saving health gate state", "err", err)
	}
}

// publish puts the last good revision and the quarantines in the status.
func (g *gate) publish() {
	lg, q := g.st.LastGoodRevision, slices.Clone(g.st.Quarantined)
	g.a.updateStatus(func(s *agentapi.Status) { s.LastGoodRevision, s.Quarantined = lg, q })
}

func (g *gate) setGateStatus(gs agentapi.GateStatus) {
	g.a.updateStatus(func(s *agentapi.Status) { s.Gate = &gs })
}

func (g *gate) isQuarantined(rev string) bool {
	return slices.ContainsFunc(g.st.Quarantined, func(q agentapi.Quarantine) bool { return q.Revision == rev })
}

// configure takes the gate's settings and probe targets from a loaded revision.
func (g *gate) configure(f *desired.Fleet, host string) {
	cfg := gateConfigOf(f.HealthGate, gateTargets(f, host))
	g.mu.Lock()
	changed := cfg.interval != g.cfg.interval
	g.cfg = cfg
	g.mu.Unlock()
	if changed {
		select {
		case g.wake <- struct{}{}:
		default:
		}
	}
}

// run samples the data plane at the sample interval until ctx ends.
func (g *gate) run(ctx context.Context) {
	g.mu.Lock()
	g.sampling = true
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.sampling = false
		g.mu.Unlock()
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	failing := 0 // samples in a row that could not read haproxy's stats
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.wake:
			timer.Reset(0)
			continue
		case <-timer.C:
		}
		g.mu.Lock()
		cfg := g.cfg
		g.mu.Unlock()
		timer.Reset(cfg.interval)
		s, err := takeSample(ctx, g.a.runtime, g.netns(), cfg.targets, cfg.wait, g.heldOut(g.a.cfg.Now()))
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			// A reload can make the runtime socket miss a sample; say so
			// when it lasts.
			if failing++; failing == 3 {
				g.a.log.Warn("health gate cannot read haproxy's stats", "err", err)
			}
		case failing >= 3:
			g.a.log.Info("health gate reads haproxy's stats again")
			failing = 0
		default:
			failing = 0
		}
		if s == nil {
			continue
		}
		s.at = g.a.cfg.Now()
		g.add(s, cfg)
	}
}

// netns is the network namespace haproxy runs in: keepalived's (the agent
// --netns of the lab), else the agent's own.
func (g *gate) netns() string {
	if k := g.a.cfg.Keepalived; k != nil {
		return k.Netns
	}
	return ""
}

// heldOut are the servers waiting for their first passing health check
// (admission.go) for less than the admit timeout: the agent holds them out
// of service on purpose, so they do not count in the UP ratio until then;
// a server still waiting after it (stuck) counts, as a server not UP. Only
// the sampling goroutine calls it.
func (g *gate) heldOut(now time.Time) map[string]bool {
	waiting := g.a.admWatch.get()
	next := make(map[string]time.Time, len(waiting))
	out := map[string]bool{}
	for _, k := range waiting {
		since, ok := g.pendingSince[k]
		if !ok {
			since = now
		}
		next[k] = since
		if now.Sub(since) < g.a.cfg.AdmitTimeout {
			out[k] = true
		}
	}
	g.pendingSince = next
	return out
}

// add keeps a sample (a window and a bit of them) and judges the watch.
func (g *gate) add(s *gateSample, cfg gateConfig) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.samples = append(g.samples, s)
	keep := s.at.Add(-cfg.window - 2*cfg.interval)
	if w := g.watch; w != nil && w.applied.Before(keep) {
		keep = w.applied.Add(-cfg.interval)
	}
	i := 0
	for i < len(g.samples)-2 && g.samples[i].at.Before(keep) {
		i++
	}
	g.samples = slices.Delete(g.samples, 0, i)

	w := g.watch
	if w == nil {
		return
	}
	tripped, verdict, ev := GateVerdict(cfg.th, w.before, afterReading(g.samples, w.applied))
	gs := agentapi.GateStatus{Revision: w.rev, State: agentapi.GateWatching, Since: w.applied, Until: w.until, Evidence: ev}
	switch {
	case tripped:
		gs.State, gs.Verdict = agentapi.GateTripped, verdict
	case !s.at.Before(w.until):
		gs.State = agentapi.GatePassed
	default:
		g.setGateStatus(gs)
		return
	}
	g.watch = nil
	g.pending = &gateResult{rev: w.rev, tripped: tripped, verdict: verdict, evidence: ev}
	g.setGateStatus(gs)
	g.a.trigger.Notify("health gate " + gs.State)
}

// ensureBaseline takes a sample now when the sampler has none yet (the
// agent has just started): a revision applied by the first reconcile is
// judged against the data plane before it, never against nothing.
func (g *gate) ensureBaseline(ctx context.Context) {
	g.mu.Lock()
	cfg, have := g.cfg, len(g.samples) > 0
	g.mu.Unlock()
	if have || !cfg.enabled {
		return
	}
	held := map[string]bool{} // servers waiting for admission are out on purpose
	for _, k := range g.a.admWatch.get() {
		held[k] = true
	}
	s, err := takeSample(ctx, g.a.runtime, g.netns(), cfg.targets, cfg.wait, held)
	if s == nil {
		g.a.log.Warn("health gate: no reading of the data plane before the apply", "err", err)
		return
	}
	s.at = g.a.cfg.Now()
	g.add(s, cfg)
}

// start watches rev, applied now after an apply that began at applyStart.
func (g *gate) start(rev string, applyStart, applied time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.chainBefore == nil {
		b := beforeReading(g.samples, applyStart)
		g.chainBefore = &b
	}
	w := &gateWatch{rev: rev, applied: applied, until: applied.Add(g.cfg.window), before: *g.chainBefore}
	g.watch, g.pending = w, nil
	g.setGateStatus(agentapi.GateStatus{Revision: rev, State: agentapi.GateWatching, Since: applied, Until: w.until})
}

func (g *gate) watching() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.watch != nil
}

// stop ends any watch (and drops a verdict not acted on yet).
func (g *gate) stop() {
	g.mu.Lock()
	g.watch, g.pending = nil, nil
	g.mu.Unlock()
}

// take returns the verdict waiting to be acted on, if any.
func (g *gate) take() *gateResult {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.pending
	g.pending = nil
	return p
}

// setLastGood records rev, whose rendered host is h (nil if unknown), as
// this host's last good revision. Without h, the host saved for an earlier
// revision is dropped: a rollback never applies one revision's
// configuration under another's name.
func (g *gate) setLastGood(rev string, h *render.Host) {
	g.mu.Lock()
	g.chainBefore = nil
	g.mu.Unlock()
	path := g.a.statePath(gateLastGoodFile)
	if h != nil {
		g.lastGood = &savedHost{Revision: rev, Host: h}
		b, err := json.Marshal(g.lastGood)
		if err == nil {
			_, err = atomicfile.Write(path, b, 0o600)
		}
		if err != nil {
			g.a.log.Error("saving the last good rendered host", "err", err)
		}
	} else if g.lastGood == nil || g.lastGood.Revision != rev {
		g.lastGood = nil
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			g.a.log.Error("removing the saved rendered host of an earlier revision", "err", err)
		}
	}
	if g.st.LastGoodRevision == rev {
		return
	}
	g.st.LastGoodRevision = rev
	g.save()
	g.publish()
}

// savedLastGood is the rendered host of the last good revision rev, from
// memory or the state directory.
func (g *gate) savedLastGood(rev string) (*render.Host, error) {
	if g.lastGood == nil {
		b, err := os.ReadFile(g.a.statePath(gateLastGoodFile))
		if err != nil {
			return nil, fmt.Errorf("reading the saved last good host: %w", err)
		}
		var sh savedHost
		if err := json.Unmarshal(b, &sh); err != nil || sh.Host == nil {
			return nil, fmt.Errorf("decoding the saved last good host %s: not a saved host (%v)", g.a.statePath(gateLastGoodFile), err)
		}
		g.lastGood = &sh
	}
	if g.lastGood.Revision != rev {
		return nil, fmt.Errorf("the saved rendered host is of revision %s, not of the last good revision %s", short(g.lastGood.Revision), short(rev))
	}
	return g.lastGood.Host, nil
}

// quarantine records a tripped revision.
func (g *gate) quarantine(res *gateResult) {
	a := g.a
	g.st.Quarantined = append(g.st.Quarantined, agentapi.Quarantine{Revision: res.rev, At: a.cfg.Now(), Reason: res.verdict, Evidence: res.evidence})
	if n := len(g.st.Quarantined); n > maxQuarantined {
		for _, q := range g.st.Quarantined[:n-maxQuarantined] {
			g.metrics.quarantined.DeleteLabelValues(q.Revision)
		}
		g.st.Quarantined = slices.Clone(g.st.Quarantined[n-maxQuarantined:])
	}
	g.metrics.tripped.Inc()
	g.metrics.quarantined.WithLabelValues(res.rev).Set(1)
	g.save()
	g.publish()
	a.log.Error("health gate tripped: revision quarantined on this host, rolling back to the last good revision",
		"revision", short(res.rev), "lastGood", short(g.st.LastGoodRevision), "verdict", res.verdict)
}

// lift ends the quarantines: a newer revision was applied.
func (g *gate) lift(rev string) {
	if len(g.st.Quarantined) == 0 {
		return
	}
	var revs []string
	for _, q := range g.st.Quarantined {
		g.metrics.quarantined.DeleteLabelValues(q.Revision)
		revs = append(revs, short(q.Revision))
	}
	g.st.Quarantined = nil
	g.save()
	g.publish()
	g.a.log.Info("quarantine lifted: a newer revision was applied", "revision", short(rev), "quarantined", strings.Join(revs, ","))
}

// gateVerdict acts on a verdict of the gate (reconcile hook, after the
// fetch): passed, the watched revision is the last good one; tripped, it is
// quarantined (gateSubstitute then rolls it back).
func (r *run) gateVerdict() {
	a := r.a
	g := a.gate
	res := g.take()
	applied := a.state.AppliedRevision
	if res == nil && applied != "" && applied != g.st.LastGoodRevision && !g.isQuarantined(applied) && !g.watching() {
		// The agent restarted during a watch: watch again, with the
		// samples taken since the start as the before.
		now := a.cfg.Now()
		g.start(applied, now, now)
		return
	}
	if res == nil || res.rev != applied {
		return // none, or of a revision no longer applied
	}
	if !res.tripped {
		var h *render.Host
		if a.cached.rev == res.rev {
			h = a.cached.host
		}
		g.metrics.passed.Inc()
		a.log.Info("health gate passed", "revision", short(res.rev))
		g.setLastGood(res.rev, h)
		return
	}
	g.quarantine(res)
}

// rollbackTo returns the last good revision and true when the host must go
// back to it: the head is quarantined, or the applied revision is (a newer
// head arrived during the watch, and may be held, invalid or refused; it
// is considered once the host runs the last good revision again).
func (g *gate) rollbackTo(head, applied string) (string, bool) {
	lg := g.st.LastGoodRevision
	if lg == "" || lg == head {
		return "", false
	}
	if g.isQuarantined(head) || applied != lg && g.isQuarantined(applied) {
		return lg, true
	}
	return "", false
}

// gateSubstitute is the quarantine substitution (reconcile hook, after the
// fetch): a quarantined head or applied revision means the desired state
// is the last good revision's. It returns the snapshot to reconcile.
func (r *run) gateSubstitute(ctx context.Context, snap *source.Snapshot) (*source.Snapshot, error) {
	a := r.a
	g := a.gate
	head := snap.Revision.Hash
	lg, due := g.rollbackTo(head, a.state.AppliedRevision)
	if !due {
		return snap, nil
	}
	r.substituted = true
	if a.cached.rev == lg && a.cached.host != nil {
		return &source.Snapshot{Revision: gittree.Revision{Hash: lg}}, nil
	}
	if rr, ok := a.cfg.Source.(revisionReader); ok {
		s, err := rr.At(ctx, lg)
		if err == nil {
			return s, nil
		}
		a.log.Warn("reading the last good revision from the source, using the saved rendered host", "revision", short(lg), "err", err)
	}
	h, err := g.savedLastGood(lg)
	if err != nil {
		return nil, fmt.Errorf("rolling back to the last good revision %s, which cannot be read: %w", short(lg), err)
	}
	// The fleet cached is the quarantined revision's: nothing may be
	// rendered from it under the last good revision's name.
	a.cached.rev, a.cached.host, a.cached.fleet = lg, h, nil
	return &source.Snapshot{Revision: gittree.Revision{Hash: lg}}, nil
}

// gateApplied starts the watch of a newly applied revision (record hook,
// before the applied revision is recorded). A revision that changed
// nothing on this host, applied with the gate off or without the sampler
// running (a single reconcile: --once), or applied first (there is no
// earlier one to go back to) is at once the last good one.
func (r *run) gateApplied(rev string, newRevision, changed bool) {
	a := r.a
	g := a.gate
	if !newRevision {
		return
	}
	if r.substituted {
		g.stop()
		g.mu.Lock()
		g.chainBefore = nil // the next revision is judged against readings of the last good one
		g.mu.Unlock()
		a.updateStatus(func(s *agentapi.Status) { s.Counts.Rollbacks++ })
		a.log.Warn("rolled back to the last good revision", "revision", short(rev), "head", short(r.desiredRev))
		if !g.isQuarantined(r.desiredRev) {
			a.trigger.Notify("rolled back; the head is considered next")
		}
		return
	}
	if !g.isQuarantined(rev) {
		g.lift(rev)
	}
	g.mu.Lock()
	enabled := g.cfg.enabled && g.sampling
	g.mu.Unlock()
	if !enabled || !changed || a.state.AppliedRevision == "" || g.st.LastGoodRevision == "" {
		g.stop()
		g.setLastGood(rev, r.renderedFor(rev))
		return
	}
	applyStart := r.applyStart
	if applyStart.IsZero() {
		applyStart = r.start
	}
	g.start(rev, applyStart, a.cfg.Now())
}

// renderedFor is the rendered host of rev, if the reconcile has it.
func (r *run) renderedFor(rev string) *render.Host {
	if r.a.cached.rev == rev {
		return r.a.cached.host
	}
	return nil
}
