package haproxy_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy/haproxytest"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// TestApplyNeverWaitsForChecks: Apply adds servers with checks in drain
// (checks run, no traffic) and lists them as admitting without waiting;
// HAProxy's own check results then tell which passed (Admitted) and why the
// others did not.
func TestApplyNeverWaitsForChecks(t *testing.T) {
	in, _ := startHAProxy(t, "")
	ctx := testCtx(t, 30*time.Second)
	host, port := backendServer(t, "good") // answers /health with 200
	closed := haproxytest.FreePort(t)

	checked := func(name, addr string, port int, state string) render.Server {
		s := server(name, addr, port, 10)
		s.Check, s.Inter, s.Rise, s.Fall, s.State = true, 100*time.Millisecond, 2, 1, state
		return s
	}
	servers := []render.Server{
		checked("good", host, port, haproxy.StateReady),
		checked("gooddrain", host, port, haproxy.StateDrain),
		checked("bad", "127.0.0.1", closed, haproxy.StateReady),
		server("nocheck", host, port, 10),
		checked("parked", host, port, haproxy.StateMaint),
	}
	rows, err := in.Runtime.ShowServersState(ctx, "be")
	if err != nil {
		t.Fatal(err)
	}
	maxID := 0
	for _, r := range rows {
		maxID = max(maxID, r.ID)
	}
	start := time.Now()
	res, err := apply(ctx, in, time.Second, adds("be", servers...)...)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Apply took %s: it must not wait for checks", took)
	}
	// Added servers get explicit ids above the backend's highest, in order
	// (HAProxy 2.6's own search for a free id is linear in the servers).
	rows, err = in.Runtime.ShowServersState(ctx, "be")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, r := range rows {
		ids[r.Name] = r.ID
	}
	for i, s := range servers {
		if ids[s.Name] != maxID+1+i {
			t.Errorf("server %s has id %d, want %d", s.Name, ids[s.Name], maxID+1+i)
		}
	}
	slices.Sort(res.Admitting)
	if want := []string{"be/bad", "be/good", "be/gooddrain"}; !slices.Equal(res.Admitting, want) {
		t.Fatalf("admitting %v, want %v", res.Admitting, want)
	}
	waitFor(t, ctx, "good and gooddrain to pass their checks, bad to fail", func() bool {
		rows, err := in.Runtime.ShowServersState(ctx, "be")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range rows {
			switch r.Name {
			case "good", "gooddrain":
				if r.Admitted() {
					n++
				}
			case "bad":
				if r.CheckStatusName() == "L4CON" && !r.Admitted() {
					n++
				}
			}
		}
		return n == 3
	})
	got := serversOf(t, ctx, in, "be")
	for name, want := range map[string]struct {
		state string
		up    bool
	}{
		"good":      {haproxy.StateDrain, true}, // the caller sets ready once admitted
		"gooddrain": {haproxy.StateDrain, true},
		"bad":       {haproxy.StateDrain, false},
		"nocheck":   {haproxy.StateReady, true},
		"parked":    {haproxy.StateMaint, false},
	} {
		a := got[name]
		if a.State != want.state || a.Up != want.up {
			t.Errorf("%s: state %s up %v, want %+v", name, a.State, a.Up, want)
		}
	}
}

// holdServer is a backend that answers each HTTP request only when told to.
type holdServer struct {
	addr     *net.TCPAddr
	requests chan struct{} // one value per request received
	release  chan struct{} // closed to answer every request
	once     sync.Once
}

func newHoldServer(t *testing.T) *holdServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &holdServer{addr: l.Addr().(*net.TCPAddr), requests: make(chan struct{}, 16), release: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				h.requests <- struct{}{}
				<-h.release
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
			}()
		}
	}()
	t.Cleanup(func() { h.Release(); _ = l.Close(); wg.Wait() })
	return h
}

// Release answers the held requests.
func (h *holdServer) Release() { h.once.Do(func() { close(h.release) }) }

