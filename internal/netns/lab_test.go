package netns_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/internal/netns"
	"github.com/ddc-gitops/ddc-gitops/internal/netns/netnstest"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// echo serves one line-echo listener in ns until the test ends.
func echo(t *testing.T, h *netns.Host, addr string) {
	t.Helper()
	ln, err := h.Listen(testCtx(t), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.Copy(c, c)
			c.Close()
		}
	}()
}

// roundTrip dials addr from h, writes a word and reads it back.
func roundTrip(ctx context.Context, h *netns.Host, addr string) error {
	c, err := h.Dial(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "ping" {
		return errors.New("echo mismatch: " + string(buf))
	}
	return nil
}

func TestLabConnectivity(t *testing.T) {
	lab := netnstest.NewLab(t)
	ctx := testCtx(t)
	pfx := netip.MustParsePrefix
	a, err := lab.AddHost(ctx, "a", netns.Link{Zone: "z1", Addr: pfx("198.18.1.1/24")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := lab.AddHost(ctx, "b", netns.Link{Zone: "z1", Addr: pfx("198.18.1.2/24")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := lab.AddHost(ctx, "c", netns.Link{Zone: "z2", Addr: pfx("198.18.2.1/24")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := lab.AddHost(ctx, "r",
		netns.Link{Zone: "z1", Addr: pfx("198.18.1.254/24")},
		netns.Link{Zone: "z2", Addr: pfx("198.18.2.254/24")})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Links[1].Iface; got != "eth1" {
		t.Fatalf("second link named %q, want eth1", got)
	}

	// The current namespace has none of the lab's links.
	links, err := netns.LinkNames(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if strings.HasPrefix(l, "br-z") || strings.HasPrefix(l, "p1-") {
			t.Errorf("lab link %s leaked into the current namespace", l)
		}
	}
	got, err := netns.Addrs(ctx, a.Netns, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, pfx("198.18.1.1/24")) {
		t.Fatalf("addresses of a/eth0 = %v, want 198.18.1.1/24", got)
	}

	echo(t, a, "198.18.1.1:7000")
	// Reachable: well within 5 s. Unreachable: no answer within 700 ms.
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
		t.Cleanup(cancel)
		return c
	}
	long := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		t.Cleanup(cancel)
		return c
	}
	if err := roundTrip(long(), b, "198.18.1.1:7000"); err != nil {
		t.Fatalf("b -> a on one bridge: %v", err)
	}
	if err := roundTrip(short(), c, "198.18.1.1:7000"); err == nil {
		t.Fatal("c reached a across zones without a route")
	}

	// Route through r.
	if err := netns.SetForwarding(r.Netns, true); err != nil {
		t.Fatal(err)
	}
	if err := netns.AddRoute(ctx, c.Netns, pfx("198.18.1.0/24"), netip.MustParseAddr("198.18.2.254")); err != nil {
		t.Fatal(err)
	}
	if err := netns.AddRoute(ctx, a.Netns, pfx("198.18.2.0/24"), netip.MustParseAddr("198.18.1.254")); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(long(), c, "198.18.1.1:7000"); err != nil {
		t.Fatalf("c -> r -> a: %v", err)
	}

	// Pull b's cable: b can no longer reach a; plug it back: it can.
	if err := lab.SetConnected(ctx, "b", "eth0", false); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(short(), b, "198.18.1.1:7000"); err == nil {
		t.Fatal("b reached a with its cable pulled")
	}
	if err := lab.SetConnected(ctx, "b", "eth0", true); err != nil {
		t.Fatal(err)
	}
	// Neighbour entries that failed while unplugged may answer "no route
	// to host" for a moment: retry until connectivity is back.
	rctx := long()
	for {
		err := roundTrip(short(), b, "198.18.1.1:7000")
		if err == nil {
			break
		}
		if rctx.Err() != nil {
			t.Fatalf("b -> a after reconnecting: %v", err)
		}
		<-time.After(50 * time.Millisecond) // retry interval
	}
}

func TestLabRefusals(t *testing.T) {
	lab := netnstest.NewLab(t)
	ctx := testCtx(t)
	tests := []struct {
		name, host string
		link       netns.Link
		want       string
	}{
		{"address outside range", "h1", netns.Link{Zone: "z", Addr: netip.MustParsePrefix("10.0.0.1/24")}, "outside 198.18.0.0/15"},
		{"public address", "h2", netns.Link{Zone: "z", Addr: netip.MustParsePrefix("8.8.8.8/24")}, "outside"},
		{"zone too long", "h3", netns.Link{Zone: "abcdefghijklm"}, "invalid zone"},
		{"no zone", "h4", netns.Link{}, "invalid zone"},
		{"bad iface", "h5", netns.Link{Zone: "z", Iface: "much-too-long-name"}, "invalid interface"},
		{"reserved host name", "sw", netns.Link{Zone: "z"}, "invalid lab host"},
		{"bad host name", "a/b", netns.Link{Zone: "z"}, "invalid lab host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lab.AddHost(ctx, tt.host, tt.link)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("AddHost = %v, want error containing %q", err, tt.want)
			}
			if ns := lab.Prefix() + "-" + tt.host; ns != lab.SwitchNetns() && netns.Exists(ns) {
				t.Fatalf("refused host left namespace %s", ns)
			}
		})
	}
	if _, err := lab.AddHost(ctx, "dup", netns.Link{Zone: "z"}); err != nil {
		t.Fatal(err)
	}
	if _, err := lab.AddHost(ctx, "dup", netns.Link{Zone: "z"}); err == nil {
		t.Fatal("duplicate host accepted")
	}
	if err := netns.AddAddr(ctx, lab.Host("dup").Netns, "eth0", netip.MustParsePrefix("172.16.0.1/24")); err == nil {
		t.Fatal("netns.AddAddr accepted an address outside the range")
	}
}

// TestCleanupKillsAndRemoves leaves a namespace with a process inside, as a
// crashed run would, and checks that netns.Cleanup kills the process and removes it.
func TestCleanupKillsAndRemoves(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := testCtx(t)
	prefix := netnstest.Prefix(t)
	t.Cleanup(func() { _ = netns.Cleanup(context.Background(), prefix) })
	ns := prefix + "-left"
	if err := netns.Add(ctx, ns); err != nil {
		t.Fatal(err)
	}
	cmd := netns.Command(ctx, ns, "sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-waited
	})
	// The process is inside once `ip netns exec` has exec'd into sleep.
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, err := netns.Pids(ctx, ns)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(pids, cmd.Process.Pid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d never showed up in %s (pids %v)", cmd.Process.Pid, ns, pids)
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}

	if err := netns.Cleanup(ctx, "dg"); err == nil {
		t.Fatal("netns.Cleanup accepted a two-character prefix")
	}
	if err := netns.Cleanup(ctx, prefix); err != nil {
		t.Fatal(err)
	}
	if netns.Exists(ns) {
		t.Fatalf("namespace %s survived netns.Cleanup", ns)
	}
	select {
	case err := <-waited:
		if err == nil {
			t.Fatal("sleep exited cleanly, want killed")
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("sleep ended with %v, want SIGKILL", err)
		}
		waited <- err // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("process inside the namespace still running after netns.Cleanup")
	}
}

func TestDoRunsInNamespace(t *testing.T) {
	lab := netnstest.NewLab(t)
	ctx := testCtx(t)
	h, err := lab.AddHost(ctx, "solo", netns.Link{Zone: "z", Iface: "uplink0", Addr: netip.MustParsePrefix("198.18.9.9/24")})
	if err != nil {
		t.Fatal(err)
	}
	var inside []string
	if err := h.Do(func() error {
		ifs, err := net.Interfaces()
		for _, i := range ifs {
			inside = append(inside, i.Name)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(inside)
	if want := []string{"lo", "uplink0"}; !slices.Equal(inside, want) {
		t.Fatalf("interfaces inside = %v, want %v", inside, want)
	}
	// The calling goroutine's namespace is unchanged.
	outside, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range outside {
		if i.Name == "uplink0" {
			t.Fatal("uplink0 visible outside the namespace after netns.Do")
		}
	}
	if err := netns.Do(lab.Prefix()+"-nope", func() error { return nil }); err == nil {
		t.Fatal("netns.Do entered a namespace that does not exist")
	}
}
