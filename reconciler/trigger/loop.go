package trigger

import (
	"context"
	"time"
)

// Loop runs pass at once, then whenever t fires or the delay the last pass
// asked for has passed (0: wait for t alone), until ctx ends. It is the
// reconcile loop of every agent role; the pass gets the reason that woke it
// ("" for the timer). Loop returns nil when ctx ends.
func (t *Trigger) Loop(ctx context.Context, pass func(ctx context.Context, why Reason) (next time.Duration)) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		var why Reason
		select {
		case <-ctx.Done():
			return nil
		case why = <-t.ch:
		case <-timer.C:
		}
		next := pass(ctx, why)
		if ctx.Err() != nil {
			return nil
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		if next > 0 {
			timer.Reset(next)
		}
	}
}
