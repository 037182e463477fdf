// Package labtest holds what tests that start a lab share: running the test
// binary itself as the lab's children, and finding processes a lab left.
package labtest

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/internal/cli"
)

// ChildEnv makes the test binary act as one of the lab's children; set it
// to "1" in lab.Options.ChildEnv with Options.Exe = os.Args[0].
const ChildEnv = "DDC_GITOPS_LAB_TEST_CHILD"

// Main is a TestMain: as a lab child it runs the real command line
// (`agent ...`, `lab nodesim ...`) and exits; otherwise it runs the tests.
func Main(m *testing.M) {
	if os.Getenv(ChildEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// ProcessesMentioning lists the processes whose command line contains s,
// as "pid: command line".
func ProcessesMentioning(s string) ([]string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var found []string
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), s) {
			found = append(found, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return found, nil
}
