package reconciler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/plan"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/reconciler/keepalived"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// run is the working state of one reconcile.
type run struct {
	a          *Agent
	start      time.Time // when the reconcile started
	stepName   string    // the step running now, for the status
	steps      map[string]float64
	desiredRev string
	zone       string
	drift      []string
	out        Outcome
	checked    bool // the host's full state was read (a drift check)
	// prev is the rendered revision the host runs, when it is the one
	// rendered last (see planFromApplied).
	prev *render.Host
	// deferred are the replaces ("backend/server") left for a later batch.
	deferred []string
	// substituted: the head is quarantined, this reconcile applies the last good revision (gate.go).
	substituted bool
	// applyStart is when the apply began: the gate's readings before it are
	// the data plane before the revision.
	applyStart time.Time
}

// step times fn under name and publishes it as the step in progress (a
// nested step hands back to its parent when it ends).
func (r *run) step(name string, fn func() error) error {
	t := time.Now()
	parent := r.stepName
	r.progress(name)
	err := fn()
	r.steps[name] = time.Since(t).Seconds()
	if parent != "" {
		r.progress(parent)
	}
	return err
}

// stepUnless is step, skipped (not run, not timed) when skip is set.
func (r *run) stepUnless(skip bool, name string, fn func() error) error {
	if skip {
		return nil
	}
	return r.step(name, fn)
}

// progress publishes the step the reconcile runs now.
func (r *run) progress(name string) {
	r.stepName = name
	now := r.a.cfg.Now()
	r.a.updateStatus(func(s *agentapi.Status) {
		s.InProgress = &agentapi.Progress{Since: r.start, Step: name, StepSince: now}
	})
}

// Failure kinds, typed by what happens next.
type stalledError struct{ err error } // invalid revision: wait for the branch to move

func (e stalledError) Error() string { return e.err.Error() }
func (e stalledError) Unwrap() error { return e.err }

type failedError struct{ err error } // apply failed and was rolled back: retry with backoff

func (e failedError) Error() string { return e.err.Error() }
func (e failedError) Unwrap() error { return e.err }

func (r *run) reconcile(ctx context.Context) Outcome {
	a := r.a

	// 1. fetch
	var snap *source.Snapshot
	fetchErr := r.step("fetch", func() (err error) {
		snap, err = a.cfg.Source.Sync(ctx)
		return err
	})
	if fetchErr != nil {
		// Keep serving what runs; report, retry with backoff.
		a.failures++
		return Outcome{Result: resultRetrying, Revision: a.state.AppliedRevision, Err: fmt.Errorf("fetching desired state: %w", fetchErr), RetryAfter: a.backoff()}
	}
	head := snap.Revision.Hash
	r.desiredRev = head

	// Health gate: act on its verdict first, so a tripped revision is
	// rolled back whatever the head holds (gate.go).
	r.gateVerdict()

	// Trust: a head with a commit the policy refuses is stalled (trust.go);
	// a rollback to the last good revision (verified when it was applied)
	// still goes ahead.
	if err := r.stepUnless(a.trust == nil, "trust", func() error { return r.checkTrust(ctx, head) }); err != nil {
		if _, due := a.gate.rollbackTo(head, a.state.AppliedRevision); !due {
			return r.fail(head, err)
		}
	}

	// A quarantined head or applied revision means the last good revision.
	if snap, fetchErr = r.gateSubstitute(ctx, snap); fetchErr != nil {
		return r.fail(head, fetchErr)
	}
	rev := snap.Revision.Hash

	// An invalid revision is not retried until the branch moves.
	if a.state.FailedKind == agentapi.ResultStalled && a.state.FailedRevision == rev {
		return Outcome{Result: agentapi.ResultStalled, Revision: rev, Err: errors.New(a.state.FailedError)}
	}
	// A freeze window may hold the head back (freeze.go); a rollback to the
	// last good revision is never held.
	var stop *Outcome
	if !r.substituted {
		if rev, snap, stop = r.freeze(snap); stop != nil {
			return *stop
		}
	}

	// 2. load + validate, 3. render for this host. The rendered host of the
	// last revision is cached: a no-op reconcile of an unchanged branch
	// only fetches and compares with the running host.
	host := a.cached.host
	if a.cached.rev == a.state.AppliedRevision && !a.overridesChanged(host) {
		r.prev = host
	}
	if a.cached.rev == rev && host != nil {
		var err error
		if host, err = r.refreshOverrides(host); err != nil {
			return r.fail(rev, err)
		}
		r.zone = host.Zone
		if r.driftCheckNotDue(rev) && !a.overridesChanged(host) {
			return Outcome{Result: agentapi.ResultNoop, Revision: rev, Converged: true}
		}
		if out, hold := r.waveHold(ctx, rev, host); hold {
			return out // waves.go
		}
		out, err := r.apply(ctx, rev, snap, host)
		if err != nil {
			return r.fail(rev, err)
		}
		return out
	}
	err := r.step("load", func() error {
		f, err := a.loads.Load(snap.FS)
		if err != nil {
			return stalledError{fmt.Errorf("revision %s is invalid: %w", short(rev), err)}
		}
		if err := checkOverrideBounds(f, snap); err != nil {
			return stalledError{fmt.Errorf("revision %s is invalid: %w", short(rev), err)}
		}
		a.checkLogTarget(f.HAProxy.LogTarget)
		a.adviseSharding(f)
		a.gate.configure(f, a.cfg.Host)
		if err := r.step("secrets", func() error { return a.installSecrets(rev, snap.FS) }); err != nil {
			return err
		}
		return r.step("render", func() error {
			h, err := a.renderAt(f, a.cfg.Now())
			if err != nil {
				return stalledError{fmt.Errorf("rendering revision %s for host %s: %w", short(rev), a.cfg.Host, err)}
			}
			host = h
			r.zone = h.Zone
			a.cached.rev, a.cached.host, a.cached.fleet = rev, h, f
			a.waves.setPlan(rev, f, a.cfg.Host)
			return nil
		})
	})
	if err != nil {
		return r.fail(rev, err)
	}
	if out, hold := r.waveHold(ctx, rev, host); hold {
		return out // waves.go
	}

	out, err := r.apply(ctx, rev, snap, host)
	if err != nil {
		return r.fail(rev, err)
	}
	return out
}

