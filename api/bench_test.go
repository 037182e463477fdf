package api

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkConcurrentCommits: 20 writers add servers through the API at
// once, on a local bare repository. It reports commits/s and the p50 and
// p99 latency of one POST (which includes waiting for the writers ahead:
// commits are serialised per branch).
func BenchmarkConcurrentCommits(b *testing.B) {
	for _, tr := range transports {
		b.Run(string(tr), func(b *testing.B) {
			e := newEnv(b, envOpts{transport: tr})
			tok := e.token("otto")
			const writers = 20
			var next atomic.Int64
			lat := make([]time.Duration, 0, b.N)
			var mu sync.Mutex
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						t0 := time.Now()
						res := e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "",
							fmt.Sprintf(`{"name":"b-%d","address":"10.%d.%d.%d:80"}`, i, 100+i/65536, (i/256)%256, i%256), "Authorization", "Bearer "+tok)
						d := time.Since(t0)
						if res.code != http.StatusAccepted {
							b.Errorf("writer: %d %s", res.code, res.body)
							return
						}
						mu.Lock()
						lat = append(lat, d)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			if len(lat) > 0 {
				b.ReportMetric(float64(len(lat))/el.Seconds(), "commits/s")
				b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
				b.ReportMetric(float64(lat[(len(lat)*99)/100].Milliseconds()), "p99-ms")
			}
		})
	}
}
