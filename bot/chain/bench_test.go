package chain

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkBackfill reads the 5,000-block, 500-log chain from scratch per
// iteration (2,000-block ranges) and reports blocks/s, logs/s and events/s.
func BenchmarkBackfill(b *testing.B) {
	c := getBackfillChain(b)
	b.ResetTimer()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		cfg := testConfig(c.env, b.TempDir(), 0)
		start := time.Now()
		got, _ := collect(b, cfg, c.env.client, len(c.want))
		total += time.Since(start)
		if len(got) != len(c.want) {
			b.Fatalf("%d events, want %d", len(got), len(c.want))
		}
	}
	sec := total.Seconds() / float64(b.N)
	b.ReportMetric(float64(c.head)/sec, "blocks/s")
	b.ReportMetric(float64(5*backfillNodes)/sec, "logs/s")
	b.ReportMetric(float64(len(c.want))/sec, "events/s")
}

// noSubscribe hides the backend's head subscription: polling only.
type noSubscribe struct{ Backend }

// BenchmarkEventLatency measures the time from sealing the block that puts an
// admission at the confirmation depth (2) to the event leaving the watcher,
// woken up by the head subscription or by polling every 50 ms.
func BenchmarkEventLatency(b *testing.B) {
	for _, mode := range []string{"subscription", "poll-50ms"} {
		b.Run(mode, func(b *testing.B) {
			const depth = 2
			e := newSimEnv(b)
			cfg := testConfig(e, b.TempDir(), depth)
			var backend Backend = e.client
			if mode == "subscription" {
				cfg.PollInterval = time.Hour
			} else {
				cfg.PollInterval = 50 * time.Millisecond
				backend = noSubscribe{e.client}
			}
			r := startWatcher(b, cfg, backend)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rec := e.nodeRecord(i)
				e.do(b, e.provider, e.reg.PackCreateNode(rec))
				e.do(b, e.manager, e.reg.PackAddNodeToCluster(e.clusterID, rec.PubKey))
				e.do(b, e.manager, e.reg.PackValidateNode(rec.PubKey))
				e.commit(depth - 1)
				e.sim.Commit() // the admission reaches the depth
				start := time.Now()
				ev := r.next(b)
				lat = append(lat, time.Since(start))
				if ev.Kind != NodeAdmitted {
					b.Fatalf("event %+v", ev)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			var sum time.Duration
			for _, l := range lat {
				sum += l
			}
			b.ReportMetric(float64(sum.Microseconds())/float64(len(lat))/1000, "mean-ms")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