// driftCheckNotDue reports whether this reconcile of rev can stop after
// the fetch: the host runs rev, the last reconcile that read its full state
// found it converged less than DriftInterval ago, and nothing waits.
func (r *run) driftCheckNotDue(rev string) bool {
	a := r.a
	return a.cfg.DriftInterval > 0 && rev == a.state.AppliedRevision && len(a.state.Pending) == 0 &&
		a.state.FailedRevision == "" && !a.lastCheck.IsZero() && r.start.Sub(a.lastCheck) < a.cfg.DriftInterval
}

// fail records a failed reconcile and decides when to retry.
func (r *run) fail(rev string, err error) Outcome {
	a := r.a
	var st stalledError
	var fe failedError
	switch {
	case errors.As(err, &st):
		a.state.FailedRevision, a.state.FailedKind, a.state.FailedError = rev, agentapi.ResultStalled, err.Error()
		r.saveState()
		return Outcome{Result: agentapi.ResultStalled, Revision: rev, Err: err, Reloads: r.out.Reloads, RuntimeChanges: r.out.RuntimeChanges}
	case errors.As(err, &fe):
		a.failures++
		a.state.FailedRevision, a.state.FailedKind, a.state.FailedError = rev, agentapi.ResultFailed, err.Error()
		r.saveState()
		return Outcome{Result: agentapi.ResultFailed, Revision: rev, Err: err, RetryAfter: a.backoff(), Reloads: r.out.Reloads, RuntimeChanges: r.out.RuntimeChanges}
	default:
		a.failures++
		return Outcome{Result: resultRetrying, Revision: rev, Err: err, RetryAfter: a.backoff(), Reloads: r.out.Reloads, RuntimeChanges: r.out.RuntimeChanges}
	}
}

func (r *run) saveState() {
	if err := r.a.saveState(r.a.state); err != nil {
		r.a.log.Error("saving agent state", "err", err)
	}
}

