// Package trigger collapses the reasons to sync desired state (a poll timer,
// a webhook, SIGHUP, a change in a watched working directory) into one
// channel. The channel holds at most one pending trigger and senders never
// block, so a burst of notifications while a sync runs yields one more sync,
// not a queue of them (the pattern of Prometheus' discovery manager).
//
//	t := trigger.New()
//	go t.Poll(ctx, trigger.DefaultPollInterval, trigger.DefaultPollJitter)
//	t.Signals(ctx, syscall.SIGHUP)
//	h, err := t.HTTPHandler(trigger.HTTPAuth{Token: tok})
//	for r := range t.C() { sync(r) }
package trigger

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"sync/atomic"
	"time"
)

// Reasons passed to Notify by the sources of this package.
const (
	ReasonPoll    = "poll"
	ReasonWebhook = "webhook"
	ReasonSignal  = "signal"
	ReasonWatch   = "watch"
)

// Defaults for the sources.
const (
	DefaultPollInterval = 15 * time.Second
	DefaultPollJitter   = 0.2
	DefaultDebounce     = 200 * time.Millisecond
)

// Reason says why a sync was triggered: the first notification of a burst.
type Reason struct {
	// What is the notifier's reason, e.g. "poll", "webhook", "signal hangup".
	What string
	// At is when that notification arrived.
	At time.Time
}

func (r Reason) String() string { return r.What }

// Trigger is a one-slot, never-blocking trigger channel. The zero value is
// not usable; call New. All methods are safe for concurrent use.
type Trigger struct {
	ch        chan Reason
	notified  atomic.Int64
	collapsed atomic.Int64
}

// New returns a Trigger with nothing pending.
func New() *Trigger {
	return &Trigger{ch: make(chan Reason, 1)}
}

// Notify asks for a sync. If one is already pending, this one is folded
// into it (the pending reason is kept). It never blocks.
func (t *Trigger) Notify(reason string) {
	t.notified.Add(1)
	select {
	case t.ch <- Reason{What: reason, At: time.Now()}:
	default:
		t.collapsed.Add(1)
	}
}

// C returns the channel to receive triggers from. It is never closed.
func (t *Trigger) C() <-chan Reason { return t.ch }

// Counts returns how many notifications arrived and how many of them were
// folded into an already pending one.
func (t *Trigger) Counts() (notified, collapsed int64) {
	return t.notified.Load(), t.collapsed.Load()
}

// Poll notifies ReasonPoll every interval, each wait stretched or shrunk at
// random by up to jitter (0.2 means ±20%) so a fleet of agents does not poll
// in step. The first notification comes one (jittered) interval after the
// start. interval <= 0 means DefaultPollInterval; jitter must be in [0, 1).
// Poll returns nil when ctx is done.
func (t *Trigger) Poll(ctx context.Context, interval time.Duration, jitter float64) error {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	if jitter < 0 || jitter >= 1 {
		return fmt.Errorf("poll trigger: jitter %v outside [0, 1)", jitter)
	}
	timer := time.NewTimer(jittered(interval, jitter))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
			t.Notify(ReasonPoll)
			timer.Reset(jittered(interval, jitter))
		}
	}
}

// jittered returns d scaled by a uniform random factor in [1-j, 1+j].
func jittered(d time.Duration, j float64) time.Duration {
	if j == 0 {
		return d
	}
	return time.Duration(float64(d) * (1 + j*(2*rand.Float64()-1)))
}

// Signals notifies "signal <name>" for each of sigs received until ctx is
// done. The signals are registered before Signals returns, so none sent
// after it is lost; the returned channel is closed once the handler stopped
// (after ctx is done) and the signals' default behaviour is restored.
func (t *Trigger) Signals(ctx context.Context, sigs ...os.Signal) <-chan struct{} {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-ch:
				t.Notify(ReasonSignal + " " + s.String())
			}
		}
	}()
	return done
}
