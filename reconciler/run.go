package reconciler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
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
	rev := snap.Revision.Hash
	r.desiredRev = rev

	// An invalid revision is not retried until the branch moves.
	if a.state.FailedKind == agentapi.ResultStalled && a.state.FailedRevision == rev {
		return Outcome{Result: agentapi.ResultStalled, Revision: rev, Err: errors.New(a.state.FailedError)}
	}

	// 2. load + validate, 3. render for this host. The rendered host of the
	// last revision is cached: a no-op reconcile of an unchanged branch
	// only fetches and compares with the running host.
	host := a.cached.host
	if a.cached.rev == a.state.AppliedRevision {
		r.prev = host
	}
	if a.cached.rev == rev && host != nil {
		r.zone = host.Zone
		if r.driftCheckNotDue(rev) {
			return Outcome{Result: agentapi.ResultNoop, Revision: rev, Converged: true}
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
		a.checkLogTarget(f.HAProxy.LogTarget)
		return r.step("render", func() error {
			h, err := render.Render(f, a.cfg.Host, a.cfg.Render)
			if err != nil {
				return stalledError{fmt.Errorf("rendering revision %s for host %s: %w", short(rev), a.cfg.Host, err)}
			}
			host = h
			r.zone = h.Zone
			a.cached.rev, a.cached.host = rev, h
			return nil
		})
	})
	if err != nil {
		return r.fail(rev, err)
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
	var fast serverDiff
	incremental := false
	if newRevision {
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

	// 5. plan
	pending := map[string]bool{}
	for _, k := range a.state.Pending {
		pending[k] = true
	}
	var structural, kaChange bool
	diff := fast
	_ = r.stepUnless(incremental, "plan", func() error {
		// Identical bytes are the common case (nothing changed by hand):
		// skip building the two skeletons then.
		same := bytes.Equal(disk, want.HAProxy)
		structural = !same && !bytes.Equal(render.Skeleton(disk), render.Skeleton(want.HAProxy))
		if !structural {
			var lines map[string]map[string]string // nil: the file holds the desired lines
			if !same {
				lines = serverLines(disk)
			}
			diff = diffServers(want.Backends, actual, lines, pending)
			structural = len(diff.NeedReload) > 0
		}
		if a.cfg.Keepalived != nil {
			kaDisk, _ := os.ReadFile(a.cfg.Keepalived.ConfigPath)
			kaChange = !bytes.Equal(kaDisk, want.Keepalived)
		}
		return nil
	})

	// Drift: differences on a revision already applied were made by hand.
	if !newRevision {
		if structural {
			r.drift = append(r.drift, "haproxy.cfg on disk differs from the desired configuration")
		}
		for _, op := range diff.Ops {
			r.drift = append(r.drift, fmt.Sprintf("server %s: %s", op.key(), op.Detail))
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
	if structural {
		if wait := a.cfg.ReloadDebounce - a.cfg.Now().Sub(a.lastReload); wait > 0 {
			// Coalesce: the next reconcile applies whatever is newest then.
			return Outcome{Result: resultDeferred, Revision: rev, RetryAfter: wait}, nil
		}
		reason := "change"
		if !newRevision {
			reason = "drift"
		}
		if err := r.step("reload", func() error { return r.reload(ctx, want.HAProxy, reason) }); err != nil {
			return Outcome{}, err
		}
		a.state.Pending = nil
	} else {
		if err := r.step("runtime", func() error { return r.runtimeApply(ctx, want, diff) }); err != nil {
			return Outcome{}, err
		}
		// Persist, so a restart or a later reload keeps the change.
		if err := r.step("persist", func() error {
			_, err := haproxy.WriteConfig(cfgPath, r.persistedConfig(want))
			return err
		}); err != nil {
			return Outcome{}, err
		}
	}
	if kaChange {
		if err := r.step("keepalived", func() error { return r.keepalivedApply(ctx, want.Keepalived) }); err != nil {
			return Outcome{}, err
		}
	}

	// 7. verify (what was read in step 4 already matched when nothing was applied)
	if structural || kaChange || r.out.RuntimeChanges > 0 || len(diff.Ops) > 0 {
		if err := r.step("verify", func() error {
			if incremental {
				if done, err := r.verifyTouched(ctx, diff); done {
					return err
				}
			}
			return r.verify(ctx, want)
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
	if a.state.FailedRevision != "" && newRevision {
		a.state.FailedRevision, a.state.FailedKind, a.state.FailedError = "", "", ""
	}
	r.saveState()
	out := Outcome{Result: result, Revision: rev, Converged: len(a.state.Pending) == 0, Reloads: r.out.Reloads, RuntimeChanges: r.out.RuntimeChanges}
	if len(a.state.Pending) > 0 {
		out.Result = agentapi.ResultDegraded
		out.RetryAfter = a.cfg.AdmitTimeout
		out.Err = fmt.Errorf("%d server(s) held in maintenance until their first health check passes: %s", len(a.state.Pending), strings.Join(a.state.Pending, ", "))
	}
	return out, nil
}

// persistedConfig is the desired haproxy.cfg with the servers still waiting
// for their first passing check written as disabled, so a restart does not
// put them in service unchecked.
func (r *run) persistedConfig(want *render.Host) []byte {
	if len(r.a.state.Pending) == 0 {
		return want.HAProxy
	}
	pending := map[string]bool{}
	for _, k := range r.a.state.Pending {
		pending[k] = true
	}
	repl := map[string]map[string]string{}
	for _, b := range want.Backends {
		for _, s := range b.Servers {
			if pending[b.Name+"/"+s.Name] {
				s.State = haproxy.StateMaint
				if repl[b.Name] == nil {
					repl[b.Name] = map[string]string{}
				}
				repl[b.Name][s.Name] = s.Line()
			}
		}
	}
	return withServerLines(want.HAProxy, repl)
}

// runtimeApply makes the server changes through the runtime API.
func (r *run) runtimeApply(ctx context.Context, want *render.Host, d serverDiff) error {
	a := r.a
	rt := a.runtime
	pending := map[string]bool{}
	for _, k := range a.state.Pending {
		pending[k] = true
	}
	byBackend := map[string][]serverOp{}
	var order []string
	for _, op := range d.Ops {
		if _, ok := byBackend[op.Backend]; !ok {
			order = append(order, op.Backend)
		}
		byBackend[op.Backend] = append(byBackend[op.Backend], op)
	}
	for _, be := range order {
		ops := byBackend[be]
		var adds []render.Server
		var dels []string
		var sets []string
		for _, op := range ops {
			switch op.Op {
			case "add":
				adds = append(adds, op.Server)
			case "replace":
				dels = append(dels, op.Server.Name)
				adds = append(adds, op.Server)
			case "del":
				dels = append(dels, op.Server.Name)
				delete(pending, op.key())
			case "set-addr":
				sets = append(sets, haproxy.SetAddrCommand(be, op.Server.Name, op.Server.Address, op.Server.Port))
			case "set-weight":
				sets = append(sets, haproxy.SetWeightCommand(be, op.Server.Name, runtimeWeight(op.Server)))
			case "set-state":
				sets = append(sets, haproxy.SetStateCommand(be, op.Server.Name, stateOf(op.Server)))
			case "admit":
				// Drain (not maint) so the check runs; admitPending puts
				// it in service once the check passes.
				sets = append(sets, haproxy.EnableHealthCommand(be, op.Server.Name), haproxy.SetStateCommand(be, op.Server.Name, haproxy.StateDrain))
				pending[op.key()] = true
			}
			a.metrics.runtimeChanges.WithLabelValues(op.Op).Inc()
			r.out.RuntimeChanges++
		}
		if len(dels) > 0 {
			if _, err := rt.DelServers(ctx, be, dels, a.cfg.DrainTimeout); err != nil {
				return fmt.Errorf("removing servers from %s: %w", be, err)
			}
		}
		if len(sets) > 0 {
			if _, err := rt.Exec(ctx, sets); err != nil {
				return fmt.Errorf("changing servers of %s: %w", be, err)
			}
		}
		if len(adds) > 0 {
			res, err := rt.AdmitServers(ctx, be, adds, a.cfg.AdmitTimeout)
			if err != nil {
				return fmt.Errorf("adding servers to %s: %w", be, err)
			}
			for _, name := range res.Admitted {
				delete(pending, be+"/"+name)
			}
			for _, rej := range res.Rejected {
				pending[be+"/"+rej.Name] = true
				a.log.Warn("server held in maintenance: first health check did not pass", "backend", be, "server", rej.Name, "check", rej.String())
			}
		}
	}
	// Servers still pending from an earlier reconcile: admit those whose
	// checks pass now.
	if err := r.admitPending(ctx, want, pending); err != nil {
		return err
	}
	a.state.Pending = a.state.Pending[:0]
	for k := range pending {
		a.state.Pending = append(a.state.Pending, k)
	}
	sort.Strings(a.state.Pending)
	return nil
}

// admitPending puts servers waiting for admission in service as soon as
// their check passes, waiting at most AdmitTimeout; the others stay pending.
func (r *run) admitPending(ctx context.Context, want *render.Host, pending map[string]bool) error {
	// Pending servers no longer desired were deleted by the diff.
	for k := range pending {
		be, name, _ := strings.Cut(k, "/")
		if !hasServer(want, be, name) {
			delete(pending, k)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	deadline := time.Now().Add(r.a.cfg.AdmitTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		actual, err := r.a.runtime.ServersState(ctx)
		if err != nil {
			return fmt.Errorf("reading servers waiting for admission: %w", err)
		}
		var cmds []string
		for _, b := range want.Backends {
			have := map[string]haproxy.ActualServer{}
			for _, s := range actual[b.Name] {
				have[s.Name] = s
			}
			for _, s := range b.Servers {
				k := b.Name + "/" + s.Name
				if !pending[k] {
					continue
				}
				if as, ok := have[s.Name]; ok && haproxy.CheckPassed(as.CheckStatus) {
					cmds = append(cmds, haproxy.SetStateCommand(b.Name, s.Name, stateOf(s)))
					delete(pending, k)
				}
			}
		}
		if len(cmds) > 0 {
			if _, err := r.a.runtime.Exec(ctx, cmds); err != nil {
				return fmt.Errorf("admitting servers whose checks now pass: %w", err)
			}
		}
		if len(pending) == 0 || time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func hasServer(h *render.Host, backend, name string) bool {
	for _, b := range h.Backends {
		if b.Name == backend {
			for _, s := range b.Servers {
				if s.Name == name {
					return true
				}
			}
		}
	}
	return false
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

// verify reads the servers back and checks nothing is left to do.
func (r *run) verify(ctx context.Context, want *render.Host) error {
	a := r.a
	actual, err := a.runtime.ServersState(ctx)
	if err != nil {
		return fmt.Errorf("verifying: %w", err)
	}
	disk, err := os.ReadFile(a.cfg.HAProxy.ConfigPath)
	if err != nil {
		return fmt.Errorf("verifying: %w", err)
	}
	pending := map[string]bool{}
	for _, k := range a.state.Pending {
		pending[k] = true
	}
	d := diffServers(want.Backends, actual, serverLines(disk), pending)
	if len(d.Ops) > 0 || len(d.NeedReload) > 0 {
		var left []string
		for _, op := range d.Ops {
			left = append(left, op.key()+" "+op.Detail)
		}
		left = append(left, d.NeedReload...)
		return fmt.Errorf("verifying: the host does not match the desired state after applying: %s", strings.Join(left, "; "))
	}
	if !bytes.Equal(render.Skeleton(disk), render.Skeleton(want.HAProxy)) {
		return errors.New("verifying: haproxy.cfg on disk does not match the desired configuration")
	}
	return nil
}