// apply runs steps 4-8 for a rendered host.
func (r *run) apply(ctx context.Context, rev string, snap *source.Snapshot, want *render.Host) (Outcome, error) {
	a := r.a
	cfgPath := a.cfg.HAProxy.ConfigPath

	// 4. read actual: on a new revision of a host known to run the
	// previous one, only what changed (planFromApplied).
	newRevision := rev != a.state.AppliedRevision
	if newRevision && !r.substituted {
		a.gate.ensureBaseline(ctx)
	}
	r.applyStart = a.cfg.Now()
	// An override that starts or ends changes the desired state of the
	// applied revision: a change, not drift (overrides.go).
	newDesired := newRevision || a.overridesChanged(want)
	var fast hostChanges
	incremental := false
	if newDesired && !hasFrozen(want) && (r.prev == nil || !hasFrozen(r.prev)) {
		_ = r.step("plan", func() error {
			fast, incremental = r.planFromApplied(want)
			return nil
		})
	}
	var disk []byte
	var actual map[string][]haproxy.ActualServer
	err := r.stepUnless(incremental, "actual", func() error {
		r.checked = true
		var err error
		disk, err = os.ReadFile(cfgPath)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("reading %s: %w", cfgPath, err)
		}
		actual, err = a.runtime.ServersState(ctx)
		if err != nil {
			return fmt.Errorf("reading the running servers: %w", err)
		}
		return nil
	})
	if err != nil {
		return Outcome{}, err
	}
	want = keepFrozen(want, disk, a.log)

	// 5. plan (plan.ServerChanges decides runtime or reload)
	adm := r.admission(want, actual)
	var structural, kaChange bool
	changes := fast
	_ = r.stepUnless(incremental, "plan", func() error {
		// Identical bytes are the common case (nothing changed by hand):
		// skip reading the file's server lines then.
		same := bytes.Equal(disk, want.HAProxy)
		structural = !same && !render.SkeletonEqual(disk, want.HAProxy)
		if !structural {
			var lines map[string]map[string]string // nil: the file holds the desired lines
			if !same {
				lines = render.ServerLines(disk)
			}
			changes = diffHost(want.Backends, actual, lines, adm, &a.scratch)
			structural = len(changes.Reasons) > 0
		}
		if a.cfg.Keepalived != nil {
			kaDisk, _ := os.ReadFile(a.cfg.Keepalived.ConfigPath)
			kaChange = !bytes.Equal(kaDisk, want.Keepalived)
		}
		return nil
	})

	// Drift: differences on a revision already applied were made by hand.
	if !newDesired {
		if structural {
			r.drift = append(r.drift, "haproxy.cfg on disk differs from the desired configuration")
		}
		rolling := map[string]bool{}
		for _, k := range a.state.Rolling {
			rolling[k] = true
		}
		for _, op := range changes.Ops {
			k := op.Backend + "/" + op.Server
			if _, waiting := adm.since[k]; waiting || op.Batch > 1 || (op.Op == plan.OpReplace && rolling[k]) {
				continue // admission and rolling replacement in progress, not drift
			}
			r.drift = append(r.drift, "server "+describe(op))
		}
		if kaChange {
			r.drift = append(r.drift, "keepalived.conf on disk differs from the desired configuration")
		}
		if len(r.drift) > 0 {
			a.metrics.drift.Add(float64(len(r.drift)))
			if a.cfg.Drift == DriftWarn {
				a.log.Warn("drift found, not corrected (--drift=warn)", "items", r.drift)
				return Outcome{Result: agentapi.ResultApplied, Revision: rev, Converged: false}, nil
			}
			a.log.Warn("drift found, correcting", "items", r.drift)
		}
	}

	// 6. apply
	deferred := 0
	if structural {
		if wait := a.cfg.ReloadDebounce - a.cfg.Now().Sub(a.lastReload); wait > 0 {
			// Coalesce: the next reconcile applies whatever is newest then.
			return Outcome{Result: resultDeferred, Revision: rev, RetryAfter: wait}, nil
		}
		reason := "change"
		if !newDesired {
			reason = "drift"
		}
		// Servers still waiting for admission stay `disabled` through the
		// reload; the next reconcile admits them again.
		cfg := persistedConfig(want, adm, &hostChanges{})
		if err := r.step("reload", func() error { return r.reload(ctx, cfg, reason) }); err != nil {
			return Outcome{}, err
		}
	} else {
		ops, n := changes.now()
		deferred = n
		for _, op := range changes.Ops {
			if op.Batch > 1 {
				r.deferred = append(r.deferred, op.Backend+"/"+op.Server)
			}
		}
		if err := r.step("runtime", func() error { return r.runtimeApply(ctx, ops, adm) }); err != nil {
			r.saveAdmission(adm)
			return Outcome{}, err
		}
		// Persist at once (before any admission), so a restart or a later
		// reload keeps the change.
		if err := r.step("persist", func() error {
			_, err := haproxy.WriteConfig(cfgPath, persistedConfig(want, adm, &changes))
			return err
		}); err != nil {
			r.saveAdmission(adm)
			return Outcome{}, err
		}
	}
	r.saveAdmission(adm)
	a.state.Rolling = r.deferred
	if kaChange {
		if err := r.step("keepalived", func() error { return r.keepalivedApply(ctx, want.Keepalived) }); err != nil {
			return Outcome{}, err
		}
	}

	// 7. verify (what was read in step 4 already matched when nothing was applied)
	if structural || kaChange || r.out.RuntimeChanges > 0 || len(changes.Ops) > 0 {
		if err := r.step("verify", func() error {
			if incremental {
				if done, err := r.verifyTouched(ctx, changes.Ops); done {
					return err
				}
			}
			return r.verify(ctx, want, adm)
		}); err != nil {
			return Outcome{}, err
		}
	}

	// 8. record
	recordStart := time.Now()
	defer func() { r.steps["record"] = time.Since(recordStart).Seconds() }()
	if err := a.saveLastGood(lastGoodHAProxy, want.HAProxy); err != nil {
		a.log.Error("saving last good haproxy.cfg", "err", err)
	}
	if a.cfg.Keepalived != nil {
		if err := a.saveLastGood(lastGoodKeepalive, want.Keepalived); err != nil {
			a.log.Error("saving last good keepalived.conf", "err", err)
		}
	}
	changed := structural || kaChange || r.out.RuntimeChanges > 0
	result := agentapi.ResultNoop
	if newRevision || changed {
		result = agentapi.ResultApplied
	}
	r.gateApplied(rev, newRevision, changed)
	if newRevision {
		now := a.cfg.Now()
		if old := a.state.AppliedRevision; old != "" {
			a.metrics.appliedRevision.DeleteLabelValues(old)
		}
		a.metrics.appliedRevision.WithLabelValues(rev).Set(1)
		if !snap.Revision.Time.IsZero() {
			a.metrics.commitToApplied.Observe(now.Sub(snap.Revision.Time).Seconds())
		}
		a.state.AppliedRevision, a.state.AppliedAt = rev, now
	}
	a.recordOverrides(want)
	if a.state.FailedRevision != "" && newRevision {
		a.state.FailedRevision, a.state.FailedKind, a.state.FailedError = "", "", ""
	}
	r.saveState()
	out := Outcome{Result: result, Revision: rev, Converged: len(adm.since) == 0 && deferred == 0, Reloads: r.out.Reloads, RuntimeChanges: r.out.RuntimeChanges}
	if deferred > 0 && len(adm.since) == 0 {
		// The next rolling batch can go at once (its predecessors need no
		// admission).
		out.RetryAfter = time.Millisecond
	}
	if stuck := adm.stuck(a.cfg.Now(), a.cfg.AdmitTimeout); len(stuck) > 0 {
		out.Result = agentapi.ResultDegraded
		out.Err = fmt.Errorf("%d server(s) out of service: their first health check has not passed within %s: %s",
			len(stuck), a.cfg.AdmitTimeout, strings.Join(stuck, "; "))
	}
	return out, nil
}

