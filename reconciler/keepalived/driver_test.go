package keepalived

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/internal/netns"
	"github.com/ddc-gitops/ddc-gitops/internal/netns/netnstest"
)

// minimal is a valid config that needs no interface.
var minimal = []byte("global_defs {\n  router_id test\n}\n")

// TestCheck runs keepalived -t in a lab namespace whose only interface
// besides lo is vrrp9 (keepalived refuses VRRP on lo).
func TestCheck(t *testing.T) {
	requireKeepalived(t)
	lab := netnstest.NewLab(t)
	ctx := testCtx(t, waitMax)
	h, err := lab.AddHost(ctx, "h", netns.Link{Zone: "z", Iface: "vrrp9", Addr: netip.MustParsePrefix(addrA + "/24")})
	if err != nil {
		t.Fatal(err)
	}
	base := confOpts{RouterID: "t", Iface: "vrrp9", Self: addrA, Peer: addrB, Prio: 100, Advert: "1"}
	with := func(f func(*confOpts)) []byte {
		o := base
		f(&o)
		return o.render(t)
	}
	tests := []struct {
		name string
		conf []byte
		want string // in keepalived's output; empty: valid
	}{
		{"minimal", minimal, ""},
		{"one instance", with(func(o *confOpts) {}), ""},
		{"sub-second advert with VRRPv3", with(func(o *confOpts) { o.Advert = "0.2" }), ""},
		{"unknown keyword", with(func(o *confOpts) { o.Garbage = true }), "Unknown keyword 'this_is_no_keyword'"},
		{"missing interface", with(func(o *confOpts) { o.Iface = "nope0" }), "nope0"},
		{"loopback interface", with(func(o *confOpts) { o.Iface = "lo" }), "cannot use a loopback interface"},
		{"fractional advert with VRRPv2", bytes.Replace(with(func(o *confOpts) { o.Advert = "0.5" }),
			[]byte("vrrp_version 3"), []byte("vrrp_version 2"), 1), "must be an integer"},
		{"unbalanced braces", bytes.TrimSuffix(with(func(o *confOpts) {}), []byte("}\n")), "missing '}'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(ctx, "", tt.conf, h.Netns)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var ce *CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("Check = %v, want a *CheckError", err)
			}
			if !strings.Contains(ce.Output, tt.want) {
				t.Fatalf("keepalived output %q does not mention %q", ce.Output, tt.want)
			}
		})
	}
	// vrrp9 exists only in the host's namespace.
	var ce *CheckError
	if err := Check(ctx, "", base.render(t), ""); !errors.As(err, &ce) || !strings.Contains(ce.Output, "vrrp9") {
		t.Fatalf("Check outside the namespace = %v, want a *CheckError about vrrp9", err)
	}
	if err := Check(ctx, "", minimal, lab.Prefix()+"-none"); err == nil {
		t.Fatal("Check in a missing namespace succeeded")
	}
	if m, _ := filepath.Glob(filepath.Join(os.TempDir(), ".keepalived.conf.check-*")); len(m) != 0 {
		t.Fatalf("check temp files left: %v", m)
	}
}

// TestState reads the host's own address through State.
func TestState(t *testing.T) {
	lab := netnstest.NewLab(t)
	ctx := testCtx(t, waitMax)
	h, err := lab.AddHost(ctx, "h", netns.Link{Zone: "z", Addr: netip.MustParsePrefix(addrA + "/24")})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		iface, vip string
		held, ok   bool
	}{
		{"eth0", addrA, true, true},
		{"eth0", addrA + "/24", true, true},
		{"eth0", vip1, false, true},
		{"lo", "127.0.0.1", true, true},
		{"nope0", addrA, false, false},
		{"eth0", "not-an-ip", false, false},
	}
	for _, tt := range tests {
		held, err := State(ctx, h.Netns, tt.iface, tt.vip)
		if held != tt.held || (err == nil) != tt.ok {
			t.Errorf("State(%s, %s) = %v, %v; want %v, ok=%v", tt.iface, tt.vip, held, err, tt.held, tt.ok)
		}
	}
	got, err := Holders(ctx, "eth0", addrA, h.Netns)
	if err != nil || len(got) != 1 || got[0] != h.Netns {
		t.Fatalf("Holders = %v, %v; want [%s]", got, err, h.Netns)
	}
}

