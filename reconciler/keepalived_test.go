package reconciler

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/internal/netns"
	"github.com/ddc-gitops/ddc-gitops/internal/netns/netnstest"
	"github.com/ddc-gitops/ddc-gitops/reconciler/keepalived"
)

// TestKeepalivedChangeAppliedWithSIGHUP runs keepalived in a network
// namespace: a keepalived-only change is checked, written and applied with
// SIGHUP, haproxy is not reloaded and the VIP stays where it is.
func TestKeepalivedChangeAppliedWithSIGHUP(t *testing.T) {
	if _, err := os.Stat(keepalived.DefaultBin); err != nil {
		t.Skip("keepalived not installed (make test installs it)")
	}
	lab := netnstest.NewLab(t)
	ctx := testCtx(t, 60*time.Second)
	host, err := lab.AddHost(ctx, "h1", netns.Link{Zone: "lo", Iface: "eth0", Addr: netip.MustParsePrefix("198.18.100.11/24")})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "ka")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ka := &keepalived.Process{Bin: keepalived.DefaultBin, ConfigPath: filepath.Join(dir, "keepalived.conf"),
		PIDFile: filepath.Join(dir, "keepalived.pid"), Netns: host.Netns}
	h := newHarness(t, harnessOpts{nodes: 2, seed: seq(0, 2), keepalived: ka})
	if err := keepalived.WaitState(ctx, host.Netns, "eth0", "198.18.100.100", true); err != nil {
		t.Fatalf("the VIP never came up: %v\n%s", err, strings.Join(ka.Output(30), "\n"))
	}
	haproxyReloads := h.reloads()

	h.fleet.ownerPriority = 160
	rev := h.commit(h.fleet.files(seq(0, 2)), nil, "owner priority 160")
	out := h.reconcile(rev)
	if out.Reloads != 1 || h.agent.Status().Counts.KeepalivedReloads != 1 {
		t.Fatalf("outcome %+v, status %+v: want one keepalived reload", out, h.agent.Status().Counts)
	}
	if h.reloads() != haproxyReloads {
		t.Fatal("a keepalived-only change reloaded haproxy")
	}
	conf, _ := os.ReadFile(ka.ConfigPath)
	if !strings.Contains(string(conf), "priority 160") {
		t.Fatalf("keepalived.conf not updated:\n%s", conf)
	}
	if ka.Reloads() != 1 {
		t.Fatalf("keepalived saw %d reloads, want 1", ka.Reloads())
	}
	if up, err := keepalived.State(ctx, host.Netns, "eth0", "198.18.100.100"); err != nil || !up {
		t.Fatalf("VIP lost after the reload: up=%v err=%v", up, err)
	}
}