// runtimeApply applies ops through the HAProxy driver and records the
// servers it left waiting for admission.
func (r *run) runtimeApply(ctx context.Context, ops []plan.Op, adm *admissionState) error {
	a := r.a
	if len(ops) == 0 {
		return nil
	}
	res, err := a.runtime.Apply(ctx, ops, haproxy.ApplyOptions{DrainTimeout: a.cfg.DrainTimeout})
	now := a.cfg.Now()
	for _, k := range res.Admitting {
		if _, ok := adm.since[k]; !ok {
			adm.since[k] = now
		}
	}
	for _, op := range ops {
		k := op.Backend + "/" + op.Server
		switch {
		case op.Op == plan.OpDel:
			adm.forget(k)
		case op.Op == plan.OpReplace:
			if _, waiting := adm.since[k]; waiting {
				adm.replacing[k] = true
			}
		case op.Op == plan.OpSetState:
			adm.forget(k) // admitted (or to stay in maintenance)
		}
	}
	for _, k := range res.Forced {
		a.log.Warn("drain timeout passed, sessions shut down", "server", k)
	}
	if res.Applied > 0 {
		for _, op := range ops[:min(res.Applied, len(ops))] {
			a.metrics.runtimeChanges.WithLabelValues(op.Op).Inc()
		}
		r.out.RuntimeChanges += res.Applied
	}
	if err != nil {
		return fmt.Errorf("applying server changes at runtime: %w", err)
	}
	return nil
}

