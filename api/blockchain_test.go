package api

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
)

// TestBlockchainRoutes: the node-admission bot's routes are served behind
// the API's auth when a bot runs in the process, and answer 404 otherwise.
func TestBlockchainRoutes(t *testing.T) {
	var nodes, syncs atomic.Int32
	e := newEnv(t, envOpts{deps: func(d *Deps) {
		d.Blockchain = &Blockchain{
			Nodes: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { nodes.Add(1); io.WriteString(w, `{"nodes":[]}`) }),
			Sync:  http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { syncs.Add(1); io.WriteString(w, `{}`) }),
		}
	}})
	if r := e.call("GET", "/api/v1/blockchain/nodes", "", nil); r.code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", r.code)
	}
	if r := e.call("GET", "/api/v1/blockchain/nodes", "vera", nil); r.code != http.StatusOK || nodes.Load() != 1 {
		t.Fatalf("viewer GET: %d (%d calls)", r.code, nodes.Load())
	}
	if r := e.call("POST", "/api/v1/blockchain/sync", "vera", nil); r.code != http.StatusForbidden || syncs.Load() != 0 {
		t.Fatalf("viewer POST: %d (%d calls)", r.code, syncs.Load())
	}
	if r := e.call("POST", "/api/v1/blockchain/sync", "otto", nil); r.code != http.StatusOK || syncs.Load() != 1 {
		t.Fatalf("operator POST: %d (%d calls)", r.code, syncs.Load())
	}

	none := newEnv(t, envOpts{})
	if r := none.call("GET", "/api/v1/blockchain/nodes", "vera", nil); r.code != http.StatusNotFound {
		t.Fatalf("without a bot: %d, want 404", r.code)
	}
}
