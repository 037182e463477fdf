// Package netnstest has the test helpers of package netns: skipping
// without root, fresh namespace prefixes, and a Lab removed when the test
// ends. It is for tests only, so the shipped binary never links "testing".
package netnstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/internal/netns"
)

// RequireRoot skips t unless the test runs as root with iproute2's `ip`
// installed: network namespaces, bridges and veths need CAP_NET_ADMIN and
// CAP_SYS_ADMIN.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root to create network namespaces (run `go test` as root, e.g. with sudo)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipping: iproute2 `ip` not found in PATH (apt-get install iproute2)")
	}
}

// Prefix returns a fresh prefix for one test's namespaces: "dg" and six
// random hex digits, short enough to leave room under IFNAMSIZ.
func Prefix(t testing.TB) string {
	t.Helper()
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("reading random bytes for a namespace prefix: %v", err)
	}
	return "dg" + hex.EncodeToString(b[:])
}

// NewLab skips unless root, creates a netns.Lab with a fresh prefix, and
// registers its removal with t.Cleanup; the cleanup also fails the test if
// any namespace of the prefix survives. Register processes that run inside
// the lab after calling NewTestLab, so they stop first.
func NewLab(t testing.TB) *netns.Lab {
	t.Helper()
	RequireRoot(t)
	prefix := Prefix(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lab, err := netns.NewLab(ctx, prefix, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatalf("creating lab: %v", err)
	}
	t.Cleanup(func() {
		if err := lab.Close(); err != nil {
			t.Errorf("closing lab %s: %v", prefix, err)
		}
		names, err := netns.List()
		if err != nil {
			t.Errorf("listing namespaces after closing lab: %v", err)
		}
		for _, n := range names {
			if strings.HasPrefix(n, prefix) {
				t.Errorf("namespace %s survived the lab's Close", n)
			}
		}
	})
	return lab
}

// testWriter sends log output to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
