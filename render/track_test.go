package render

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goldenArgv0 is the haproxy path the tracking goldens are rendered with.
const goldenArgv0 = "/var/lib/ddc-gitops/bin/haproxy"

// renderArgv0 renders every example host with Options.HAProxyArgv0 set.
func renderArgv0(t *testing.T) (plain, tracked []*Host) {
	t.Helper()
	f := loadExample(t)
	plain, err := RenderAll(f, Options{FleetDir: goldenFleetDir})
	if err != nil {
		t.Fatalf("RenderAll: %v", err)
	}
	tracked, err = RenderAll(f, Options{FleetDir: goldenFleetDir, HAProxyArgv0: goldenArgv0})
	if err != nil {
		t.Fatalf("RenderAll with HAProxyArgv0: %v", err)
	}
	return plain, tracked
}

// TestHAProxyArgv0Golden compares every example host's keepalived.conf,
// rendered to track the haproxy started as goldenArgv0, with
// testdata/argv0/<host>.keepalived.conf (-update rewrites them), and checks
// that the option changes nothing but the vrrp_track_process block.
func TestHAProxyArgv0Golden(t *testing.T) {
	plain, tracked := renderArgv0(t)
	for i, h := range tracked {
		t.Run(h.Name, func(t *testing.T) {
			p := filepath.Join("testdata", "argv0", h.Name+".keepalived.conf")
			if *update {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, h.Keepalived, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("%v (run go test ./render -run Argv0 -update)", err)
			}
			if !bytes.Equal(h.Keepalived, want) {
				t.Errorf("%s differs from the rendered config at %s", p, lineDiff(h.Keepalived, want))
			}
			if !bytes.Equal(h.HAProxy, plain[i].HAProxy) {
				t.Error("HAProxyArgv0 changed haproxy.cfg")
			}
			block := "    process " + goldenArgv0 + "\n    full_command\n"
			if !bytes.Contains(h.Keepalived, []byte(block)) {
				t.Errorf("keepalived.conf has no block %q:\n%s", block, h.Keepalived)
			}
			// Without the tracking lines (two comment lines, process and
			// full_command) it is the default config but for the process name.
			var kept []string
			for _, l := range strings.SplitAfter(string(h.Keepalived), "\n") {
				switch {
				case strings.HasPrefix(l, "# Only the haproxy started as "), strings.HasPrefix(l, "# also across reloads"),
					l == "    full_command\n":
					continue
				case l == "    process "+goldenArgv0+"\n":
					l = "    process haproxy\n"
				}
				kept = append(kept, l)
			}
			if got := strings.Join(kept, ""); got != string(plain[i].Keepalived) {
				t.Errorf("beyond the track block, keepalived.conf differs from the default at %s", lineDiff([]byte(got), plain[i].Keepalived))
			}
		})
	}
}

// TestKeepalivedAcceptsHAProxyArgv0 runs keepalived -t on the tracking
// configs, in a network namespace holding the interfaces they name.
func TestKeepalivedAcceptsHAProxyArgv0(t *testing.T) {
	bin, err := exec.LookPath("keepalived")
	if err != nil {
		t.Skip("keepalived is not installed")
	}
	_, tracked := renderArgv0(t)
	var confs [][]byte
	for _, h := range tracked {
		confs = append(confs, h.Keepalived)
	}
	ns := netns(t, interfaces(confs...))
	check := func(conf []byte) ([]byte, error) {
		p := writeTemp(t, "keepalived.conf", conf)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return exec.CommandContext(ctx, "ip", "netns", "exec", ns, bin, "-t", "-f", p).CombinedOutput()
	}
	for _, h := range tracked {
		if out, err := check(h.Keepalived); err != nil {
			t.Errorf("%s: keepalived -t: %v\n%s", h.Name, err, out)
		}
	}
	// The check can fail: full_command followed by a stray word is refused.
	bad := bytes.Replace(tracked[0].Keepalived, []byte("    full_command\n"), []byte("    full_command\n    no_such_keyword\n"), 1)
	if out, err := check(bad); err == nil {
		t.Errorf("keepalived -t accepted an unknown keyword in the track block:\n%s", out)
	}
}

// TestHAProxyArgv0Refused: a path keepalived's parser would split or
// misread is an error, never rendered.
func TestHAProxyArgv0Refused(t *testing.T) {
	f := loadExample(t)
	tests := []struct {
		argv0 string
		ok    bool
	}{
		{"", true},
		{"/usr/sbin/haproxy", true},
		{"/var/lib/ddc-gitops-lab/hosts/eu-haproxy-1/state/bin/haproxy", true},
		{"haproxy", false},
		{"bin/haproxy", false},
		{"/srv/my haproxy/haproxy", false},
		{`/srv/"haproxy"`, false},
		{"/srv/'haproxy'", false},
		{"/srv/#haproxy", false},
		{"/srv/!haproxy", false},
		{"/srv/{haproxy}", false},
		{"/srv/../usr/sbin/haproxy", false},
		{"/srv/haproxy\nvrrp_script x {", false},
		{"/srv/haproxy\t-W", false},
	}
	for _, tt := range tests {
		t.Run(tt.argv0, func(t *testing.T) {
			h, err := Render(f, "eu-haproxy-1", Options{FleetDir: goldenFleetDir, HAProxyArgv0: tt.argv0})
			if tt.ok {
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				if tt.argv0 != "" && !bytes.Contains(h.Keepalived, []byte("process "+tt.argv0+"\n")) {
					t.Fatalf("keepalived.conf does not track %s:\n%s", tt.argv0, h.Keepalived)
				}
				return
			}
			if err == nil {
				t.Fatalf("Render accepted haproxy path %q:\n%s", tt.argv0, h.Keepalived)
			}
			if !strings.Contains(err.Error(), "haproxy path") || !strings.Contains(err.Error(), "eu-haproxy-1") {
				t.Fatalf("error %q does not name the haproxy path and the host", err)
			}
			if CheckHAProxyArgv0(tt.argv0) == nil {
				t.Fatal("CheckHAProxyArgv0 accepts what Render refuses")
			}
		})
	}
}
