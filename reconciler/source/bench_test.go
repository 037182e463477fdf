package source

import (
	"context"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/internal/fleetgen"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
)

// BenchmarkSyncOneChange10k: a Sync over smart HTTP that brings one
// changed node file of a 10,000-node fleet (fetch and snapshot).
func BenchmarkSyncOneChange10k(b *testing.B) {
	srv := gitservertest.New(b, gitserver.Options{})
	fsys, err := fleetgen.Generate(10000, 2)
	if err != nil {
		b.Fatal(err)
	}
	files := map[string][]byte{}
	for p, f := range fsys {
		files[p] = f.Data
	}
	gitservertest.MustCommit(b, srv, files, nil, "seed")
	s := &Source{URL: srv.URL(), Dir: b.TempDir()}
	ctx := context.Background()
	if _, err := s.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		gitservertest.MustCommit(b, srv, map[string][]byte{fleetgen.NodePath(i % 10000): fleetgen.NodeFile(i%10000, 2, 1+i%90)}, nil, "weight")
		b.StartTimer()
		t0 := time.Now()
		if _, err := s.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		total += time.Since(t0)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/sync")
}
