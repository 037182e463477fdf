package trigger

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := New()
		ctx, cancel := context.WithCancel(t.Context())
		type call struct {
			why string
			at  time.Duration
		}
		var calls []call
		start := time.Now()
		done := make(chan error)
		go func() {
			done <- tr.Loop(ctx, func(_ context.Context, why Reason) time.Duration {
				calls = append(calls, call{why.What, time.Since(start)})
				if len(calls) == 2 {
					return time.Second // the second pass asks to be retried
				}
				return 0
			})
		}()
		synctest.Wait() // the first pass ran at once
		tr.Notify("webhook")
		synctest.Wait() // the second pass ran on the trigger
		time.Sleep(10 * time.Second)
		synctest.Wait() // the third pass ran on the timer, once
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Loop = %v, want nil when ctx ends", err)
		}
		want := []call{{"", 0}, {"webhook", 0}, {"", time.Second}}
		if len(calls) != len(want) {
			t.Fatalf("passes %+v, want %+v", calls, want)
		}
		for i := range want {
			if calls[i] != want[i] {
				t.Errorf("pass %d = %+v, want %+v", i, calls[i], want[i])
			}
		}
	})
}
