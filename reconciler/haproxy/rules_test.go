package haproxy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/plan"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy/haproxytest"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// loop sends requests to url from two keep-alive clients until stopped and
// counts the failures.
type loop struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

func startLoop(ctx context.Context, url string) *loop {
	l := &loop{}
	ctx, l.cancel = context.WithCancel(ctx)
	transport := &http.Transport{MaxIdleConnsPerHost: 2}
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	for range 2 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer transport.CloseIdleConnections()
			for ctx.Err() == nil {
				resp, err := client.Get(url)
				if err != nil {
					if ctx.Err() == nil {
						l.failed.Add(1)
						l.firstErr.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					l.failed.Add(1)
					l.firstErr.CompareAndSwap(nil, resp.Status)
					continue
				}
				l.ok.Add(1)
			}
		}()
	}
	return l
}

// stop ends the loop once it made at least min more requests.
func (l *loop) stop(t *testing.T, min int64) (ok, failed int64) {
	t.Helper()
	target := l.ok.Load() + l.failed.Load() + min
	waitFor(t, testCtx(t, 20*time.Second), "requests through haproxy", func() bool { return l.ok.Load()+l.failed.Load() >= target })
	l.cancel()
	l.wg.Wait()
	return l.ok.Load(), l.failed.Load()
}

