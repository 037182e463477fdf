package haproxy_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/plan"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy/haproxytest"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// testCtx is a context bounded for one test.
func testCtx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// startHAProxy runs haproxy with a frontend on a free port routed to
// backend "be" (roundrobin, checks on /health) plus the extra sections.
// It returns the instance and the frontend's URL.
func startHAProxy(t testing.TB, extra string) (*haproxytest.Instance, string) {
	t.Helper()
	port := haproxytest.FreePort(t)
	in := haproxytest.Start(t, haproxytest.Options{Sections: fmt.Sprintf(`
frontend fe
    bind 127.0.0.1:%d
    default_backend be

backend be
    balance roundrobin
    option httpchk GET /health

backend st
    balance static-rr
%s`, port, extra)})
	return in, "http://127.0.0.1:" + strconv.Itoa(port)
}

// backendServer is an httptest server answering every path with 200 and its
// name.
func backendServer(t testing.TB, name string) (host string, port int) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Server", name)
		fmt.Fprintln(w, name)
	}))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().(*net.TCPAddr)
	return addr.IP.String(), addr.Port
}

// server is a render.Server as the renderer would produce it.
func server(name, addr string, port, weight int) render.Server {
	return render.Server{Name: name, Address: addr, Port: port, Weight: weight, State: haproxy.StateReady}
}

// reloads returns the master's reload counter.
func reloads(t testing.TB, in *haproxytest.Instance) int {
	t.Helper()
	p, err := in.Master.ShowProc(testCtx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return p.Master.Reloads
}

// serversOf returns backend's servers by name from ActualServers.
func serversOf(t testing.TB, ctx context.Context, in *haproxytest.Instance, backend string) map[string]haproxy.ActualServer {
	t.Helper()
	all, err := in.Runtime.ActualServers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]haproxy.ActualServer{}
	for _, s := range all[backend] {
		out[s.Name] = s
	}
	return out
}

// waitFor polls cond every 20ms until it is true or ctx ends.
func waitFor(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// op is one plan op on server s of backend be.
func op(kind, be string, s render.Server) plan.Op {
	return plan.Op{Op: kind, Backend: be, Server: s.Name, New: &s}
}

// adds are add ops for servers.
func adds(be string, servers ...render.Server) []plan.Op {
	out := make([]plan.Op, len(servers))
	for i, s := range servers {
		out[i] = op(plan.OpAdd, be, s)
	}
	return out
}

// dels are del ops for the named servers.
func dels(be string, names ...string) []plan.Op {
	out := make([]plan.Op, len(names))
	for i, n := range names {
		out[i] = plan.Op{Op: plan.OpDel, Backend: be, Server: n}
	}
	return out
}

// apply runs ops through the driver's one entry.
func apply(ctx context.Context, in *haproxytest.Instance, drain time.Duration, ops ...plan.Op) (haproxy.ApplyResult, error) {
	return in.Runtime.Apply(ctx, ops, haproxy.ApplyOptions{DrainTimeout: drain})
}
