// Package gitservertest has the test helpers of package gitserver: a
// served repository that lives as long as one test, and commits that fail
// the test on error. It is for tests only, so the shipped binary (whose lab
// runs a gitserver.Server) never links "testing".
//
//	srv := gitservertest.New(t, gitserver.Options{})
//	gitservertest.MustSeed(t, srv, "../../examples/fleet", "seed")
//	hash := gitservertest.MustCommit(t, srv, map[string][]byte{"nodes/x.yaml": data}, nil, "add x")
package gitservertest

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
)

// New creates a server in a temporary directory of tb, starts it and
// stops it when the test ends. It fails the test on error. Without a
// Logger in opts, warnings go to the test log.
func New(tb testing.TB, opts gitserver.Options) *gitserver.Server {
	tb.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s, err := gitserver.New(tb.TempDir(), opts)
	if err != nil {
		tb.Fatalf("git server: %v", err)
	}
	if err := s.Start(); err != nil {
		tb.Fatalf("git server: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("closing git server: %v", err)
		}
	})
	return s
}

// MustCommit is s.Commit that fails the test on error.
func MustCommit(tb testing.TB, s *gitserver.Server, files map[string][]byte, deletes []string, msg string) string {
	tb.Helper()
	h, err := s.Commit(files, deletes, msg)
	if err != nil {
		tb.Fatalf("git server commit %q: %v", msg, err)
	}
	return h
}

// MustSeed is s.Seed that fails the test on error.
func MustSeed(tb testing.TB, s *gitserver.Server, dir, msg string) string {
	tb.Helper()
	h, err := s.Seed(dir, msg)
	if err != nil {
		tb.Fatalf("git server seed from %s: %v", dir, err)
	}
	return h
}

// tbWriter sends log output to the test log.
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