// TestServerChangesOnLiveHAProxy settles every rule of plan.ServerChanges
// on a real HAProxy 2.6: each change the rule calls runtime is applied
// through Runtime.Apply under a request loop (0 failed requests, no reload)
// and read back from `show servers state` / `show stat`; each change it calls
// a reload is refused by HAProxy when forced through the runtime API.
func TestServerChangesOnLiveHAProxy(t *testing.T) {
	h1, p1 := backendServer(t, "one")
	h2, p2 := backendServer(t, "two")
	stPort := haproxytest.FreePort(t)
	static := func(name, host string, port int) render.Server {
		s := server(name, host, port, 100)
		s.Maxconn = 10
		return s
	}
	st := render.Backend{Name: "st", Balance: "static-rr", Servers: []render.Server{static("s1", h1, p1), static("s2", h2, p2)}}
	var lines strings.Builder
	for _, s := range st.Servers {
		lines.WriteString(render.ServerIndent + s.Line() + "\n")
	}
	in, url := startHAProxy(t, lines.String()+fmt.Sprintf(`
frontend fst
    bind 127.0.0.1:%d
    default_backend st
`, stPort))
	stURL := "http://127.0.0.1:" + strconv.Itoa(stPort)
	ctx := testCtx(t, 90*time.Second)

	checked := func(name, host string, port int) render.Server {
		s := server(name, host, port, 100)
		s.Check, s.Inter, s.Rise, s.Fall = true, 100*time.Millisecond, 1, 2
		return s
	}
	be := render.Backend{Name: "be", Balance: "roundrobin", Dynamic: true}
	var beRunning []render.Server // be starts empty: servers come with the first case
	stRunning := slices.Clone(st.Servers)
	startReloads := reloads(t, in)

	type tc struct {
		name    string
		backend *render.Backend
		mutate  func(servers []render.Server) []render.Server
		ops     []string // op kinds ServerChanges must return
		reload  bool
		refused error // for a reload: what HAProxy answers when forced (nil: any refusal)
		noLoad  bool  // the backend has no server in service before: no request loop
		check   func(t *testing.T, got map[string]haproxy.ActualServer, rows map[string]haproxy.ServerStateRow)
	}
	cases := []tc{
		{name: "add with check: admitted through drain", backend: &be,
			mutate: func([]render.Server) []render.Server {
				return []render.Server{checked("d1", h1, p1), checked("d2", h2, p2)}
			},
			ops: []string{plan.OpAdd, plan.OpAdd}, noLoad: true,
			check: func(t *testing.T, got map[string]haproxy.ActualServer, rows map[string]haproxy.ServerStateRow) {
				for _, n := range []string{"d1", "d2"} {
					if !rows[n].InService() || rows[n].AdminState&4 == 0 {
						t.Errorf("%s: admin_state %d op_state %d: want in service with the CMAINT bit (4) kept", n, rows[n].AdminState, rows[n].OpState)
					}
				}
			}},
		{name: "maxconn on a dynamic backend is runtime", backend: &be,
			mutate: func(s []render.Server) []render.Server { s[0].Maxconn, s[1].Maxconn = 50, 50; return s },
			ops:    []string{plan.OpSetMaxconn, plan.OpSetMaxconn},
			check: func(t *testing.T, got map[string]haproxy.ActualServer, _ map[string]haproxy.ServerStateRow) {
				if got["d1"].Maxconn != 50 || got["d2"].Maxconn != 50 {
					t.Errorf("slim %d %d, want 50", got["d1"].Maxconn, got["d2"].Maxconn)
				}
			}},
		{name: "weight on a dynamic backend is runtime", backend: &be,
			mutate: func(s []render.Server) []render.Server { s[0].Weight = 7; return s },
			ops:    []string{plan.OpSetWeight}},
		{name: "replace (inter) on a dynamic backend is runtime, batched", backend: &be,
			mutate: func(s []render.Server) []render.Server { s[1].Inter = 200 * time.Millisecond; return s },
			ops:    []string{plan.OpReplace}},
		{name: "maint then admit", backend: &be,
			mutate: func(s []render.Server) []render.Server { s[0].State = "maint"; return s },
			ops:    []string{plan.OpSetState}},
		{name: "leaving maint with a check is an admit", backend: &be,
			mutate: func(s []render.Server) []render.Server { s[0].State = "ready"; return s },
			ops:    []string{plan.OpAdmit}},
		{name: "maxconn on a static backend is runtime", backend: &st,
			mutate: func(s []render.Server) []render.Server { s[0].Maxconn = 0; s[1].Maxconn = 20; return s },
			ops:    []string{plan.OpSetMaxconn, plan.OpSetMaxconn},
			check: func(t *testing.T, got map[string]haproxy.ActualServer, _ map[string]haproxy.ServerStateRow) {
				if got["s1"].Maxconn != 0 || got["s2"].Maxconn != 20 {
					t.Errorf("slim %d %d, want 0 (no limit) and 20", got["s1"].Maxconn, got["s2"].Maxconn)
				}
			}},
		{name: "weight 0 on a static backend is runtime", backend: &st,
			mutate: func(s []render.Server) []render.Server { s[1].Weight = 0; return s },
			ops:    []string{plan.OpSetWeight}},
		{name: "weight back to the file's on a static backend reloads (plan cannot know the file's)", backend: &st,
			mutate: func(s []render.Server) []render.Server { s[1].Weight = 100; return s },
			ops:    []string{plan.OpSetWeight}, reload: true, refused: errNone},
		{name: "another weight on a static backend reloads", backend: &st,
			mutate: func(s []render.Server) []render.Server { s[0].Weight = 50; return s },
			ops:    []string{plan.OpSetWeight}, reload: true},
		{name: "address on a static backend is runtime", backend: &st,
			mutate: func(s []render.Server) []render.Server { s[0].Address, s[0].Port = h2, p2; return s },
			ops:    []string{plan.OpSetAddr}},
		{name: "drain on a static backend is runtime", backend: &st,
			mutate: func(s []render.Server) []render.Server { s[0].State = "drain"; return s },
			ops:    []string{plan.OpSetState}},
		{name: "add on a static backend reloads", backend: &st,
			mutate: func(s []render.Server) []render.Server { return append(s, static("s3", h1, p1)) },
			ops:    []string{plan.OpAdd}, reload: true, refused: haproxy.ErrStaticBalance},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			running := &beRunning
			target := url
			if c.backend == &st {
				running, target = &stRunning, stURL
			}
			after := c.mutate(slices.Clone(*running))
			b := *c.backend
			b.Servers = after
			bc := plan.ServerChanges(&b, plan.Befores(*running))
			var kinds []string
			for _, op := range bc.Ops {
				kinds = append(kinds, op.Op)
			}
			if !slices.Equal(kinds, c.ops) || (len(bc.Reasons) > 0) != c.reload {
				t.Fatalf("ServerChanges: ops %v reasons %q, want ops %v reload %v", kinds, bc.Reasons, c.ops, c.reload)
			}
			if c.reload {
				_, err := apply(ctx, in, time.Second, bc.Ops...)
				switch {
				case c.refused == errNone:
					// HAProxy would take it (the file's weight), but the
					// plan cannot know the file's weight: it reloads.
					if err != nil {
						t.Fatalf("forced: %v", err)
					}
					*running = after
				case err == nil:
					t.Fatal("HAProxy accepted at runtime a change the rule sends to a reload")
				case c.refused != nil && !errors.Is(err, c.refused):
					t.Fatalf("forced: %v, want %v", err, c.refused)
				default:
					t.Logf("HAProxy refuses it at runtime: %v", err)
				}
				return
			}
			var l *loop
			if !c.noLoad {
				l = startLoop(ctx, target+"/")
			}
			res, err := apply(ctx, in, 5*time.Second, bc.Ops...)
			if err != nil {
				t.Fatal(err)
			}
			// Admission, as the agent does it: set the state once the check passed.
			for _, k := range res.Admitting {
				_, name, _ := strings.Cut(k, "/")
				var s render.Server
				for _, x := range after {
					if x.Name == name {
						s = x
					}
				}
				waitFor(t, ctx, name+" to pass its first check", func() bool {
					rows, err := in.Runtime.ShowServersState(ctx, b.Name)
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range rows {
						if r.Name == name {
							return r.Admitted()
						}
					}
					return false
				})
				if _, err := apply(ctx, in, time.Second, op(plan.OpSetState, b.Name, s)); err != nil {
					t.Fatal(err)
				}
			}
			if l != nil {
				ok, failed := l.stop(t, 20)
				if failed != 0 {
					t.Errorf("%d of %d requests failed, first: %v", failed, ok+failed, l.firstErr.Load())
				}
				t.Logf("%d requests, %d failed", ok+failed, failed)
			}
			*running = after
			got := serversOf(t, ctx, in, b.Name)
			rows := map[string]haproxy.ServerStateRow{}
			rs, err := in.Runtime.ShowServersState(ctx, b.Name)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				rows[r.Name] = r
			}
			for _, s := range after {
				a, ok := got[s.Name]
				w := s.Weight
				if s.State == "drain" {
					w = a.Weight // drain leaves the weight
				}
				if !ok || a.Address != s.Address || a.Port != s.Port || a.Weight != w || a.State != s.State || a.Maxconn != s.Maxconn {
					t.Errorf("%s runs as %+v, want %s weight %d maxconn %d state %s", s.Name, a, s.Addr(), w, s.Maxconn, s.State)
				}
			}
			if c.check != nil {
				c.check(t, got, rows)
			}
		})
	}
	if n := reloads(t, in); n != startReloads {
		t.Errorf("%d reloads, want none", n-startReloads)
	}
}

// errNone marks a reload case HAProxy would accept at runtime.
var errNone = errors.New("accepted")
