package netns

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
)

func TestCheckPrefix(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"198.18.0.1/24", true},
		{"198.19.255.254/16", true},
		{"198.18.0.0/15", true},
		{"198.18.0.1/14", false}, // wider than the range
		{"198.20.0.1/24", false},
		{"10.0.0.1/8", false},
		{"192.168.1.1/24", false},
		{"127.0.0.1/8", false},
		{"2001:db8::1/64", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := CheckPrefix(netip.MustParsePrefix(tt.in))
			if (err == nil) != tt.ok {
				t.Fatalf("CheckPrefix(%s) = %v, want ok=%v", tt.in, err, tt.ok)
			}
			err = CheckAddr(netip.MustParsePrefix(tt.in).Addr())
			if tt.ok && err != nil {
				t.Fatalf("CheckAddr(%s) = %v, want nil", tt.in, err)
			}
		})
	}
	if CheckPrefix(netip.Prefix{}) == nil || CheckAddr(netip.Addr{}) == nil {
		t.Fatal("zero prefix or address accepted")
	}
}

func TestIfNames(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"eth0", true},
		{"br-eu", true},
		{"p12-eu-haproxy1", true},
		{"sixteen-chars-xx", false},
		{"", false},
		{"-lead", false},
		{"a b", false},
		{"a/b", false},
	}
	for _, tt := range tests {
		if err := checkIfName(tt.in); (err == nil) != tt.ok {
			t.Errorf("checkIfName(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// echo serves one line-echo listener in ns until the test ends.
func echo(t *testing.T, h *Host, addr string) {
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
func roundTrip(ctx context.Context, h *Host, addr string) error {
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
	lab := NewTestLab(t)
	ctx := testCtx(t)
	pfx := netip.MustParsePrefix
	a, err := lab.AddHost(ctx, "a", Link{Zone: "z1", Addr: pfx("198.18.1.1/24")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := lab.AddHost(ctx, "b", Link{Zone: "z1", Addr: pfx("198.18.1.2/24")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := lab.AddHost(ctx, "c", Link{Zone: "z2", Addr: pfx("198.18.2.1/24")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := lab.AddHost(ctx, "r",
		Link{Zone: "z1", Addr: pfx("198.18.1.254/24")},
		Link{Zone: "z2", Addr: pfx("198.18.2.254/24")})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Links[1].Iface; got != "eth1" {
		t.Fatalf("second link named %q, want eth1", got)
	}

	// The current namespace has none of the lab's links.
	links, err := LinkNames(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if strings.HasPrefix(l, "br-z") || strings.HasPrefix(l, "p1-") {
			t.Errorf("lab link %s leaked into the current namespace", l)
		}
	}
	got, err := Addrs(ctx, a.Netns, "eth0")
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
	if err := SetForwarding(r.Netns, true); err != nil {
		t.Fatal(err)
	}
	if err := AddRoute(ctx, c.Netns, pfx("198.18.1.0/24"), netip.MustParseAddr("198.18.2.254")); err != nil {
		t.Fatal(err)
	}
	if err := AddRoute(ctx, a.Netns, pfx("198.18.2.0/24"), netip.MustParseAddr("198.18.1.254")); err != nil {
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
	lab := NewTestLab(t)
	ctx := testCtx(t)
	tests := []struct {
		name, host string
		link       Link
		want       string
	}{
		{"address outside range", "h1", Link{Zone: "z", Addr: netip.MustParsePrefix("10.0.0.1/24")}, "outside 198.18.0.0/15"},
		{"public address", "h2", Link{Zone: "z", Addr: netip.MustParsePrefix("8.8.8.8/24")}, "outside"},
		{"zone too long", "h3", Link{Zone: "abcdefghijklm"}, "invalid zone"},
		{"no zone", "h4", Link{}, "invalid zone"},
		{"bad iface", "h5", Link{Zone: "z", Iface: "much-too-long-name"}, "invalid interface"},
		{"reserved host name", "sw", Link{Zone: "z"}, "invalid lab host"},
		{"bad host name", "a/b", Link{Zone: "z"}, "invalid lab host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lab.AddHost(ctx, tt.host, tt.link)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("AddHost = %v, want error containing %q", err, tt.want)
			}
			if ns := lab.Prefix() + "-" + tt.host; tt.host != switchSuffix && Exists(ns) {
				t.Fatalf("refused host left namespace %s", ns)
			}
		})
	}
	if _, err := lab.AddHost(ctx, "dup", Link{Zone: "z"}); err != nil {
		t.Fatal(err)
	}
	if _, err := lab.AddHost(ctx, "dup", Link{Zone: "z"}); err == nil {
		t.Fatal("duplicate host accepted")
	}
	if err := AddAddr(ctx, lab.Host("dup").Netns, "eth0", netip.MustParsePrefix("172.16.0.1/24")); err == nil {
		t.Fatal("AddAddr accepted an address outside the range")
	}
}

// TestCleanupKillsAndRemoves leaves a namespace with a process inside, as a
// crashed run would, and checks that Cleanup kills the process and removes it.
func TestCleanupKillsAndRemoves(t *testing.T) {
	RequireRoot(t)
	ctx := testCtx(t)
	prefix := TestPrefix(t)
	t.Cleanup(func() { _ = Cleanup(context.Background(), prefix) })
	ns := prefix + "-left"
	if err := Add(ctx, ns); err != nil {
		t.Fatal(err)
	}
	cmd := Command(ctx, ns, "sleep", "300")
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
		pids, err := Pids(ctx, ns)
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

	if err := Cleanup(ctx, "dg"); err == nil {
		t.Fatal("Cleanup accepted a two-character prefix")
	}
	if err := Cleanup(ctx, prefix); err != nil {
		t.Fatal(err)
	}
	if Exists(ns) {
		t.Fatalf("namespace %s survived Cleanup", ns)
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
		t.Fatal("process inside the namespace still running after Cleanup")
	}
}

func TestDoRunsInNamespace(t *testing.T) {
	lab := NewTestLab(t)
	ctx := testCtx(t)
	h, err := lab.AddHost(ctx, "solo", Link{Zone: "z", Iface: "uplink0", Addr: netip.MustParsePrefix("198.18.9.9/24")})
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
			t.Fatal("uplink0 visible outside the namespace after Do")
		}
	}
	if err := Do(lab.Prefix()+"-nope", func() error { return nil }); err == nil {
		t.Fatal("Do entered a namespace that does not exist")
	}
}
