package haproxy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy/haproxytest"
)

// reloadSections is a config with one frontend and the backends given.
func reloadSections(port int, extra string) string {
	return fmt.Sprintf(`
frontend fe
    bind 127.0.0.1:%d
    default_backend be

backend be
    balance roundrobin
%s`, port, extra)
}

func showProc(t *testing.T, ctx context.Context, in *haproxytest.Instance) haproxy.ProcInfo {
	t.Helper()
	p, err := in.Master.ShowProc(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newestWorker(t *testing.T, p haproxy.ProcInfo) int {
	t.Helper()
	w, ok := p.Worker()
	if !ok {
		t.Fatalf("no worker in %+v", p)
	}
	return w.PID
}

func TestReloadVerified(t *testing.T) {
	port := haproxytest.FreePort(t)
	in := haproxytest.Start(t, haproxytest.Options{Sections: reloadSections(port, "")})
	ctx := testCtx(t, 60*time.Second)
	before := showProc(t, ctx, in)

	in.WriteSections(t, reloadSections(port, "\nbackend added\n    balance roundrobin\n"))
	if err := in.Master.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	after := showProc(t, ctx, in)
	if after.Master.Reloads != before.Master.Reloads+1 || after.Failed != 0 || after.ReloadFailed ||
		newestWorker(t, after) == newestWorker(t, before) || after.Master.PID != before.Master.PID {
		t.Fatalf("before %+v\nafter %+v", before, after)
	}
	if _, err := in.Runtime.ShowServersState(ctx, "added"); err != nil {
		t.Fatalf("the new config is not live: %v", err)
	}
}

func TestReloadFailedAndRecovered(t *testing.T) {
	port := haproxytest.FreePort(t)
	in := haproxytest.Start(t, haproxytest.Options{Sections: reloadSections(port, "")})
	ctx := testCtx(t, 60*time.Second)
	before := showProc(t, ctx, in)

	// The new config binds a port another listener holds: it parses (haproxy
	// -c accepts it) but cannot start.
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	heldPort := held.Addr().(*net.TCPAddr).Port
	bad := reloadSections(port, fmt.Sprintf("\nfrontend clash\n    bind 127.0.0.1:%d\n    default_backend be\n", heldPort))
	if err := haproxy.Check(ctx, haproxytest.Bin(), in.ConfigPath, in.Config(bad)); err != nil {
		t.Fatalf("the clashing config should pass haproxy -c: %v", err)
	}
	in.WriteSections(t, bad)

	err = in.Master.Reload(ctx)
	var re *haproxy.ReloadError
	if !errors.Is(err, haproxy.ErrReloadFailed) || !errors.As(err, &re) {
		t.Fatalf("Reload = %v, want ErrReloadFailed", err)
	}
	t.Logf("reload error: %v", err)
	after := showProc(t, ctx, in)
	if after.Master.Reloads != before.Master.Reloads+1 || after.Failed != before.Failed+1 || !after.ReloadFailed ||
		newestWorker(t, after) != newestWorker(t, before) {
		t.Fatalf("after a failed reload the old worker must stay:\nbefore %+v\nafter %+v", before, after)
	}
	if _, err := in.Runtime.Run(ctx, "show info"); err != nil {
		t.Fatalf("the old worker no longer answers: %v", err)
	}

	// A second failure counts again; a good config then recovers and resets
	// the failed counter.
	if err := in.Master.Reload(ctx); !errors.Is(err, haproxy.ErrReloadFailed) {
		t.Fatalf("second bad reload = %v", err)
	}
	if p := showProc(t, ctx, in); p.Failed != before.Failed+2 {
		t.Fatalf("failed counter %d, want %d", p.Failed, before.Failed+2)
	}
	in.WriteSections(t, reloadSections(port, ""))
	if err := in.Master.Reload(ctx); err != nil {
		t.Fatalf("reload with the fixed config: %v", err)
	}
	fixed := showProc(t, ctx, in)
	if fixed.Failed != 0 || fixed.ReloadFailed || newestWorker(t, fixed) == newestWorker(t, before) ||
		fixed.Master.Reloads != before.Master.Reloads+3 {
		t.Fatalf("after recovery: %+v", fixed)
	}
}

func TestReloadBackToBack(t *testing.T) {
	port := haproxytest.FreePort(t)
	in := haproxytest.Start(t, haproxytest.Options{Sections: reloadSections(port, "")})
	ctx := testCtx(t, 60*time.Second)
	start := showProc(t, ctx, in)
	workers := map[int]bool{newestWorker(t, start): true}
	for i := 1; i <= 2; i++ {
		if err := in.Master.Reload(ctx); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		p := showProc(t, ctx, in)
		w := newestWorker(t, p)
		if p.Master.Reloads != start.Master.Reloads+i || workers[w] {
			t.Fatalf("reload %d: %+v", i, p)
		}
		workers[w] = true
	}
}

func TestReloadWhileMasterReexecutes(t *testing.T) {
	port := haproxytest.FreePort(t)
	in := haproxytest.Start(t, haproxytest.Options{Sections: reloadSections(port, "")})
	ctx := testCtx(t, 60*time.Second)
	start := showProc(t, ctx, in)

	// Fire a reload without verifying it and wait until the master closed
	// the connection: it is re-executing now, its socket refuses connections.
	c, err := net.Dial("unix", in.MasterSocket)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "reload\n"); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, c)
	_ = c.Close()

	// Reload retries its connections until the new master answers, then
	// reloads once more and verifies that.
	if err := in.Master.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	p := showProc(t, ctx, in)
	if p.Master.Reloads != start.Master.Reloads+2 || p.Failed != 0 || newestWorker(t, p) == newestWorker(t, start) {
		t.Fatalf("start %+v\nend %+v", start, p)
	}
}

// fakeMaster answers show proc like a 2.6 master whose reload counter only
// moves when moveOnReload says so; it counts the reloads it received.
type fakeMaster struct {
	reloads      atomic.Int32
	received     atomic.Int32
	moveOnReload func(n int32) bool
}

func (f *fakeMaster) serve(c net.Conn) {
	buf := make([]byte, 512)
	n, _ := c.Read(buf)
	req := string(buf[:n])
	if strings.HasPrefix(req, "reload") {
		if n := f.received.Add(1); f.moveOnReload(n) {
			f.reloads.Add(1)
		}
		return
	}
	r := f.reloads.Load()
	fmt.Fprintf(c, "master> #<PID>          <type>          <reloads>       <uptime>        <version>\n"+
		"100             master          %d [failed: 0]   0d00h00m08s     2.6.12\n# workers\n%d             worker          0               0d00h00m01s     2.6.12\n# programs\n\nmaster> master> ", r, 200+r)
}

func TestReloadLostIsResentOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		move     func(n int32) bool
		wantErr  error
		received int32
	}{
		{"first lost, second applied", func(n int32) bool { return n == 2 }, nil, 2},
		{"both lost", func(int32) bool { return false }, haproxy.ErrReloadLost, 2},
		{"first applied", func(int32) bool { return true }, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeMaster{moveOnReload: tc.move}
			sock := listenUnix(t, filepath.Join(t.TempDir(), "m.sock"), f.serve)
			m := haproxy.NewMaster(sock, nil)
			m.LostAfter = 100 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			err := m.Reload(ctx)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Reload = %v, want %v", err, tc.wantErr)
			}
			if got := f.received.Load(); got != tc.received {
				t.Fatalf("master received %d reloads, want %d", got, tc.received)
			}
		})
	}
}
