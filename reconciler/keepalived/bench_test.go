package keepalived

import (
	"testing"
	"time"
)

// BenchmarkFailover measures how long the VIP takes to reach the backup
// once the master's keepalived crashes (SIGKILL: the backup waits for the
// master-down interval, 3 x advert_int plus skew) or stops (SIGTERM:
// keepalived sends a priority-0 advert). It reports ms/failover; ns/op is
// the same time. Each iteration restarts the master and waits until it has
// taken the VIP back, outside the timer. Run with e.g.
//
//	go test ./reconciler/keepalived/ -run '^$' -bench Failover -benchtime 5x
func BenchmarkFailover(b *testing.B) {
	for _, advert := range []string{"1", "0.2"} {
		for _, mode := range []string{"crash", "stop"} {
			b.Run("advert_int="+advert+"s/"+mode, func(b *testing.B) {
				a, bk := pair(b, advert, false)
				a.start(b)
				bk.start(b)
				waitHolder(b, vip1, a, a, bk)
				var total time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					start := time.Now()
					if mode == "crash" {
						a.kill(b)
					} else {
						a.stop()
					}
					if err := WaitState(testCtx(b, waitMax), bk.host.Netns, iface, vip1, true); err != nil {
						b.Fatal(err)
					}
					total += time.Since(start)
					b.StopTimer()
					a.waitExit(b)
					a.start(b)
					waitHolder(b, vip1, a, a, bk)
					b.StartTimer()
				}
				b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/failover")
			})
		}
	}
}
