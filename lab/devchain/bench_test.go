package devchain

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkDevChain reports the lab's chain figures with the default 1s
// block period: geth start to both JSON-RPC servers ready, the deployment
// (registry, funding, cluster managers), register -> admitted (createNode,
// then addNodeToCluster + validateNode, all mined) and the stop.
func BenchmarkDevChain(b *testing.B) {
	bin := gethBinary(b)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var start, deploy, admit, stop time.Duration
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		httpAddr, err := FreeAddr("127.0.0.1")
		if err != nil {
			b.Fatal(err)
		}
		wsAddr, err := FreeAddr("127.0.0.1")
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		n, err := Start(ctx, Options{Geth: bin, DataDir: filepath.Join(b.TempDir(), "geth"), HTTPAddr: httpAddr, WSAddr: wsAddr, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		start += time.Since(t0)
		t0 = time.Now()
		info, err := n.Deploy(ctx, testClusters)
		if err != nil {
			b.Fatal(err)
		}
		deploy += time.Since(t0)
		sp, err := NewSpare("eu", clusterEU, "198.18.1.24", 8080, 9091)
		if err != nil {
			b.Fatal(err)
		}
		t0 = time.Now()
		if _, err := Register(ctx, info, sp); err != nil {
			b.Fatal(err)
		}
		if _, err := Admit(ctx, info, sp.PubKey); err != nil {
			b.Fatal(err)
		}
		admit += time.Since(t0)
		t0 = time.Now()
		if err := n.Close(); err != nil {
			b.Fatal(err)
		}
		stop += time.Since(t0)
		cancel()
	}
	per := func(d time.Duration) float64 { return float64(d.Milliseconds()) / float64(b.N) }
	b.ReportMetric(per(start), "start-ms")
	b.ReportMetric(per(deploy), "deploy-ms")
	b.ReportMetric(per(admit), "register-admit-ms")
	b.ReportMetric(per(stop), "stop-ms")
}
