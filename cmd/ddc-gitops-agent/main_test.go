package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
)

// TestBinary runs the built binary: `ddc-gitops-agent FLAGS` behaves as
// `ddc-gitops agent FLAGS` does, exit codes included.
func TestBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "ddc-gitops-agent")
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	fleet, err := filepath.Abs("../../examples/fleet")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		out, inErr string
	}{
		{"version", []string{"--version"}, cmdkit.ExitOK, "ddc-gitops-agent version " + cmdkit.Version, ""},
		{"unknown flag", []string{"--bogus"}, cmdkit.ExitUsage, "", "unknown flag: --bogus"},
		{"an argument", []string{"agent", "--repo", "x"}, cmdkit.ExitUsage, "", "received 1"},
		{"no source", []string{"--state-dir", filepath.Join(dir, "s1"), "--listen", ""}, cmdkit.ExitUsage, "", "--repo"},
		{"bad log format", []string{"--repo", "x", "--log-format", "xml", "--state-dir", filepath.Join(dir, "s2")}, cmdkit.ExitUsage, "", "--log-format"},
		{"once without haproxy", []string{"--once", "--watch", fleet, "--host", "eu-haproxy-1",
			"--state-dir", filepath.Join(dir, "s3"), "--haproxy-config", filepath.Join(dir, "haproxy.cfg"),
			"--admin-socket", filepath.Join(dir, "admin.sock"), "--master-socket", filepath.Join(dir, "master.sock"),
			"--keepalived=false", "--listen", ""}, cmdkit.ExitInvalid, "", "admin.sock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, tc.args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(stdout.String(), tc.out) || !strings.Contains(stderr.String(), tc.inErr) {
				t.Errorf("ddc-gitops-agent %v: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					tc.args, code, stdout.String(), stderr.String(), tc.code, tc.out, tc.inErr)
			}
		})
	}
}
