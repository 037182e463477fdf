package render

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const haproxyBin = "/usr/sbin/haproxy"

func needHAProxy(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(haproxyBin); err != nil {
		t.Skipf("%s not installed: cannot check rendered configs with haproxy -c", haproxyBin)
	}
}

// haproxyCheck runs haproxy -c on cfg. It returns an error when the check
// fails or reports a warning other than an unresolvable server name (case
// and example fleets use made-up DNS names; they start in maintenance).
func haproxyCheck(t testing.TB, cfg []byte) error {
	t.Helper()
	p := writeTemp(t, "haproxy.cfg", cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, haproxyBin, "-c", "-f", p).CombinedOutput()
	if err != nil {
		return fmt.Errorf("haproxy -c: %w\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "[WARNING]") && !strings.Contains(l, "could not resolve address") {
			return fmt.Errorf("haproxy -c warns:\n%s", out)
		}
	}
	return nil
}

// TestHAProxyAcceptsRenderedConfigs runs the real haproxy -c on every
// example and case host's haproxy.cfg (rendered with this machine's
// certificate directory). Warnings fail the test too.
func TestHAProxyAcceptsRenderedConfigs(t *testing.T) {
	needHAProxy(t)
	for _, rc := range allRendered(t) {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			if err := haproxyCheck(t, rc.checkable.HAProxy); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestHAProxyRejectsBrokenConfig makes sure haproxyCheck can fail: a
// rendered config with a dangling default_backend is refused.
func TestHAProxyRejectsBrokenConfig(t *testing.T) {
	needHAProxy(t)
	h, err := Render(loadExample(t), "eu-haproxy-1", Options{FleetDir: exampleDir(t), CrtBase: exampleCertDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := haproxyCheck(t, h.HAProxy); err != nil {
		t.Fatalf("the unbroken config is refused, so the test below proves nothing: %v", err)
	}
	bad := bytes.Replace(h.HAProxy, []byte("default_backend ddc_nodes_http"), []byte("default_backend nope"), 1)
	if err := haproxyCheck(t, bad); err == nil {
		t.Fatal("haproxy -c accepted a config whose default_backend does not exist")
	}
}

var nsSeq atomic.Int64

// netns creates a network namespace with the given interfaces (each one
// end of a veth pair) up, and deletes it when the test ends.
func netns(t testing.TB, ifaces []string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("keepalived -t needs its interfaces to exist: creating them in a network namespace needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("the ip command is not installed")
	}
	name := fmt.Sprintf("ddcr-%d-%d", os.Getpid(), nsSeq.Add(1))
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("deleting network namespace %s: %v\n%s", name, err, out)
		}
	})
	for i, ifc := range ifaces {
		peer := fmt.Sprintf("vp%d", i)
		run("-n", name, "link", "add", ifc, "type", "veth", "peer", "name", peer)
		run("-n", name, "link", "set", ifc, "up")
		run("-n", name, "link", "set", peer, "up")
	}
	return name
}

var ifaceRe = regexp.MustCompile(`(?m)(?:^\s*interface|\sdev) (\S+)`)

// interfaces lists the interfaces a keepalived.conf names.
func interfaces(confs ...[]byte) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range confs {
		for _, m := range ifaceRe.FindAllSubmatch(c, -1) {
			if n := string(m[1]); !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestKeepalivedAcceptsRenderedConfigs runs keepalived -t on every example
// and case host's keepalived.conf, inside a network namespace holding the
// interfaces the configs name (keepalived -t fails on a missing one, and
// exits non-zero on any warning).
func TestKeepalivedAcceptsRenderedConfigs(t *testing.T) {
	bin, err := exec.LookPath("keepalived")
	if err != nil {
		t.Skip("keepalived is not installed")
	}
	all := allRendered(t)
	var confs [][]byte
	for _, rc := range all {
		confs = append(confs, rc.host.Keepalived)
	}
	ns := netns(t, interfaces(confs...))
	for _, rc := range all {
		t.Run(rc.name, func(t *testing.T) {
			p := writeTemp(t, "keepalived.conf", rc.host.Keepalived)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, bin, "-t", "-f", p).CombinedOutput()
			if err != nil {
				t.Errorf("keepalived -t: %v\n%s", err, out)
			}
		})
	}
	t.Run("missing interface fails", func(t *testing.T) {
		bad := bytes.ReplaceAll(all[0].host.Keepalived, []byte(" eth0"), []byte(" nosuch0"))
		p := writeTemp(t, "keepalived.conf", bad)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, bin, "-t", "-f", p).CombinedOutput(); err == nil {
			t.Errorf("keepalived -t accepted a config naming a missing interface:\n%s", out)
		}
	})
}
