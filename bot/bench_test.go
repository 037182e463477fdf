package bot

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/bot/chain"
)

// BenchmarkEventToPullRequest measures, on the simulated chain with the real
// contract and watcher, the time from sealing the block that puts an
// admission at the confirmation depth to the forge receiving the request
// that opens its pull request (goal: at most 1 s). Each iteration admits a
// new node; the setup blocks are sealed with the timer stopped.
func BenchmarkEventToPullRequest(b *testing.B) {
	c := newSimChain(b)
	m, _ := NewMetrics(nil)
	w := c.watcher(b, b.TempDir(), m)
	e := newEnv(b, envOptions{github: true, source: w, registry: w, metrics: m})
	created := make(chan int, 1)
	e.gh.onCreate = func(n int) { created <- n }
	startBot(b, e.bot)
	var worst time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		r := testRecord(100 + i)
		r.Host = fmt.Sprintf("198.18.%d.%d", 50+i/250, 1+i%250)
		c.admit(b, r)
		c.commit(simDepth - 1)
		b.StartTimer()
		start := time.Now()
		c.sim.Commit()
		select {
		case <-created:
		case <-time.After(waitTimeout):
			b.Fatalf("no pull request for node %d", i)
		}
		worst = max(worst, time.Since(start))
	}
	b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
}

// BenchmarkHandleEvent measures the bot's part alone: one admission event
// to an open pull request (validation, plan, commit, push, forge calls).
func BenchmarkHandleEvent(b *testing.B) {
	e := newEnv(b, envOptions{github: true})
	for i := 0; b.Loop(); i++ {
		r := testRecord(100 + i)
		r.Host = fmt.Sprintf("198.18.%d.%d", 50+i/250, 1+i%250)
		if res := e.bot.HandleEvent(context.Background(), testEvent(chain.NodeAdmitted, r, uint64(10+i))); res.Action != ResultAdd {
			b.Fatalf("event %d: %s %s", i, res.Action, res.Detail)
		}
	}
}
