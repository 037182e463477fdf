package child

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Runner is one instance of a supervised process (a haproxy or keepalived
// Process): Run blocks until the process exits (nil when it stopped
// because ctx ended); Ready waits until it serves.
type Runner interface {
	Run(ctx context.Context) error
	Ready(ctx context.Context) error
}

// Supervisor keeps a process running: see Run.
type Supervisor struct {
	// Name is the process's name in errors.
	Name string
	// New returns a fresh instance (a Runner runs once).
	New func() Runner
	// ReadyTimeout bounds the wait for an instance to serve (default 30s).
	ReadyTimeout time.Duration
	// OnReady, if set, runs once each instance serves, before Run waits
	// for it to exit. An error stops that instance.
	OnReady func(ctx context.Context, r Runner) error
	// RestartMin and RestartMax bound the wait before an instance that
	// exited by itself is started again (defaults 1s and 30s): it doubles
	// with each restart and falls back to RestartMin once an instance
	// has served for RestartReset (default a minute).
	RestartMin, RestartMax, RestartReset time.Duration
	// OnServe, if set, is called each time an instance serves.
	OnServe func()
	// OnRestart, if set, is called each time an instance exited by
	// itself, before the backoff: err is why, served whether it had come
	// up, ran how long it ran, wait the backoff before the next instance.
	OnRestart func(err error, served bool, ran, wait time.Duration)
}

// Run keeps s's process running until ctx ends, then stops it and returns
// nil. The first instance must come up: its outcome (nil once it serves,
// or why it did not) is sent on up (nil: not reported; else it needs room
// for one value), and a failure ends Run with that error, as a host that
// cannot start haproxy should not pretend to run. Afterwards an instance
// that exits by itself (a crash, a kill -9) is reported to OnRestart and
// started again after the backoff, however often that takes.
func (s Supervisor) Run(ctx context.Context, up chan<- error) error {
	minWait := orDefault(s.RestartMin, time.Second)
	maxWait := max(orDefault(s.RestartMax, 30*time.Second), minWait)
	reset := orDefault(s.RestartReset, time.Minute)
	backoff := minWait
	for {
		start := time.Now()
		served, err := s.runOnce(ctx, func() {
			if up != nil {
				up <- nil
				up = nil
			}
		})
		if ctx.Err() != nil {
			if up != nil {
				up <- fmt.Errorf("%s: %w", s.Name, ctx.Err())
			}
			return nil
		}
		if up != nil {
			err = fmt.Errorf("starting %s: %w", s.Name, err)
			up <- err
			return err
		}
		if err == nil {
			err = errors.New("it returned without an error")
		}
		if served && time.Since(start) >= reset {
			backoff = minWait
		}
		if s.OnRestart != nil {
			s.OnRestart(err, served, time.Since(start), backoff)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, maxWait)
	}
}

// runOnce runs one instance until it exits; served reports whether it
// became ready (then ready was called).
func (s Supervisor) runOnce(ctx context.Context, ready func()) (served bool, err error) {
	r := s.New()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(cctx) }()
	rctx, rcancel := context.WithTimeout(cctx, orDefault(s.ReadyTimeout, 30*time.Second))
	err = r.Ready(rctx)
	rcancel()
	if err == nil && s.OnReady != nil {
		err = s.OnReady(cctx, r)
	}
	if err != nil {
		cancel()
		<-done
		return false, err
	}
	if s.OnServe != nil {
		s.OnServe()
	}
	ready()
	return true, <-done
}