func TestDelServerWaitsForSession(t *testing.T) {
	for _, tc := range []struct {
		name         string
		drainTimeout time.Duration
		forced       bool
	}{
		{"session ends", 20 * time.Second, false},
		{"drain timeout", 300 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, url := startHAProxy(t, "")
			ctx := testCtx(t, 30*time.Second)
			hold := newHoldServer(t)
			if _, err := apply(ctx, in, time.Second, adds("be", server("slow", "127.0.0.1", hold.addr.Port, 1))...); err != nil {
				t.Fatal(err)
			}
			transport := &http.Transport{}
			t.Cleanup(transport.CloseIdleConnections) // lets haproxy soft-stop at once
			client := &http.Client{Transport: transport, Timeout: 20 * time.Second}
			type result struct {
				status int
				err    error
			}
			reqDone := make(chan result, 1)
			go func() {
				resp, err := client.Get(url + "/slow")
				if err != nil {
					reqDone <- result{err: err}
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				reqDone <- result{status: resp.StatusCode}
			}()
			select {
			case <-hold.requests:
			case <-ctx.Done():
				t.Fatal("the request never reached the backend")
			}

			type delResult struct {
				forced bool
				err    error
			}
			delDone := make(chan delResult, 1)
			go func() {
				res, err := apply(ctx, in, tc.drainTimeout, dels("be", "slow")...)
				delDone <- delResult{len(res.Forced) > 0, err}
			}()

			if !tc.forced {
				// DelServer drains and waits while the session runs.
				waitFor(t, ctx, "slow to drain", func() bool {
					a := serversOf(t, ctx, in, "be")["slow"]
					return a.State == haproxy.StateDrain && a.Sessions == 1
				})
				select {
				case r := <-delDone:
					t.Fatalf("DelServer returned (%+v) while a session was still running", r)
				default:
				}
				hold.Release()
				if r := <-reqDone; r.err != nil || r.status != 200 {
					t.Fatalf("request through the draining server: %+v", r)
				}
			}
			r := <-delDone
			if r.err != nil || r.forced != tc.forced {
				t.Fatalf("DelServer: forced=%v err=%v, want forced=%v", r.forced, r.err, tc.forced)
			}
			if tc.forced {
				if res := <-reqDone; res.err == nil && res.status == 200 {
					t.Fatalf("the session should have been shut down, got %+v", res)
				}
			}
			if _, ok := serversOf(t, ctx, in, "be")["slow"]; ok {
				t.Fatal("slow is still there")
			}
		})
	}
}

func TestActualServersFromConfig(t *testing.T) {
	host, port := backendServer(t, "a")
	in, _ := startHAProxy(t, `
backend cfg
    balance roundrobin
    server a `+host+`:`+strconv.Itoa(port)+` weight 7 maxconn 70
    server b 127.0.0.1:1 weight 3 backup
    server c 127.0.0.1:2 weight 1 disabled
`)
	ctx := testCtx(t, 30*time.Second)
	got := serversOf(t, ctx, in, "cfg")
	want := map[string]render.Server{
		"a": {Name: "a", Address: host, Port: port, Weight: 7, Maxconn: 70, State: haproxy.StateReady},
		"b": {Name: "b", Address: "127.0.0.1", Port: 1, Weight: 3, Backup: true, State: haproxy.StateReady},
		"c": {Name: "c", Address: "127.0.0.1", Port: 2, Weight: 1, State: haproxy.StateMaint},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d servers: %+v", len(got), got)
	}
	for name, w := range want {
		if got[name].Server != w {
			t.Errorf("%s: got %+v, want %+v", name, got[name].Server, w)
		}
	}
	all, err := in.Runtime.ActualServers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all["be"]) != 0 || len(all["cfg"]) != 3 {
		t.Fatalf("backends: %v", all)
	}
	if _, err := in.Runtime.ShowServersConn(ctx, "cfg"); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Runtime.ShowServerStats(ctx, "nope"); !errors.Is(err, haproxy.ErrNoSuchBackend) {
		t.Fatalf("show stat of a missing backend: %v", err)
	}
}
