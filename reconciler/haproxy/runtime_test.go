package haproxy_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/plan"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/render"
)

func TestAdd200ThenDelete100WithoutReload(t *testing.T) {
	in, _ := startHAProxy(t, "")
	ctx := testCtx(t, 60*time.Second)
	before := reloads(t, in)

	servers := make([]render.Server, 200)
	for i := range servers {
		servers[i] = server(fmt.Sprintf("s%03d", i), "127.0.0.1", 20000+i, 1+i%50)
		servers[i].Check = i%2 == 0
		servers[i].Inter = 10 * time.Second
		servers[i].State = haproxy.StateMaint
	}
	if _, err := apply(ctx, in, 5*time.Second, adds("be", servers...)...); err != nil {
		t.Fatal(err)
	}
	stats, err := in.Runtime.ShowStat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]haproxy.StatRow{}
	for _, r := range stats {
		if r.Proxy == "be" && r.Type == haproxy.StatServer {
			seen[r.Name] = r
		}
	}
	if len(seen) != 200 {
		t.Fatalf("show stat lists %d servers in be, want 200", len(seen))
	}
	for _, s := range servers {
		if r := seen[s.Name]; r.Status != "MAINT" || r.Fields["addr"] != s.Addr() {
			t.Fatalf("%s: status %q addr %q, want MAINT at %s (added servers stay in maintenance)", s.Name, r.Status, r.Fields["addr"], s.Addr())
		}
	}

	var del []string
	for i := 0; i < 200; i += 2 {
		del = append(del, servers[i].Name)
	}
	res, err := apply(ctx, in, 5*time.Second, dels("be", del...)...)
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 100 || len(res.Forced) != 0 {
		t.Fatalf("deleted %d, forced %v", res.Applied, res.Forced)
	}
	left := serversOf(t, ctx, in, "be")
	if len(left) != 100 {
		t.Fatalf("%d servers left, want 100", len(left))
	}
	for i, s := range servers {
		if _, ok := left[s.Name]; ok == (i%2 == 0) {
			t.Fatalf("%s present=%v after deleting the even ones", s.Name, ok)
		}
	}
	if after := reloads(t, in); after != before {
		t.Fatalf("reload counter %d -> %d: runtime changes must not reload", before, after)
	}
}

func TestSetRoundTrip(t *testing.T) {
	in, _ := startHAProxy(t, "")
	ctx := testCtx(t, 30*time.Second)
	s := server("web1", "127.0.0.1", 8081, 10)
	s.Maxconn = 100
	if _, err := apply(ctx, in, time.Second, adds("be", s)...); err != nil {
		t.Fatal(err)
	}
	set := func(kind string, change func(*render.Server)) func() error {
		return func() error {
			change(&s)
			_, err := apply(ctx, in, time.Second, op(kind, "be", s))
			return err
		}
	}
	for _, tc := range []struct {
		name  string
		apply func() error
		check func(a haproxy.ActualServer) bool
	}{
		{"weight", func() error { return set(plan.OpSetWeight, func(s *render.Server) { s.Weight = 42 })() },
			func(a haproxy.ActualServer) bool { return a.Weight == 42 && a.InitialWeight == 10 }},
		{"addr", func() error {
			return set(plan.OpSetAddr, func(s *render.Server) { s.Address, s.Port = "127.0.0.2", 9090 })()
		},
			func(a haproxy.ActualServer) bool { return a.Address == "127.0.0.2" && a.Port == 9090 }},
		{"same addr", func() error { return set(plan.OpSetAddr, func(s *render.Server) {})() },
			func(a haproxy.ActualServer) bool { return a.Address == "127.0.0.2" && a.Port == 9090 }},
		{"drain", func() error { return set(plan.OpSetState, func(s *render.Server) { s.State = haproxy.StateDrain })() },
			func(a haproxy.ActualServer) bool { return a.State == haproxy.StateDrain && a.Weight == 42 }},
		{"maint", func() error { return set(plan.OpSetState, func(s *render.Server) { s.State = haproxy.StateMaint })() },
			func(a haproxy.ActualServer) bool { return a.State == haproxy.StateMaint && !a.Up }},
		{"ready", func() error { return set(plan.OpSetState, func(s *render.Server) { s.State = haproxy.StateReady })() },
			func(a haproxy.ActualServer) bool { return a.State == haproxy.StateReady && a.Up }},
		{"maxconn", func() error { return set(plan.OpSetMaxconn, func(s *render.Server) { s.Maxconn = 7 })() },
			func(a haproxy.ActualServer) bool { return a.Maxconn == 7 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.apply(); err != nil {
				t.Fatal(err)
			}
			a := serversOf(t, ctx, in, "be")["web1"]
			if !tc.check(a) {
				t.Fatalf("after %s: %+v", tc.name, a)
			}
		})
	}
	rows, err := in.Runtime.ShowServersState(ctx, "be")
	if err != nil || len(rows) != 1 || rows[0].UWeight != 42 || rows[0].Address != "127.0.0.2" || rows[0].Port != 9090 {
		t.Fatalf("show servers state: %+v %v", rows, err)
	}
	if err := set(plan.OpSetState, func(s *render.Server) { s.State = "up" })(); err == nil {
		t.Fatal("want an error for an unknown state")
	}
}