// reload checks, writes and reloads a new haproxy.cfg, verifying the reload;
// on failure it restores the last good config.
func (r *run) reload(ctx context.Context, cfg []byte, reason string) error {
	a := r.a
	path := a.cfg.HAProxy.ConfigPath
	if err := haproxy.Check(ctx, a.cfg.HAProxy.Bin, path, cfg); err != nil {
		return stalledError{fmt.Errorf("haproxy rejects the rendered configuration: %w", err)}
	}
	old, _ := os.ReadFile(path)
	if _, err := haproxy.WriteConfig(path, cfg); err != nil {
		return err
	}
	a.lastReload = a.cfg.Now()
	err := a.master.Reload(ctx)
	if err == nil {
		r.out.Reloads++
		a.updateStatus(func(s *agentapi.Status) { s.Counts.HAProxyReloads++ })
		a.metrics.reloads.WithLabelValues("haproxy", reason).Inc()
		return nil
	}
	// Roll back: the last good config if we have one, else what was on disk.
	good, _ := a.lastGood(lastGoodHAProxy)
	if good == nil {
		good = old
	}
	a.log.Error("haproxy reload failed, rolling back", "err", err)
	if good == nil {
		return failedError{fmt.Errorf("reloading haproxy: %w (no previous configuration to roll back to)", err)}
	}
	if _, werr := haproxy.WriteConfig(path, good); werr != nil {
		return failedError{fmt.Errorf("reloading haproxy: %w; restoring the last good config: %v", err, werr)}
	}
	if !errors.Is(err, haproxy.ErrReloadFailed) {
		// The reload was lost (the master never re-executed): the old
		// config still runs; the file is restored and that is all.
		return failedError{fmt.Errorf("reloading haproxy: %w (last good config restored)", err)}
	}
	if rerr := a.master.Reload(ctx); rerr != nil {
		return failedError{fmt.Errorf("reloading haproxy: %w; reloading the last good config: %v", err, rerr)}
	}
	a.lastReload = a.cfg.Now()
	r.out.Reloads++
	a.updateStatus(func(s *agentapi.Status) { s.Counts.Rollbacks++ })
	a.metrics.reloads.WithLabelValues("haproxy", "rollback").Inc()
	return failedError{fmt.Errorf("reloading haproxy: %w (rolled back to the last good config)", err)}
}

func (r *run) keepalivedApply(ctx context.Context, conf []byte) error {
	a := r.a
	changed, err := a.cfg.Keepalived.Apply(ctx, conf)
	if err != nil {
		var ce *keepalived.CheckError
		if errors.As(err, &ce) {
			return stalledError{fmt.Errorf("keepalived rejects the rendered configuration: %w", err)}
		}
		return failedError{fmt.Errorf("applying keepalived.conf: %w", err)}
	}
	if changed {
		r.out.Reloads++
		a.updateStatus(func(s *agentapi.Status) { s.Counts.KeepalivedReloads++ })
		a.metrics.reloads.WithLabelValues("keepalived", "change").Inc()
	}
	return nil
}

// verify reads the servers back and checks nothing is left to do but
// admissions and later rolling batches.
func (r *run) verify(ctx context.Context, want *render.Host, adm *admissionState) error {
	a := r.a
	actual, err := a.runtime.ServersState(ctx)
	if err != nil {
		return fmt.Errorf("verifying: %w", err)
	}
	disk, err := os.ReadFile(a.cfg.HAProxy.ConfigPath)
	if err != nil {
		return fmt.Errorf("verifying: %w", err)
	}
	if !render.SkeletonEqual(disk, want.HAProxy) {
		return errors.New("verifying: haproxy.cfg on disk does not match the desired configuration")
	}
	c := diffHost(want.Backends, actual, render.ServerLines(disk), adm, &a.scratch)
	left := c.Reasons
	deferred := map[string]bool{}
	for _, k := range r.deferred {
		deferred[k] = true
	}
	for _, op := range c.Ops {
		k := op.Backend + "/" + op.Server
		if _, waiting := adm.since[k]; waiting || op.Batch > 1 || (op.Op == plan.OpReplace && deferred[k]) {
			continue // admission in progress, or a later rolling batch (a check that passed since may have moved it up)
		}
		left = append(left, describe(op))
	}
	if len(left) > 0 {
		return fmt.Errorf("verifying: the host does not match the desired state after applying: %s", strings.Join(left, "; "))
	}
	return nil
}