// TestApplyWithoutKeepalived covers the file side of Apply when no
// keepalived runs: install, no-op on equal bytes, refusal of a bad config.
func TestApplyWithoutKeepalived(t *testing.T) {
	requireKeepalived(t)
	dir := t.TempDir()
	d := &Driver{ConfigPath: filepath.Join(dir, "keepalived.conf"), PIDFile: filepath.Join(dir, "keepalived.pid"), Logger: testLogger(t)}
	ctx := testCtx(t, waitMax)

	if _, err := d.Running(); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Running without pid file = %v, want ErrNotRunning", err)
	}
	// A pid file naming another program (this test) is stale.
	if err := os.WriteFile(d.PIDFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Running(); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Running with a pid file naming this test = %v, want ErrNotRunning", err)
	}
	if err := d.Reload(ctx); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Reload = %v, want ErrNotRunning", err)
	}

	changed, err := d.Apply(ctx, minimal)
	if err != nil || !changed {
		t.Fatalf("first Apply = %v, %v; want true, nil", changed, err)
	}
	fileEquals(t, d.ConfigPath, minimal)
	changed, err = d.Apply(ctx, minimal)
	if err != nil || changed {
		t.Fatalf("second Apply = %v, %v; want false, nil", changed, err)
	}
	changed, err = d.Apply(ctx, []byte("global_defs {\n  no_such_thing\n}\n"))
	var ce *CheckError
	if changed || !errors.As(err, &ce) {
		t.Fatalf("Apply of a bad config = %v, %v; want false, *CheckError", changed, err)
	}
	fileEquals(t, d.ConfigPath, minimal)
	if m, _ := filepath.Glob(filepath.Join(dir, ".keepalived.conf.check-*")); len(m) != 0 {
		t.Fatalf("check temp files left: %v", m)
	}
}

// Stand-ins for a keepalived whose reload goes wrong: `-t` succeeds, and the
// daemon (started as `SCRIPT PIDFILE`) misbehaves on SIGHUP. keepalived
// itself cannot be made to fail a reload of a config that passed -t, so
// these exercise Apply's failure path. Each writes its pid file only once
// its traps are set, so the test never signals a shell that has none yet.
const (
	dieOnHUP = `#!/bin/sh
[ "$1" = "-t" ] && exit 0
trap 'kill $child; exit 3' HUP
trap 'kill $child; exit 0' TERM
sleep 300 & child=$!
echo $$ > "$1"
wait
`
	respawnOnHUP = `#!/bin/sh
[ "$1" = "-t" ] && exit 0
trap 'kill $child; sleep 300 & child=$!' HUP
trap 'kill $child; exit 0' TERM
sleep 300 & child=$!
echo $$ > "$1"
while :; do wait; done
`
)

func TestApplyRestoresAfterFailedReload(t *testing.T) {
	tests := []struct {
		name, script, want string
		parentSurvives     bool
	}{
		{"keepalived exits on SIGHUP", dieOnHUP, "exited after SIGHUP", false},
		{"VRRP child respawned on SIGHUP", respawnOnHUP, "child (pid", true},
	}
	// A shell cannot trap a signal that was ignored when it started (POSIX),
	// and a test run under nohup ignores SIGHUP: with a handler of our own
	// installed, the stand-ins start with SIGHUP at its default.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "fake-keepalived")
			if err := os.WriteFile(bin, []byte(tt.script), 0o755); err != nil {
				t.Fatal(err)
			}
			pidFile := filepath.Join(dir, "k.pid")
			cmd := exec.Command(bin, pidFile)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { _ = cmd.Wait(); close(exited) }()
			t.Cleanup(func() {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			})
			d := &Driver{Bin: bin, ConfigPath: filepath.Join(dir, "keepalived.conf"), PIDFile: pidFile,
				Logger: testLogger(t), Settle: 2 * time.Second} // a loaded machine may take a while to run the trap
			old := []byte("# old\n")
			if err := os.WriteFile(d.ConfigPath, old, 0o640); err != nil {
				t.Fatal(err)
			}
			ctx := testCtx(t, waitMax)
			// Ready once the pid file names it and its child runs.
			for {
				if pid, err := d.Running(); err == nil && pid == cmd.Process.Pid && childPids(t, pid) != "[]" {
					break
				}
				select {
				case <-ctx.Done():
					t.Fatal("stand-in never started")
				case <-time.After(5 * time.Millisecond): // polling interval
				}
			}

			changed, err := d.Apply(ctx, []byte("# new\n"))
			if changed || !errors.Is(err, ErrReloadFailed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Apply = %v, %v; want false and ErrReloadFailed mentioning %q", changed, err, tt.want)
			}
			fileEquals(t, d.ConfigPath, old)
			if _, err := d.Running(); (err == nil) != tt.parentSurvives {
				t.Fatalf("Running after the failed reload = %v, want alive=%v", err, tt.parentSurvives)
			}
		})
	}
}
