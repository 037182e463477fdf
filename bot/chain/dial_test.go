package chain

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/node"
)

// freePort picks a free loopback port and releases it.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The dialled watcher over real JSON-RPC transports: HTTP (polling only) and
// WebSocket (head subscription).
func TestDialedWatcher(t *testing.T) {
	httpPort, wsPort := freePort(t), freePort(t)
	rpcOpts := func(nc *node.Config, _ *ethconfig.Config) {
		nc.HTTPHost, nc.HTTPPort, nc.HTTPModules = "127.0.0.1", httpPort, []string{"eth"}
		nc.WSHost, nc.WSPort, nc.WSModules = "127.0.0.1", wsPort, []string{"eth"}
	}
	e := newSimEnvWith(t, rpcOpts)
	for _, tc := range []struct {
		name, url string
		poll      time.Duration
	}{
		{"http", fmt.Sprintf("http://127.0.0.1:%d", httpPort), 20 * time.Millisecond},
		// A one-hour poll interval: only the head subscription wakes it up.
		{"ws", fmt.Sprintf("ws://127.0.0.1:%d", wsPort), time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			cfg := testConfig(e, t.TempDir(), 1)
			cfg.Metrics = rec
			cfg.PollInterval = tc.poll
			cfg.StartBlock = e.head(t).Number.Uint64() + 1 // skip the other transport's node
			w, err := DialEVMWatcher(cfg, tc.url)
			if err != nil {
				t.Fatal(err)
			}
			r := runWatcher(t, w, rec)
			n := e.nodeRecord(len(tc.name))
			e.do(t, e.provider, e.reg.PackCreateNode(n))
			e.do(t, e.manager, e.reg.PackAddNodeToCluster(e.clusterID, n.PubKey))
			b, h := e.do(t, e.manager, e.reg.PackValidateNode(n.PubKey))
			e.commit(1)
			checkEvent(t, r.next(t), NodeAdmitted, n, b, h, false)
			snap, err := w.Registry(t.Context(), b)
			if err != nil || len(snap.Nodes) == 0 {
				t.Fatalf("Registry over %s: %d nodes, %v", tc.name, len(snap.Nodes), err)
			}
		})
	}
}
