package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/lab/nodesim"
)

// TestLabNodeFault: `lab node-fault` sets and prints a simulator's fault
// through its control socket in the lab's state directory.
func TestLabNodeFault(t *testing.T) {
	state := t.TempDir()
	if err := os.MkdirAll(filepath.Join(state, "nodes"), 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(state, "nodes", "eu-node-1.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- nodesim.Run(ctx, nodesim.Options{Zone: "eu", Node: "eu-node-1", HTTPAddr: "127.0.0.1:0", ControlSocket: sock})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("nodesim: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the control socket did not appear")
		}
		<-tick.C
	}
	tests := []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"eu-node-1", "unhealthy,slow=300ms"}, 0, "eu-node-1: unhealthy,slow=300ms\n", ""},
		{[]string{"eu-node-1"}, 0, "eu-node-1: unhealthy,slow=300ms\n", ""},
		{[]string{"eu-node-1", "error=503"}, 0, "eu-node-1: error=503\n", ""},
		{[]string{"eu-node-1", "healthy"}, 0, "eu-node-1: healthy\n", ""},
		{[]string{"eu-node-1", "error=404"}, 2, "", "error status 404: want 500 to 599"},
		{[]string{"eu-node-9", "healthy"}, 1, "", "node eu-node-9 has no control socket"},
		{[]string{"../x", "healthy"}, 1, "", `"../x" is not a node name`},
	}
	for _, tc := range tests {
		code, out, errOut := run(t, append([]string{"lab", "node-fault", "--state-dir", state}, tc.args...)...)
		if code != tc.code || out != tc.out || !strings.Contains(errOut, tc.err) {
			t.Errorf("lab node-fault %v = %d %q %q; want %d %q and an error with %q", tc.args, code, out, errOut, tc.code, tc.out, tc.err)
		}
	}
}
