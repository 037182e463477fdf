package pdns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/reconciler/atomicfile"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// files are the two files the agent manages and their contents.
type files struct {
	namedPath, zonePath string
	named, zone         []byte // nil: the file does not exist
}

func (a *Agent) readFiles(zone string) (files, error) {
	f := files{namedPath: filepath.Join(a.cfg.ConfigDir, NamedConf), zonePath: filepath.Join(a.cfg.ConfigDir, ZoneFileName(zone))}
	var err error
	if f.named, err = readOptional(f.namedPath); err != nil {
		return f, err
	}
	f.zone, err = readOptional(f.zonePath)
	return f, err
}

func readOptional(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return b, nil
}

// reconcile runs the steps: fetch, load, render, compare (drift), check,
// write, reload, verify, and rollback when write..verify fails.
func (a *Agent) reconcile(ctx context.Context, steps map[string]float64) Outcome {
	// 1. fetch
	var snapRev string
	var snapTime time.Time
	var snapFS fs.FS
	if err := timed(steps, "fetch", func() error {
		snap, err := a.cfg.Source.Sync(ctx)
		if err != nil {
			return err
		}
		snapRev, snapTime, snapFS = snap.Revision.Hash, snap.Revision.Time, snap.FS
		return nil
	}); err != nil {
		a.failures++
		return Outcome{Result: resultRetrying, Revision: a.state.AppliedRevision, Err: fmt.Errorf("fetching desired state: %w", err), RetryAfter: a.backoff()}
	}
	rev := snapRev
	if a.state.FailedKind == agentapi.ResultStalled && a.state.FailedRevision == rev {
		return Outcome{Result: agentapi.ResultStalled, Revision: rev, Err: errors.New(a.state.FailedError)}
	}

	// 2. load + validate (cached per revision)
	if a.cached.rev != rev || a.cached.fleet == nil {
		var f *desired.Fleet
		err := timed(steps, "load", func() (err error) {
			f, err = desired.Load(snapFS)
			return err
		})
		if err != nil {
			return a.stall(rev, fmt.Errorf("revision %s is invalid: %w", short(rev), err))
		}
		if f.Nameserver(a.cfg.Host) == nil {
			return a.stall(rev, fmt.Errorf("revision %s: host %s is not in dns.nameservers: it has no DNS role", short(rev), a.cfg.Host))
		}
		a.cached.rev, a.cached.fleet = rev, f
	}
	f := a.cached.fleet
	a.status.Zone = f.DNS.Zone

	// 3. render, with the serial of the applied revision when it is the
	// same, else one that moves forward with the revision.
	serial := a.state.Serial
	if rev != a.state.AppliedRevision || serial == 0 {
		serial = max(render.DNSSerial(snapTime), a.state.Serial+1)
	}
	var z *render.DNSZone
	var named []byte
	if err := timed(steps, "render", func() (err error) {
		if z, err = render.RenderDNS(f, serial, rev); err != nil {
			return err
		}
		named, err = render.BindConfig(z.Zone, filepath.Join(a.cfg.ConfigDir, ZoneFileName(z.Zone)))
		return err
	}); err != nil {
		return a.stall(rev, fmt.Errorf("rendering revision %s: %w", short(rev), err))
	}

	// 4. compare with what runs: the files on disk and what the server answers.
	old, err := a.readFiles(z.Zone)
	if err != nil {
		a.failures++
		return Outcome{Result: resultRetrying, Revision: rev, Err: err, RetryAfter: a.backoff()}
	}
	r := Resolver{Addr: a.cfg.Query}
	var drift []string
	if rev == a.state.AppliedRevision {
		if !bytes.Equal(old.named, named) {
			drift = append(drift, old.namedPath+" differs from the rendered named.conf")
		}
		if !bytes.Equal(old.zone, z.File) {
			drift = append(drift, old.zonePath+" differs from the rendered zone")
		}
		drift = append(drift, Verify(ctx, r, z)...)
		if len(drift) == 0 {
			a.failures = 0
			return Outcome{Result: agentapi.ResultNoop, Revision: rev, Serial: serial, Converged: true}
		}
		a.metrics.driftFound.Add(float64(len(drift)))
		if a.cfg.Drift == DriftWarn {
			return Outcome{Result: agentapi.ResultNoop, Revision: rev, Serial: serial, Drift: drift, Err: fmt.Errorf("drift (not corrected, --drift=warn): %s", drift[0])}
		}
		a.log.Warn("correcting dns drift", "drift", drift)
	}

	// 5. check
	if err := timed(steps, "check", func() error { return Check(ctx, a.cfg.UtilBin, z) }); err != nil {
		return a.stall(rev, err)
	}

	// 6-8. write, reload, verify; roll back on failure.
	reason := "change"
	if len(drift) > 0 {
		reason = "drift"
	}
	if err := a.apply(ctx, steps, old, named, z, reason); err != nil {
		return a.fail(rev, serial, err)
	}
	a.failures = 0
	a.state = persisted{AppliedRevision: rev, AppliedAt: a.cfg.Now(), Serial: serial}
	a.saveState()
	a.metrics.records.Set(float64(len(z.Records)))
	if !snapTime.IsZero() {
		a.metrics.commitToAnswer.Observe(a.cfg.Now().Sub(snapTime).Seconds())
	}
	return Outcome{Result: agentapi.ResultApplied, Revision: rev, Serial: serial, Drift: drift, Converged: true}
}

