package reconciler

import (
	"fmt"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/plan"

	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// BenchmarkDiffServers10k: the comparison a no-op reconcile makes at 10,000
// servers when the file on disk is the desired config.
func BenchmarkDiffServers10k(b *testing.B) {
	be := render.Backend{Name: "be", Balance: "roundrobin", Dynamic: true}
	var actual []haproxy.ActualServer
	for i := range 10000 {
		s := render.Server{Name: fmt.Sprintf("n-%05d", i), Address: "127.0.0.1", Port: 20000 + i, Weight: 100, Check: true, State: "ready"}
		be.Servers = append(be.Servers, s)
		actual = append(actual, haproxy.ActualServer{Server: s, CheckStatus: "L7OK"})
	}
	want := []render.Backend{be}
	act := map[string][]haproxy.ActualServer{"be": actual}
	adm := &admissionState{}
	var scratch []plan.Before
	b.ResetTimer()
	for range b.N {
		if d := diffHost(want, act, nil, adm, &scratch); len(d.Ops) != 0 {
			b.Fatal(d.Ops)
		}
	}
}
