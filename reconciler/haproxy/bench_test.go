package haproxy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// BenchmarkAdd1000Servers measures 1,000 `add server` + `enable health`:
// "driver" through Runtime.AddServers (one session, 100 commands a line,
// every reply checked, read back with show servers state), "raw" the same
// 2,000 commands pipelined in one write on one prompt-mode session and read
// to EOF, nothing parsed.
func BenchmarkAdd1000Servers(b *testing.B) {
	in, _ := startHAProxy(b, "")
	ctx := context.Background()
	servers := func(iter int) []render.Server {
		out := make([]render.Server, 1000)
		for i := range out {
			s := server(fmt.Sprintf("b%d_%04d", iter, i), "127.0.0.1", 20000+i, 10)
			s.Check, s.Inter, s.Rise, s.Fall, s.Maxconn = true, 2*time.Second, 2, 3, 100
			out[i] = s
		}
		return out
	}
	cleanup := func(b *testing.B, ss []render.Server) {
		b.Helper()
		cmds := make([]string, len(ss))
		for i, s := range ss {
			cmds[i] = haproxy.DelServerCommand("be", s.Name)
		}
		if _, err := in.Runtime.Exec(ctx, cmds); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("driver", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			ss := servers(i)
			b.StartTimer()
			if _, err := in.Runtime.Apply(ctx, adds("be", ss...), haproxy.ApplyOptions{}); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			cleanup(b, ss)
			b.StartTimer()
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/1000adds")
	})

	b.Run("raw", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			ss := servers(i)
			var payload strings.Builder
			payload.WriteString("prompt\n")
			for _, s := range ss {
				payload.WriteString(haproxy.AddServerCommand("be", s, 0) + "\n")
				payload.WriteString(haproxy.EnableHealthCommand("be", s.Name) + "\n")
			}
			payload.WriteString("quit\n")
			b.StartTimer()
			c, err := net.Dial("unix", in.AdminSocket)
			if err != nil {
				b.Fatal(err)
			}
			go func() { _, _ = io.WriteString(c, payload.String()) }()
			out, err := io.ReadAll(c)
			_ = c.Close()
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if n := strings.Count(string(out), "New server registered."); n != 1000 {
				b.Fatalf("raw: %d servers registered", n)
			}
			cleanup(b, ss)
			b.StartTimer()
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/1000adds")
	})
}