// apply writes the new files, reloads and verifies; on any failure it puts
// the old files back, reloads them and returns the failure.
func (a *Agent) apply(ctx context.Context, steps map[string]float64, old files, named []byte, z *render.DNSZone, reason string) error {
	err := timed(steps, "write", func() error {
		// The zone file first: named.conf never names a file that is not there.
		if _, err := atomicfile.Write(old.zonePath, z.File, 0o644); err != nil {
			return err
		}
		_, err := atomicfile.Write(old.namedPath, named, 0o644)
		return err
	})
	if err == nil {
		err = timed(steps, "reload", func() error { return a.reload(ctx, z.Zone, !bytes.Equal(old.named, named)) })
	}
	if err == nil {
		a.metrics.reloads.WithLabelValues(reason).Inc()
		err = timed(steps, "verify", func() error { return a.verify(ctx, z) })
	}
	if err == nil {
		return nil
	}
	a.log.Error("dns apply failed, rolling back", "err", err)
	if rerr := a.rollback(ctx, old, z.Zone); rerr != nil {
		return fmt.Errorf("%w; rolling back also failed: %v", err, rerr)
	}
	a.status.Counts.Rollbacks++
	a.metrics.rollbacks.Inc()
	return fmt.Errorf("%w (rolled back to the previous zone)", err)
}

// reload makes the server read the zone: rediscover when named.conf
// changed (a new zone), then reload the zone itself.
func (a *Agent) reload(ctx context.Context, zone string, namedChanged bool) error {
	if namedChanged {
		if err := a.ctl.Rediscover(ctx); err != nil {
			return err
		}
	}
	return a.ctl.ReloadZone(ctx, zone)
}

// verify waits until the server serves z, up to VerifyTimeout.
func (a *Agent) verify(ctx context.Context, z *render.DNSZone) error {
	t := time.Now()
	defer func() { a.metrics.verify.Observe(time.Since(t).Seconds()) }()
	ctx, cancel := context.WithTimeout(ctx, a.cfg.VerifyTimeout)
	defer cancel()
	r := Resolver{Addr: a.cfg.Query, Timeout: 500 * time.Millisecond}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		diffs := Verify(ctx, r, z)
		if len(diffs) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("verifying zone %s serial %d at %s: %s", z.Zone, z.Serial, a.cfg.Query, diffs[0])
		case <-tick.C:
		}
	}
}

// rollback restores the files as they were before the apply and reloads them.
func (a *Agent) rollback(ctx context.Context, old files, zone string) error {
	restore := func(path string, data []byte) error {
		if data == nil {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return nil
		}
		_, err := atomicfile.Write(path, data, 0o644)
		return err
	}
	if err := restore(old.namedPath, old.named); err != nil {
		return err
	}
	if err := restore(old.zonePath, old.zone); err != nil {
		return err
	}
	if err := a.ctl.Rediscover(ctx); err != nil {
		return err
	}
	if old.zone == nil {
		return nil
	}
	if err := a.ctl.ReloadZone(ctx, zone); err != nil {
		return err
	}
	a.metrics.reloads.WithLabelValues("rollback").Inc()
	return nil
}
