package reconciler

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// Rollout waves (docs/rollouts.md, "Waves"). Every host has a wave in git
// (desired/rollout.go). Before it applies a new revision R that needs an
// HAProxy reload, a keepalived change or a frontend/backend change (with
// rollout.serverChanges: waves, any change), an agent asks every host of
// every earlier wave for its status (GET /v1/status at the address git
// lists for it: no coordinator to lose) and applies R only when each of
// them reports R done: its LastGoodRevision is R or a descendant of R.
// Until then it keeps serving what it runs and asks again every
// rollout.recheckInterval. A person's decision about R (refs/ddc-rollout,
// agentapi/decision.go) overrides: hold stops every host that does not run
// R yet, promote lets every host apply R without waiting.

// resultHolding is the Outcome result of a reconcile that waits for earlier waves.
const resultHolding = "holding"

// waveState is the agent's part in rollout waves.
type waveState struct {
	holding *prometheus.GaugeVec // 1 for the revision this host holds back
	waveNum prometheus.Gauge
	client  *http.Client

	// plan is the wave plan of revision planRev, set when it is rendered.
	plan    wavePlan
	planRev string
	// held is the revision held back now, since when.
	held      string
	heldSince time.Time
}

// wavePlan is what one revision says about this host's wave.
type wavePlan struct {
	wave          int
	serverChanges string
	peerTimeout   time.Duration
	recheck       time.Duration
	// earlier are the hosts of every earlier wave, in wave order.
	earlier []wavePeer
}

// wavePeer is a host of an earlier wave.
type wavePeer struct {
	host string
	wave int
	url  string // its agent's base URL
}

func newWaveState(reg prometheus.Registerer) *waveState {
	w := &waveState{
		holding: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ddc_gitops_agent_rollout_holding",
			Help: "1 while this host holds a revision back, waiting for earlier rollout waves or a person's hold (docs/rollouts.md).",
		}, []string{"revision"}),
		waveNum: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ddc_gitops_agent_rollout_wave", Help: "This host's rollout wave in the revision rendered last.",
		}),
		client: &http.Client{},
	}
	if reg != nil {
		reg.MustRegister(w.holding, w.waveNum)
	}
	return w
}

// setPlan records the wave plan of rev, which was just rendered for host.
func (w *waveState) setPlan(rev string, f *desired.Fleet, host string) {
	w.plan, w.planRev = newWavePlan(f, host), rev
	w.waveNum.Set(float64(w.plan.wave))
}

// newWavePlan returns host's wave in f and the hosts of the earlier waves.
func newWavePlan(f *desired.Fleet, host string) wavePlan {
	ro := f.Rollout
	p := wavePlan{serverChanges: ro.ServerChanges, peerTimeout: ro.PeerTimeout.D(), recheck: ro.RecheckInterval.D()}
	if _, h := f.Host(host); h != nil {
		p.wave = h.HostWave()
	}
	for _, z := range f.Zones {
		for _, h := range z.Hosts {
			if w := h.HostWave(); w < p.wave && h.Name != host {
				p.earlier = append(p.earlier, wavePeer{host: h.Name, wave: w, url: h.AgentStatusURL(ro.AgentPort)})
			}
		}
	}
	slices.SortStableFunc(p.earlier, func(a, b wavePeer) int { return a.wave - b.wave })
	return p
}

// Optional interfaces of the Fetcher (*source.Source has both).
type (
	ancestryReader interface {
		IsAncestor(ctx context.Context, a, b string) (bool, error)
	}
	decisionReader interface {
		RolloutDecisions(ctx context.Context) (agentapi.Decisions, error)
	}
)

// waveHold decides whether this host applies rev (rendered as want) now.
// When it must wait it publishes why and returns the outcome to report,
// and true; the host keeps running what it runs.
func (r *run) waveHold(ctx context.Context, rev string, want *render.Host) (Outcome, bool) {
	a := r.a
	if r.substituted {
		return Outcome{}, false // a rollback to the last good revision never waits
	}
	w := a.waves
	var plan wavePlan
	if w.planRev == rev {
		plan = w.plan
	}
	if rev == a.state.AppliedRevision {
		a.releaseWave(plan.wave, "")
		return Outcome{}, false
	}
	decision := ""
	if dr, ok := a.cfg.Source.(decisionReader); ok {
		d, err := dr.RolloutDecisions(ctx)
		if err != nil {
			a.log.Warn("reading rollout decisions, using the ones fetched before", "err", err)
		}
		decision = d[rev]
	}
	var waiting []string
	switch {
	case decision == agentapi.DecisionHold:
		waiting = []string{"held by a person (ddc-gitops rollout hold " + short(rev) + "); `ddc-gitops rollout promote " + short(rev) + "` releases it"}
	case a.state.AppliedRevision == "" || decision == agentapi.DecisionPromote || len(plan.earlier) == 0 ||
		!r.needsWave(want, plan.serverChanges):
		// Nothing runs here yet, a person promoted rev, no wave comes
		// before this host, or rev changes only servers (or nothing) here.
	default:
		waiting = r.askEarlierWaves(ctx, rev, plan)
	}
	if len(waiting) == 0 {
		a.releaseWave(plan.wave, decision)
		return Outcome{}, false
	}
	now := a.cfg.Now()
	if w.held != rev {
		if w.held != "" {
			w.holding.DeleteLabelValues(w.held)
		}
		w.held, w.heldSince = rev, now
		w.holding.WithLabelValues(rev).Set(1)
		a.log.Info("holding a revision for earlier rollout waves", "revision", short(rev), "wave", plan.wave, "waitingFor", waiting)
	}
	ws := &agentapi.WaveStatus{Wave: plan.wave, Holding: rev, WaitingFor: waiting, Since: w.heldSince, Decision: decision}
	a.updateStatus(func(s *agentapi.Status) { s.Wave = ws })
	retry := plan.recheck
	if retry <= 0 {
		retry = desired.DefaultRecheckInterval
	}
	return Outcome{Result: resultHolding, Revision: rev, RetryAfter: retry}, true
}

