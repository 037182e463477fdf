package reconciler

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// Timed overrides (docs/rollouts.md, "Overrides"). The renderer applies
// the overrides in force at the agent's clock (render.Options.Now), so the
// desired state the agent plans, applies, verifies and corrects drift
// against is the overridden one: drift correction never heals an override
// away. The cached render of a revision is valid until its overrides
// change (one expires); the reconcile then renders the cached fleet again
// and applies the difference as a change of desired state, not as drift,
// with no new commit. A drain, maint or weight override is a server
// change, so plan.ServerChanges applies it at runtime like any other.

// overrideState is what the agent knows of overrides between reconciles.
type overrideState struct {
	// applied are the overrides the host runs (those of the last apply).
	applied []*desired.Override
	// freeze is the freeze window holding the head back, and its head.
	freeze  *desired.FreezeWindow
	holding string
	// appliedFreeze are the freeze windows of the applied revision;
	// appliedKnown says they were read since the agent started.
	appliedFreeze []desired.FreezeWindow
	appliedKnown  bool

	active  prometheus.Gauge
	holdGau prometheus.Gauge
}

func newOverrideMetrics(reg prometheus.Registerer) overrideState {
	s := overrideState{
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ddc_gitops_agent_overrides_active", Help: "Timed overrides (overrides/*.yaml) this host applies now.",
		}),
		holdGau: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ddc_gitops_agent_freeze_holding", Help: "1 while a freeze window holds a non-emergency revision back from this host.",
		}),
	}
	if reg != nil {
		reg.MustRegister(s.active, s.holdGau)
	}
	return s
}

// renderAt renders f for this host with the overrides in force at now.
func (a *Agent) renderAt(f *desired.Fleet, now time.Time) (*render.Host, error) {
	opts := a.cfg.Render
	opts.Now = now
	return render.Render(f, a.cfg.Host, opts)
}

// overrideKey names the set of overrides a rendered host applies ("" for
// none): a change of it is a change of desired state.
func overrideKey(h *render.Host) string {
	if h == nil || len(h.Overrides) == 0 {
		return ""
	}
	parts := make([]string, len(h.Overrides))
	for i, o := range h.Overrides {
		parts[i] = o.Name + "@" + o.UntilTime.UTC().Format(time.RFC3339Nano)
	}
	return strings.Join(parts, ",")
}

// refreshOverrides returns the cached host of the cached revision, rendered
// again from the cached fleet when the overrides in force at the agent's
// clock are no longer those it applies (one expired).
func (r *run) refreshOverrides(host *render.Host) (*render.Host, error) {
	a := r.a
	f := a.cached.fleet
	if f == nil || host == nil {
		return host, nil
	}
	now := a.cfg.Now()
	active := f.ActiveOverrides(host.Zone, host.Name, now)
	if slices.Equal(active, host.Overrides) {
		return host, nil
	}
	h, err := a.renderAt(f, now)
	if err != nil {
		return nil, stalledError{fmt.Errorf("rendering revision %s for host %s: %w", short(a.cached.rev), a.cfg.Host, err)}
	}
	a.log.Info("overrides changed, applying the desired state without them", "was", overrideKey(host), "now", overrideKey(h))
	a.cached.host = h
	return h, nil
}

// overridesChanged reports whether want applies other overrides than
// the host runs: then want is a new desired state even on the applied
// revision (not drift).
func (a *Agent) overridesChanged(want *render.Host) bool {
	return overrideKey(want) != a.state.AppliedOverrides
}

// recordOverrides notes the overrides of an applied host.
func (a *Agent) recordOverrides(want *render.Host) {
	a.state.AppliedOverrides = overrideKey(want)
	a.ov.applied = want.Overrides
	if a.cached.fleet != nil {
		a.ov.appliedFreeze, a.ov.appliedKnown = a.cached.fleet.Freeze, true
	}
}

// nextWake returns out with RetryAfter no later than the next override
// expiry of the applied host or the end of the freeze window holding the
// head back, and publishes both in the status.
func (a *Agent) nextWake(out Outcome) Outcome {
	now := a.cfg.Now()
	var next time.Time
	status := make([]agentapi.OverrideStatus, 0, len(a.ov.applied))
	for _, o := range a.ov.applied {
		if !o.Active(now) {
			continue // expired: the reconcile that ran at its end dropped it, or failed and retries
		}
		if next.IsZero() || o.UntilTime.Before(next) {
			next = o.UntilTime
		}
		status = append(status, overrideStatus(o))
	}
	var fz *agentapi.FreezeStatus
	if w := a.ov.freeze; w != nil {
		fz = &agentapi.FreezeStatus{Name: w.Name, Until: w.UntilTime, Reason: w.Reason, Holding: a.ov.holding}
		if next.IsZero() || w.UntilTime.Before(next) {
			next = w.UntilTime
		}
	}
	a.ov.active.Set(float64(len(status)))
	if fz != nil {
		a.ov.holdGau.Set(1)
	} else {
		a.ov.holdGau.Set(0)
	}
	a.updateStatus(func(s *agentapi.Status) {
		s.Overrides = status
		s.Freeze = fz
	})
	if next.IsZero() {
		return out
	}
	// A millisecond past the instant, so the clock has passed it.
	d := max(next.Sub(now), 0) + time.Millisecond
	if out.RetryAfter <= 0 || d < out.RetryAfter {
		out.RetryAfter = d
	}
	return out
}

// overrideStatus describes an override for the status.
func overrideStatus(o *desired.Override) agentapi.OverrideStatus {
	st := agentapi.OverrideStatus{Name: o.Name, Until: o.UntilTime, Reason: o.Reason}
	for _, s := range o.Servers {
		what := s.State
		if s.Weight != nil {
			what = strings.TrimSpace(what + fmt.Sprintf(" weight %d", *s.Weight))
		}
		st.Targets = append(st.Targets, s.Backend+"/"+s.Server+" "+what)
	}
	for _, b := range o.Freeze {
		st.Targets = append(st.Targets, b+" frozen")
	}
	return st
}

// checkOverrideBounds refuses a revision with an override that ends more
// than desired.MaxOverrideLife after its commit (a snapshot without a
// commit time, from a directory, is not checked).
func checkOverrideBounds(f *desired.Fleet, snap *source.Snapshot) error {
	if snap.Revision.Time.IsZero() {
		return nil
	}
	return desired.CheckOverrideBounds(f, snap.Revision.Time).Err()
}
