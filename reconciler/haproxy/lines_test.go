package haproxy_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
)

// TestRunLinesOnLiveHAProxy streams `show stat` and `show servers state`
// from a real haproxy: the lines are the reply Run returns, one by one.
func TestRunLinesOnLiveHAProxy(t *testing.T) {
	in, _ := startHAProxy(t, "    server s1 127.0.0.1:9 weight 5\n    server s2 127.0.0.1:10\n")
	ctx := testCtx(t, 20*time.Second)
	for _, cmd := range []string{"show stat -1 7 -1", "show servers state st", "show info"} {
		want, err := in.Runtime.Run(ctx, cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		var got []string
		if err := in.Runtime.RunLines(ctx, cmd, func(line []byte) error {
			got = append(got, string(line))
			return nil
		}); err != nil {
			t.Fatalf("RunLines %s: %v", cmd, err)
		}
		// Counters (show info's uptime) may move between the reads:
		// compare the first column of each line.
		if len(got) == 0 {
			t.Fatalf("%s: no lines", cmd)
		}
		wl := strings.Split(strings.TrimRight(want, "\n"), "\n")
		gl := strings.Split(strings.TrimRight(strings.Join(got, "\n"), "\n"), "\n")
		if len(wl) != len(gl) {
			t.Fatalf("%s: %d lines streamed, Run returned %d:\n%s\n--\n%s", cmd, len(gl), len(wl), strings.Join(gl, "\n"), want)
		}
		for i := range wl {
			if a, b := strings.SplitN(wl[i], ",", 2)[0], strings.SplitN(gl[i], ",", 2)[0]; cmd != "show info" && a != b {
				t.Errorf("%s line %d: %q, want %q", cmd, i, gl[i], wl[i])
			}
		}
	}
	// The callback's error stops the read and comes back as is.
	stop := errors.New("enough")
	n := 0
	err := in.Runtime.RunLines(ctx, "show stat", func([]byte) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err = %v after %d lines, want the callback's error after 1", err, n)
	}
	if err := in.Runtime.RunLines(ctx, "show stat; show info", func([]byte) error { return nil }); err == nil {
		t.Fatal("a command with ';' was sent")
	}
}

// TestRunLinesLongAndDeadline: a line longer than the read buffer arrives
// whole; a peer that never answers is cut by the context's deadline.
func TestRunLinesLongAndDeadline(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", 200<<10)
	sock := listenUnix(t, filepath.Join(dir, "long.sock"), func(c net.Conn) {
		buf := make([]byte, 128)
		_, _ = c.Read(buf)
		_, _ = c.Write([]byte("# head\n" + long + "\nlast"))
	})
	r := &haproxy.Runtime{Socket: sock}
	var got []string
	if err := r.RunLines(testCtx(t, 5*time.Second), "show stat", func(l []byte) error {
		got = append(got, string(l))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != "# head" || got[1] != long || got[2] != "last" {
		t.Fatalf("got %d lines (%d bytes in the second)", len(got), len(got[min(1, len(got)-1)]))
	}
	silent := listenUnix(t, filepath.Join(dir, "silent.sock"), func(c net.Conn) {
		buf := make([]byte, 128)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
	r = &haproxy.Runtime{Socket: silent}
	err := r.RunLines(testCtx(t, 200*time.Millisecond), "show stat", func([]byte) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
}

// TestParseStatColumns: the columns asked for, in their order, whatever
// the header's; every malformed reply is an error naming what is wrong.
func TestParseStatColumns(t *testing.T) {
	const hdr = "# pxname,svname,qcur,status,type,last_chk\n"
	for _, tc := range []struct {
		name, out string
		want      []string // rows as "type|pxname|status"
		err       string
	}{
		{"rows", "\n" + hdr + "fe,FRONTEND,,OPEN,0,\nbe,s1,0,UP,2,\"L7OK, 200\"\n\n", []string{"0|fe|OPEN", "2|be|UP"}, ""},
		{"no header", "Unknown command. Please enter one of the following commands only :\n", nil, "no CSV header"},
		{"empty", "", nil, "empty reply"},
		{"missing column", "# pxname,svname,status\nbe,s1,UP\n", nil, "no type column"},
		{"short row", hdr + "be,s1\n", nil, "short row"},
		{"quoted before the last column", "# pxname,last_chk,status,type\nbe,\"a,b\",UP,2\n", nil, "quoted field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := haproxy.ParseStatColumns(tc.out, []string{"type", "pxname", "status"}, func(f [][]byte) error {
				got = append(got, string(f[0])+"|"+string(f[1])+"|"+string(f[2]))
				return nil
			})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestEachServerStateMatchesShowServersState: the streamed rows hold the
// numeric columns ShowServersState parses, on a real haproxy.
func TestEachServerStateMatchesShowServersState(t *testing.T) {
	in, _ := startHAProxy(t, "    server s1 127.0.0.1:9 weight 5 check inter 1h\n    server s2 127.0.0.1:10 disabled\n    server s3 127.0.0.1:11 weight 0\n")
	ctx := testCtx(t, 20*time.Second)
	for _, be := range []string{"st", ""} {
		want, err := in.Runtime.ShowServersState(ctx, be)
		if err != nil {
			t.Fatal(err)
		}
		var got []haproxy.ServerStateRow
		if err := in.Runtime.EachServerState(ctx, be, func(b, name []byte, r haproxy.ServerStateRow) error {
			r.Backend, r.Name = string(b), string(name)
			got = append(got, r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(got) == 0 {
			t.Fatalf("backend %q: %d rows streamed, %d parsed", be, len(got), len(want))
		}
		for i, w := range want {
			w2 := haproxy.ServerStateRow{BackendID: w.BackendID, Backend: w.Backend, ID: w.ID, Name: w.Name, Port: w.Port,
				OpState: w.OpState, AdminState: w.AdminState, UWeight: w.UWeight, IWeight: w.IWeight, CheckStatus: w.CheckStatus,
				CheckResult: w.CheckResult, CheckHealth: w.CheckHealth, CheckState: w.CheckState, CheckPort: w.CheckPort}
			if !reflect.DeepEqual(got[i], w2) {
				t.Errorf("backend %q row %d: streamed %+v, parsed %+v", be, i, got[i], w2)
			}
		}
	}
	stop := errors.New("stop")
	if err := in.Runtime.EachServerState(ctx, "st", func([]byte, []byte, haproxy.ServerStateRow) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("err = %v, want the callback's", err)
	}
	if err := in.Runtime.EachServerState(ctx, "nope", func([]byte, []byte, haproxy.ServerStateRow) error { return nil }); err == nil {
		t.Fatal("an unknown backend read without an error")
	}
}
