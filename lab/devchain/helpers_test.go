package devchain

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// testTimeout bounds every wait of these tests.
const testTimeout = 90 * time.Second

// Example fleet clusters (examples/fleet/nodes).
const (
	clusterEU = "0x67424cc500a0532b2ca4e63d681a279809170593"
	clusterUS = "0x1d4dc5501242b509e42d08d9e04f0adef07a9737"
)

var testClusters = map[string]string{clusterEU: "eu", clusterUS: "us"}

// envRequireGeth makes a missing geth binary a failure (CI builds it first).
const envRequireGeth = "DDC_GITOPS_REQUIRE_GETH"

// gethBinary is $DDC_GITOPS_GETH or the cached build; without either, the
// test is skipped unless $DDC_GITOPS_REQUIRE_GETH is set, in which case it
// is built.
func gethBinary(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if os.Getenv(EnvGeth) == "" && os.Getenv(envRequireGeth) == "" {
		version, err := GethVersion()
		if err != nil {
			tb.Fatal(err)
		}
		cache, err := DefaultCacheDir()
		if err != nil {
			tb.Fatal(err)
		}
		bin := filepath.Join(cache, "geth", version, "geth")
		if err := gethIsVersion(ctx, bin, version); err != nil {
			tb.Skipf("no geth %s binary (%v): build it with `GOBIN=%s go install %s/cmd/geth@%s`, set %s, or set %s=1 to build it here",
				version, err, filepath.Dir(bin), GethModule, version, EnvGeth, envRequireGeth)
		}
		return bin
	}
	bin, err := Geth(ctx, "", tb.Logf)
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// startNode starts geth --dev in a temp dir; Cleanup stops it and checks
// the process is gone.
func startNode(tb testing.TB, o Options) *Node {
	tb.Helper()
	if o.Geth == "" {
		o.Geth = gethBinary(tb)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.DataDir == "" {
		o.DataDir = filepath.Join(tb.TempDir(), "geth")
	}
	var err error
	if o.HTTPAddr == "" {
		if o.HTTPAddr, err = FreeAddr("127.0.0.1"); err != nil {
			tb.Fatal(err)
		}
	}
	if o.WSAddr == "" {
		if o.WSAddr, err = FreeAddr("127.0.0.1"); err != nil {
			tb.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	n, err := Start(ctx, o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := n.Close(); err != nil {
			tb.Errorf("closing geth: %v", err)
		}
		checkGone(tb, n)
	})
	return n
}

// checkGone fails when geth's process still exists.
func checkGone(tb testing.TB, n *Node) {
	tb.Helper()
	select {
	case <-n.Done():
	default:
		tb.Errorf("geth (pid %d) still running after Close", n.Pid())
		return
	}
	if err := syscall.Kill(n.Pid(), 0); !errors.Is(err, syscall.ESRCH) {
		tb.Errorf("geth pid %d still exists after Close (kill 0: %v)", n.Pid(), err)
	}
}

// testCtx is a context bounded by testTimeout.
func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	tb.Cleanup(cancel)
	return ctx
}
