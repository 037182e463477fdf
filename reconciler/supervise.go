package reconciler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/internal/child"
	"github.com/ddc-gitops/ddc-gitops/reconciler/atomicfile"
	"github.com/ddc-gitops/ddc-gitops/reconciler/keepalived"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// Child is one instance of a supervised process: *haproxy.Process and
// *keepalived.Process implement it. Run blocks until the process exits
// (nil when it stopped because ctx ended); Ready waits until it serves.
type Child = child.Runner

// Supervised describes a process the agent keeps running (--supervise).
type Supervised struct {
	// Name labels the logs and ddc_gitops_agent_process_restarts_total.
	Name string
	// New returns a fresh instance (a Process runs once).
	New func() Child
	// ReadyTimeout bounds the wait for an instance to serve (default 30s).
	ReadyTimeout time.Duration
	// OnReady, if set, runs once each instance serves, before Supervise
	// waits for it to exit. An error stops that instance.
	OnReady func(ctx context.Context, c Child) error
}

// Supervise runs s with child.Supervisor until ctx ends, then stops it and
// returns nil. The first instance must come up: its outcome (nil once it
// serves, or why it did not) is sent on up (nil: not reported; else it
// needs room for one value), and a failure ends Supervise with that error,
// as a host that cannot start haproxy should not pretend to run.
// Afterwards an instance that exits by itself (a crash, a kill -9) is
// logged, counted in ddc_gitops_agent_process_restarts_total{process} and
// started again after a backoff (Config.RestartMin doubling up to
// RestartMax, back to RestartMin after a minute of service), however
// often that takes: keepalived then moves the VIPs back as the fleet's
// preemption policy says.
func (a *Agent) Supervise(ctx context.Context, s Supervised, up chan<- error) error {
	return child.Supervisor{
		Name:         s.Name,
		New:          s.New,
		ReadyTimeout: s.ReadyTimeout,
		OnReady:      s.OnReady,
		RestartMin:   a.cfg.RestartMin,
		RestartMax:   a.cfg.RestartMax,
		OnServe:      func() { a.log.Info("supervised process serves", "process", s.Name) },
		OnRestart: func(err error, served bool, ran, wait time.Duration) {
			a.metrics.restarts.WithLabelValues(s.Name).Inc()
			a.log.Error("supervised process exited by itself: restarting it", "process", s.Name, "err", err,
				"served", served, "ran", ran.Round(time.Millisecond), "restartIn", wait)
		},
	}.Run(ctx, up)
}

// TrackHAProxy makes keepalived track the haproxy running as argv0 (the
// argv[0] of its master, see render.Options.HAProxyArgv0) instead of every
// process named keepalived.trackProcess: --supervise calls it each time
// its haproxy serves. When argv0 changes it re-renders keepalived.conf
// from the head revision and installs it: written (after keepalived -t)
// while keepalived is not running, else applied with a checked SIGHUP. A
// head that cannot be fetched or rendered leaves keepalived.conf to the
// next reconcile, which renders every revision with argv0 from now on.
func (a *Agent) TrackHAProxy(ctx context.Context, argv0 string) error {
	if err := render.CheckHAProxyArgv0(argv0); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cfg.Render.HAProxyArgv0 == argv0 {
		return nil
	}
	a.cfg.Render.HAProxyArgv0 = argv0
	a.cached.rev, a.cached.host = "", nil
	a.log.Info("keepalived tracks the haproxy processes started as "+argv0, "argv0", argv0)
	k := a.cfg.Keepalived
	if k == nil {
		return nil
	}
	h, err := a.renderHead(ctx)
	if err != nil {
		a.log.Warn("keepalived.conf not re-rendered for the running haproxy; the next reconcile does it", "err", err)
		return nil
	}
	if _, err := k.Running(); err != nil {
		if !errors.Is(err, keepalived.ErrNotRunning) {
			return err
		}
		if err := k.Check(ctx, h.Keepalived); err != nil {
			return fmt.Errorf("keepalived.conf tracking %s: %w", argv0, err)
		}
		if _, err := atomicfile.Write(cmp.Or(k.ConfigPath, keepalived.DefaultConfigPath), h.Keepalived, 0o644); err != nil {
			return fmt.Errorf("keepalived.conf tracking %s: %w", argv0, err)
		}
		return nil
	}
	changed, err := k.Apply(ctx, h.Keepalived)
	if err != nil {
		a.log.Error("applying keepalived.conf for the running haproxy; the next reconcile retries", "err", err)
		return nil
	}
	if changed {
		a.updateStatus(func(s *agentapi.Status) { s.Counts.KeepalivedReloads++ })
		a.metrics.reloads.WithLabelValues("keepalived", "track").Inc()
	}
	return nil
}
