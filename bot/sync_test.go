package bot

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/bot/chain"
)

// staticRegistry is a registry read that returns a fixed snapshot.
type staticRegistry struct{ snap chain.Snapshot }

func (r *staticRegistry) ConfirmedBlock(context.Context) (uint64, error) { return r.snap.Block, nil }
func (r *staticRegistry) Registry(_ context.Context, block uint64) (chain.Snapshot, error) {
	s := r.snap
	s.Block = block
	return s, nil
}

// exampleRecord is an example fleet node as the chain would hold it.
func exampleRecord(t *testing.T, name string) chain.Record {
	t.Helper()
	port := func(f string) uint16 {
		var n uint16
		for _, c := range mustField(t, name, f) {
			n = n*10 + uint16(c-'0')
		}
		return n
	}
	return chain.Record{PubKey: mustField(t, name, "pubKey"), ProviderID: mustField(t, name, "providerId"), ClusterID: mustField(t, name, "clusterId"),
		Host: mustField(t, name, "host"), Domain: mustField(t, name, "domain"), SSL: mustField(t, name, "ssl") == "true",
		HTTPPort: port("httpPort"), GRPCPort: port("grpcPort"), P2PPort: port("p2pPort"), Mode: mustField(t, name, "mode")}
}

// syncFixture is a registry that differs from the example fleet in every
// way a sync handles.
func syncFixture(t *testing.T) (*staticRegistry, map[string]string) {
	newNode := testRecord(1)
	invalid := testRecord(2)
	invalid.Host = "bad host"
	moved := exampleRecord(t, "eu-node-2")
	moved.Host = "198.18.1.88"
	reg := &staticRegistry{chain.Snapshot{ChainID: 1337, Block: 100, BlockHash: "0x" + strings.Repeat("ab", 32), Nodes: []chain.RegistryNode{
		{Record: newNode, InCluster: true, Validated: true},
		{Record: invalid, InCluster: true, Validated: true},
		{Record: exampleRecord(t, "eu-node-1"), InCluster: true, Validated: true},
		{Record: moved, InCluster: true, Validated: true},
		{Record: exampleRecord(t, "eu-node-3"), InCluster: true, Validated: false},
		{Record: testRecord(3), InCluster: true},
	}}}
	// us-node-1..3 are not in the registry at all; us is a managed cluster.
	want := map[string]string{
		newNode.PubKey: ResultAdd, invalid.PubKey: ResultInvalid, moved.PubKey: ResultUpdate,
		mustField(t, "eu-node-3", "pubKey"): ResultRemove,
		mustField(t, "us-node-1", "pubKey"): ResultRemove, mustField(t, "us-node-2", "pubKey"): ResultRemove, mustField(t, "us-node-3", "pubKey"): ResultRemove,
		mustField(t, "eu-node-1", "pubKey"): ResultNone,
	}
	return reg, want
}

// A full sync proposes every difference between the registry and main,
// and a second sync changes nothing.
func TestSyncIsCompleteAndIdempotent(t *testing.T) {
	reg, want := syncFixture(t)
	e := newEnv(t, envOptions{github: true, registry: reg, config: func(c *Config) { c.PruneClusters = []string{usCluster} }})
	rep, err := e.bot.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rep.Results {
		got[r.PubKey] = r.Action
	}
	for key, action := range want {
		if got[key] != action {
			t.Errorf("node %s: %s, want %s", key, got[key], action)
		}
	}
	if len(got) != len(want) || rep.Changed != 6 || rep.Block != 100 {
		t.Fatalf("results %v (changed %d)", got, rep.Changed)
	}
	if n := e.gh.numPRs(); n != 6 {
		t.Fatalf("%d pull requests, want 6", n)
	}
	body := e.gh.pr(t, 1)["body"].(string)
	if !strings.Contains(body, "full registry read") || !strings.Contains(body, "| Block | 100 ") {
		t.Fatalf("sync provenance missing:\n%s", body)
	}

	writes, pushes := e.gh.writes(), e.srv.Stats().ReceivePacks
	rep, err = e.bot.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed != 0 || e.gh.writes() != writes || e.srv.Stats().ReceivePacks != pushes {
		t.Fatalf("second sync changed %d, %d forge writes, %d pushes", rep.Changed, e.gh.writes()-writes, e.srv.Stats().ReceivePacks-pushes)
	}
	for _, r := range rep.Results {
		if r.Action != ResultUpToDate && r.Action != ResultNone && r.Action != ResultInvalid {
			t.Errorf("second sync: %s %s", r.PubKey, r.Action)
		}
	}

	// The node view: statuses from git and the forge.
	nodes, err := e.bot.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, n := range nodes.Nodes {
		status[n.PubKey] = n.Status
	}
	for key, st := range map[string]string{
		testRecord(1).PubKey: StatusPending, testRecord(2).PubKey: StatusInvalid, testRecord(3).PubKey: StatusNotAdmitted,
		mustField(t, "eu-node-1", "pubKey"): StatusAdmitted, mustField(t, "eu-node-2", "pubKey"): StatusPending,
		mustField(t, "eu-node-3", "pubKey"): StatusPending,
	} {
		if status[key] != st {
			t.Errorf("status of %s = %q, want %q", key, status[key], st)
		}
	}
	if len(nodes.GitOnly) != 3 || !nodes.GitOnly[0].Managed {
		t.Errorf("git-only nodes = %+v", nodes.GitOnly)
	}
	if e.gh.count(http.MethodPost, "/pulls") != 6 {
		t.Fatal("Nodes wrote to the forge")
	}
}