func TestAddServersKeywords(t *testing.T) {
	// Every keyword render.Server.Keywords can produce is accepted by the
	// runtime `add server` of 2.6, and reads back as rendered.
	in, _ := startHAProxy(t, "")
	ctx := testCtx(t, 30*time.Second)
	full := render.Server{Name: "full", Address: "127.0.0.1", Port: 8443, Weight: 30, Maxconn: 500,
		Slowstart: 10 * time.Second, Check: true, CheckPort: 8444, Inter: 2 * time.Second, Rise: 2, Fall: 3,
		Backup: true, Proto: "h2", SSL: true, SNI: "api.example.com", ALPN: "h2",
		CheckProto: "h1", CheckSSL: true, State: haproxy.StateDrain}
	v6 := render.Server{Name: "v6", Address: "::1", Port: 8080, Weight: 5, State: haproxy.StateMaint}
	if _, err := apply(ctx, in, time.Second, adds("be", full, v6)...); err != nil {
		t.Fatal(err)
	}
	got := serversOf(t, ctx, in, "be")
	f := got["full"]
	if f.Weight != 30 || f.Maxconn != 500 || !f.Backup || !f.Check || !f.CheckEnabled || f.State != haproxy.StateDrain || f.Port != 8443 {
		t.Fatalf("full: %+v", f)
	}
	if v := got["v6"]; v.Address != "::1" || v.State != haproxy.StateMaint || v.Check {
		t.Fatalf("v6: %+v", v)
	}
	rows, err := in.Runtime.ShowServersState(ctx, "be")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Name == "full" && (r.CheckPort != 8444 || r.Field("srv_use_ssl") != "1") {
			t.Fatalf("full: check port %d ssl %s", r.CheckPort, r.Field("srv_use_ssl"))
		}
	}

	dns := server("dns", "backend.example.com", 80, 1)
	dns.Hostname = true
	if _, err := apply(ctx, in, time.Second, adds("be", dns)...); !errors.Is(err, haproxy.ErrNeedsReload) {
		t.Fatalf("hostname server: %v, want ErrNeedsReload", err)
	}
}

