package lab

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/internal/netns"
	"github.com/ddc-gitops/ddc-gitops/internal/netns/netnstest"
)

func loadExample(t *testing.T) (*desired.Fleet, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "seed")
	f, err := copyFleet(os.DirFS("../examples/fleet"), dir)
	if err != nil {
		t.Fatal(err)
	}
	return f, dir
}

func TestPlanTopologyExample(t *testing.T) {
	f, _ := loadExample(t)
	p, err := planTopology(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.skipped) != 0 {
		t.Errorf("skipped nodes: %v", p.skipped)
	}
	got := map[string]string{}
	for _, m := range p.machines {
		kind := "host"
		if m.node != nil {
			kind = "node"
		}
		got[m.name] = kind + " " + m.zone + " " + m.iface + " " + m.addr.String()
	}
	want := map[string]string{
		"eu-haproxy-1": "host eu eth0 198.18.1.11/24", "eu-haproxy-2": "host eu eth0 198.18.1.12/24",
		"us-haproxy-1": "host us eth0 198.18.2.11/24", "us-haproxy-2": "host us eth0 198.18.2.12/24",
		"eu-node-1": "node eu eth0 198.18.1.21/24", "eu-node-2": "node eu eth0 198.18.1.22/24", "eu-node-3": "node eu eth0 198.18.1.23/24",
		"us-node-1": "node us eth0 198.18.2.21/24", "us-node-2": "node us eth0 198.18.2.22/24", "us-node-3": "node us eth0 198.18.2.23/24",
	}
	if len(got) != len(want) {
		t.Fatalf("machines = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	routers := map[string]string{}
	for _, z := range p.zones {
		routers[z.zone.Name] = z.router.String()
	}
	if routers["eu"] != "198.18.1.1" || routers["us"] != "198.18.2.1" {
		t.Errorf("routers = %v", routers)
	}
}

func TestPlanTopologyErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(f *desired.Fleet)
		want   string // error text; empty: a skipped node instead
	}{
		{"zone outside the lab range", func(f *desired.Fleet) { f.Zones[0].Network.CIDR = "10.1.0.0/24" }, "inside 198.18.0.0/15"},
		{"zone overlapping the core network", func(f *desired.Fleet) { f.Zones[0].Network.CIDR = "198.19.0.0/16" }, "outside 198.19.255.0/24"},
		{"host outside its zone", func(f *desired.Fleet) { f.Zones[0].Hosts[0].Address = "198.18.9.9" }, "not in zone eu's network"},
		{"node outside its zone is skipped", func(f *desired.Fleet) { f.Nodes[0].Host = "node.example" }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := loadExample(t)
			tc.mutate(f)
			p, err := planTopology(f)
			if tc.want == "" {
				if err != nil || len(p.skipped) != 1 {
					t.Fatalf("planTopology = %v, skipped %v; want one skipped node", err, p)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("planTopology error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestFreeAddr(t *testing.T) {
	cidr := netip.MustParsePrefix("198.18.5.0/24")
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	tests := []struct {
		used    []string
		want    string
		wantErr bool
	}{
		{nil, "198.18.5.1", false},
		{[]string{"198.18.5.1"}, "198.18.5.254", false},
		{[]string{"198.18.5.1", "198.18.5.254"}, "", true},
	}
	for _, tc := range tests {
		used := map[netip.Addr]bool{}
		for _, u := range tc.used {
			used[a(u)] = true
		}
		got, err := freeAddr(cidr, used)
		if (err != nil) != tc.wantErr || (!tc.wantErr && got != a(tc.want)) {
			t.Errorf("freeAddr(used %v) = %v, %v; want %s (error %v)", tc.used, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestSetMaxconn(t *testing.T) {
	_, dir := loadExample(t)
	if err := setMaxconn(dir, 4096); err != nil {
		t.Fatal(err)
	}
	f, err := desired.Load(os.DirFS(dir))
	if err != nil {
		t.Fatalf("the fleet with the lab's maxconn does not load: %v", err)
	}
	if f.HAProxy.Maxconn != 4096 {
		t.Fatalf("maxconn = %d, want 4096", f.HAProxy.Maxconn)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "fleet.yaml"))
	if !strings.Contains(string(b), "# Global defaults") || !strings.Contains(string(b), "lab: lowered") {
		t.Fatalf("fleet.yaml lost its comments or the lab's note:\n%s", b)
	}
}

// TestForward proxies an echo server and checks that cancelling closes
// the listener and the open connections.
func TestForward(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	ln, err := listen("127.0.0.1", 0, "test forward", "--flag")
	if err != nil {
		t.Fatal(err)
	}
	f := &forward{ln: ln, target: echo.Addr().String(), log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.run(ctx) }()
	t.Cleanup(cancel)

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping\n" {
		t.Fatalf("echo through the forward = %q, %v", buf, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("forward.run after cancel = %v", err)
	}
	if _, err := c.Read(buf); err == nil {
		t.Fatal("the forwarded connection is still open after cancel")
	}
	if c2, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c2.Close()
		t.Fatal("the forward still accepts after cancel")
	}
}

func TestListenTakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, err = listen("127.0.0.1", port, "eu load balancer", "--eu-port")
	if err == nil || !strings.Contains(err.Error(), "is taken") || !strings.Contains(err.Error(), "--eu-port") {
		t.Fatalf("listen on a taken port = %v, want an error naming the port and the flag", err)
	}
}

func TestUpRefusesForeignStateDir(t *testing.T) {
	netnstest.RequireRoot(t) // preflight comes first
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "precious"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Up(context.Background(), Options{Prefix: netnstest.Prefix(t), StateDir: dir, Fleet: os.DirFS("../examples/fleet")})
	if err == nil || !strings.Contains(err.Error(), "not a lab's") {
		t.Fatalf("Up on a foreign directory = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "precious")); err != nil {
		t.Fatalf("Up touched the foreign directory: %v", err)
	}
}

func TestUpWithoutRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("runs only without root")
	}
	err := Up(context.Background(), Options{StateDir: t.TempDir(), Fleet: os.DirFS("../examples/fleet")})
	if err == nil || !strings.Contains(err.Error(), "root") {
		t.Fatalf("Up without root = %v, want an error saying root is needed", err)
	}
}

// TestDownAfterCrash: a lab that died (pid file of a gone process) left
// namespaces and an uplink; Down removes them.
func TestDownAfterCrash(t *testing.T) {
	netnstest.RequireRoot(t)
	prefix := netnstest.Prefix(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Cleanup(func() { _ = netns.Cleanup(context.Background(), prefix) })
	nl, err := netns.NewLab(ctx, prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nl.AddHost(ctx, "h1", netns.Link{Zone: "z", Addr: netip.MustParsePrefix("198.18.200.1/24")}); err != nil {
		t.Fatal(err)
	}
	if err := netns.AddVeth(ctx, "", uplinkName(prefix), nl.SwitchNetns(), uplinkPort); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// A pid that is not running (beyond pid_max), as a crashed lab leaves.
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte("99999999\n"+prefix+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := Down(ctx, "", dir, &out); err != nil {
		t.Fatalf("Down: %v\n%s", err, out.String())
	}
	names, _ := netns.List()
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			t.Errorf("namespace %s survived Down", n)
		}
	}
	links, _ := netns.LinkNames(ctx, "")
	for _, l := range links {
		if strings.HasPrefix(l, prefix) {
			t.Errorf("link %s survived Down", l)
		}
	}
	if !strings.Contains(out.String(), "gone") {
		t.Errorf("Down's output does not say the lab process was gone:\n%s", out.String())
	}
}

func TestPlanSpares(t *testing.T) {
	f, _ := loadExample(t)
	p, err := planTopology(f)
	if err != nil {
		t.Fatal(err)
	}
	p.addSpares(f)
	got := map[string]string{}
	for _, m := range p.machines {
		if m.spare != nil {
			got[m.name] = fmt.Sprintf("%s %v %d %d %s", m.zone, m.addr, m.node.HTTPPort, m.node.GRPCPort, m.spare.clusterID)
		}
	}
	want := map[string]string{
		"eu-spare": "eu 198.18.1.24/24 8080 9091 0x67424cc500a0532b2ca4e63d681a279809170593",
		"us-spare": "us 198.18.2.24/24 8080 9091 0x1d4dc5501242b509e42d08d9e04f0adef07a9737",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("spares = %v, want %v", got, want)
	}
	if len(p.skipped) != 0 {
		t.Errorf("skipped: %v", p.skipped)
	}
	if a := lastAddr(netip.MustParsePrefix("198.18.1.0/24")); a.String() != "198.18.1.255" {
		t.Errorf("lastAddr = %v", a)
	}
}