// releaseWave publishes that this host holds nothing back.
func (a *Agent) releaseWave(wave int, decision string) {
	w := a.waves
	if w.held != "" {
		w.holding.DeleteLabelValues(w.held)
		w.held, w.heldSince = "", time.Time{}
	}
	ws := &agentapi.WaveStatus{Wave: wave, Decision: decision}
	a.updateStatus(func(s *agentapi.Status) { s.Wave = ws })
}

// needsWave reports whether applying want on this host goes wave by wave:
// its haproxy.cfg skeleton (everything but server lines: a reload, a
// frontend or backend change) or its keepalived.conf changes, or, with
// serverChanges: waves, anything in its haproxy.cfg. It compares with the
// rendered running revision when the agent has it, else with the files.
func (r *run) needsWave(want *render.Host, serverChanges string) bool {
	a := r.a
	var cfg, ka []byte
	if r.prev != nil {
		cfg, ka = r.prev.HAProxy, r.prev.Keepalived
	} else {
		cfg, _ = os.ReadFile(a.cfg.HAProxy.ConfigPath)
		if a.cfg.Keepalived != nil {
			ka, _ = os.ReadFile(a.cfg.Keepalived.ConfigPath)
		}
	}
	if a.cfg.Keepalived != nil && !bytes.Equal(ka, want.Keepalived) {
		return true
	}
	if serverChanges == desired.ServerChangesWaves {
		return !bytes.Equal(cfg, want.HAProxy)
	}
	return !render.SkeletonEqual(cfg, want.HAProxy)
}

// peerReport is one earlier-wave host's answer.
type peerReport struct {
	peer   wavePeer
	status *agentapi.Status
	err    error
}

// askEarlierWaves reads the status of every earlier-wave host (in
// parallel, each bounded by the peer timeout) and returns why rev must
// wait, one entry per host that has not reported it done.
func (r *run) askEarlierWaves(ctx context.Context, rev string, plan wavePlan) []string {
	a := r.a
	reports := make([]peerReport, len(plan.earlier))
	var wg sync.WaitGroup
	for i, p := range plan.earlier {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, plan.peerTimeout)
			defer cancel()
			c := agentapi.Client{BaseURL: p.url, HTTP: a.waves.client}
			st, err := c.Status(pctx)
			reports[i] = peerReport{peer: p, status: st, err: err}
		}()
	}
	wg.Wait()
	anc, _ := a.cfg.Source.(ancestryReader)
	done := func(good string) bool {
		if good == rev {
			return true
		}
		if anc == nil || good == "" {
			return false
		}
		ok, err := anc.IsAncestor(ctx, rev, good)
		if err != nil {
			a.log.Warn("checking whether a peer's revision descends from the one to apply", "revision", short(rev), "peerRevision", short(good), "err", err)
		}
		return ok
	}
	return waitingFor(rev, reports, done)
}

// waitingFor returns, for each report whose host has not reported rev
// done, "host (wave N): reason"; empty when every host has. done says
// whether a host's last good revision is rev or descends from it.
func waitingFor(rev string, reports []peerReport, done func(lastGood string) bool) []string {
	var out []string
	for _, rp := range reports {
		ok, reason := peerState(rev, rp, done)
		if !ok {
			out = append(out, rp.peer.host+" (wave "+strconv.Itoa(rp.peer.wave)+"): "+reason)
		}
	}
	return out
}

// Reasons an earlier-wave host is waited for.
const (
	reasonUnreachable = "unreachable"
	reasonNotApplied  = "not yet applied"
	reasonWatching    = "gate watching"
	reasonQuarantined = "quarantined"
	reasonNotGood     = "applied, not yet reported good"
	reasonFailed      = "failed to apply"
)

// peerState says whether one earlier-wave host reported rev done, and if
// not, why.
func peerState(rev string, rp peerReport, done func(string) bool) (bool, string) {
	if rp.err != nil {
		return false, reasonUnreachable + ": " + rp.err.Error()
	}
	st := rp.status
	if st == nil {
		return false, reasonUnreachable + ": no status"
	}
	for _, q := range st.Quarantined {
		if q.Revision == rev {
			return false, reasonQuarantined + " " + short(rev) + ": " + q.Reason
		}
	}
	if st.LastGoodRevision != "" && done(st.LastGoodRevision) {
		return true, ""
	}
	switch {
	case st.Gate != nil && st.Gate.Revision == rev && st.Gate.State == agentapi.GateWatching:
		if !st.Gate.Until.IsZero() {
			return false, reasonWatching + " until " + st.Gate.Until.UTC().Format(time.RFC3339)
		}
		return false, reasonWatching
	case st.AppliedRevision == rev:
		return false, reasonNotGood + " (" + st.LastResult + ")"
	case st.FailedRevision == rev:
		return false, reasonFailed + ": " + st.LastError
	case st.Wave != nil && st.Wave.Holding == rev:
		return false, reasonNotApplied + " (holding it for its own earlier waves)"
	default:
		runs := st.AppliedRevision
		if runs == "" {
			runs = "nothing"
		}
		return false, reasonNotApplied + " (runs " + short(runs) + ")"
	}
}