func TestRuntimeErrors(t *testing.T) {
	in, _ := startHAProxy(t, "")
	ctx := testCtx(t, 30*time.Second)
	if _, err := apply(ctx, in, time.Second, adds("be", server("a", "127.0.0.1", 9, 1))...); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		cmd      string
		sentinel error
	}{
		{"unknown backend", "set server nope/a weight 1", haproxy.ErrNoSuchBackend},
		{"unknown backend in show", "show servers state nope", haproxy.ErrNoSuchBackend},
		{"unknown server", "set server be/nope weight 1", haproxy.ErrNoSuchServer},
		{"static-rr balance", "add server st/x 127.0.0.1:80 weight 1", haproxy.ErrStaticBalance},
		{"duplicate", "add server be/a 127.0.0.1:80 weight 1", haproxy.ErrServerExists},
		{"delete a live server", "del server be/a", haproxy.ErrServerNotInMaint},
		{"unknown command", "frobnicate all", haproxy.ErrUnknownCommand},
		{"bad keyword", "add server be/b 127.0.0.1:80 bogus", nil},
		{"bad address", "set server be/a addr 1.2.3 port 80", nil},
		{"bad state", "set server be/a state up", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmds := []string{"show version", tc.cmd, "show version"}
			replies, err := in.Runtime.Exec(ctx, cmds)
			var ce *haproxy.CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a CommandError", err)
			}
			if ce.Command != tc.cmd || ce.Index != 1 || ce.Reply == "" {
				t.Fatalf("CommandError %+v does not name command 1 %q", ce, tc.cmd)
			}
			if !strings.Contains(err.Error(), tc.cmd) {
				t.Fatalf("error text %q does not name the command", err)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Fatalf("err = %v, want %v", err, tc.sentinel)
			}
			if len(replies) != 3 || !strings.Contains(replies[2], "2.6") {
				t.Fatalf("the commands around the failed one must still run: %q", replies)
			}
		})
	}

	// The typed error survives the wrapping of the high-level methods.
	_, err := apply(ctx, in, time.Second, adds("st", server("x", "127.0.0.1", 80, 1))...)
	var ce *haproxy.CommandError
	if !errors.Is(err, haproxy.ErrStaticBalance) || !errors.As(err, &ce) || !strings.HasPrefix(ce.Command, "add server st/x ") {
		t.Fatalf("AddServers on static-rr: %v", err)
	}
	if _, err := apply(ctx, in, time.Second, op(plan.OpSetAddr, "be", server("a", "not-an-ip", 80, 1))); err == nil || !errors.As(err, &ce) {
		t.Fatalf("SetAddr with a bad address: %v", err)
	}
	if _, err := apply(ctx, in, time.Second, dels("be", "ghost")...); !errors.Is(err, haproxy.ErrNoSuchServer) {
		t.Fatalf("DelServer of a missing server: %v", err)
	}
}

func TestExecSocketErrors(t *testing.T) {
	dir := t.TempDir()
	t.Run("no socket", func(t *testing.T) {
		r := &haproxy.Runtime{Socket: filepath.Join(dir, "missing.sock")}
		if _, err := r.Exec(testCtx(t, 5*time.Second), []string{"show info"}); err == nil {
			t.Fatal("want an error")
		}
	})
	// A peer that reads but never answers: the context deadline ends Exec.
	silent := listenUnix(t, filepath.Join(dir, "silent.sock"), func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
	t.Run("deadline", func(t *testing.T) {
		r := &haproxy.Runtime{Socket: silent}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := r.Exec(ctx, []string{"show info"})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded", err)
		}
	})
	// A peer that answers the setup and one command, then hangs up.
	early := listenUnix(t, filepath.Join(dir, "early.sock"), func(c net.Conn) {
		_, _ = c.Write([]byte("\n> \n> first\n> "))
	})
	t.Run("closed early", func(t *testing.T) {
		r := &haproxy.Runtime{Socket: early}
		replies, err := r.Exec(testCtx(t, 5*time.Second), []string{"cmd one", "cmd two", "cmd three"})
		if !errors.Is(err, haproxy.ErrNoReply) || !strings.Contains(err.Error(), `"cmd two"`) {
			t.Fatalf("err = %v, want ErrNoReply naming cmd two", err)
		}
		if len(replies) != 1 || replies[0] != "first" {
			t.Fatalf("replies = %q", replies)
		}
	})
	t.Run("bad command", func(t *testing.T) {
		r := &haproxy.Runtime{Socket: early}
		if _, err := r.Exec(testCtx(t, 5*time.Second), []string{"set server a/b weight 1; del server a/b"}); err == nil {
			t.Fatal("want an error for a command with ';'")
		}
	})
}

// listenUnix serves handle on a unix socket until the test ends.
func listenUnix(t *testing.T, path string, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			handle(c)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = l.Close(); <-done })
	return path
}
