package chain

import (
	"context"
	"os"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/ddc-gitops/ddc-gitops/bot/contract"
)

// A node is admitted once it is in its cluster and validated, in either
// order; the event comes when that block reaches the confirmation depth, not
// before, and a restart from the checkpoint does not repeat it.
func TestAdmissionAtDepthAndRestart(t *testing.T) {
	const depth = 3
	cases := []struct {
		name          string
		validateFirst bool
	}{
		{"add then validate", false},
		{"validate then add", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newSimEnv(t)
			dir := t.TempDir()
			r := startWatcher(t, testConfig(e, dir, depth), e.client)
			rec := e.nodeRecord(1)
			create, _ := e.do(t, e.provider, e.reg.PackCreateNode(rec))
			steps := [][]byte{e.reg.PackAddNodeToCluster(e.clusterID, rec.PubKey), e.reg.PackValidateNode(rec.PubKey)}
			if tc.validateFirst {
				steps[0], steps[1] = steps[1], steps[0]
			}
			first, _ := e.do(t, e.manager, steps[0])
			admit, admitHash := e.do(t, e.manager, steps[1])
			if create >= first || first >= admit {
				t.Fatalf("blocks out of order: %d %d %d", create, first, admit)
			}
			// Head is admit: target admit-3. Then admit-1: still nothing.
			r.waitBlock(t, admit-depth)
			r.none(t)
			e.commit(depth - 1)
			r.waitBlock(t, admit-1)
			r.none(t)
			// One more block puts admit at the confirmation depth.
			e.commit(1)
			checkEvent(t, r.next(t), NodeAdmitted, rec, admit, admitHash, false)
			e.commit(5)
			r.waitBlock(t, admit+5)
			r.none(t)
			r.stop(t)

			if _, err := os.Stat(stateFileName(dir, e.addr)); err != nil {
				t.Fatalf("no checkpoint file: %v", err)
			}
			r2 := startWatcher(t, testConfig(e, dir, depth), e.client)
			e.commit(3)
			r2.waitBlock(t, admit+8)
			r2.none(t)
			if n := r2.rec.events.Load(); n != 0 {
				t.Fatalf("restarted watcher sent %d events", n)
			}
		})
	}
}

// The whole life of a node, step by step, with the events each step means.
func TestNodeLifecycle(t *testing.T) {
	e := newSimEnv(t)
	r := startWatcher(t, testConfig(e, t.TempDir(), 1), e.client)
	a, b := e.nodeRecord(1), e.nodeRecord(2)
	changedA := a
	changedA.Host, changedA.HttpPort, changedA.Ssl, changedA.Mode = "198.18.9.9", 8443, true, 3
	preAdmitA := a
	preAdmitA.Domain = "early.ddc.example"

	type want struct {
		kind EventKind
		rec  contract.NodeRegistryNodeRecord
		prev *contract.NodeRegistryNodeRecord
	}
	steps := []struct {
		name string
		from func() []byte
		mgr  bool
		want []want
	}{
		{"create A: nothing", func() []byte { return e.reg.PackCreateNode(a) }, false, nil},
		{"create B: nothing", func() []byte { return e.reg.PackCreateNode(b) }, false, nil},
		{"params of non-admitted A: nothing", func() []byte { return e.reg.PackSetNodeParams(a.PubKey, paramsOf(preAdmitA)) }, false, nil},
		{"add A to cluster: nothing yet", func() []byte { return e.reg.PackAddNodeToCluster(e.clusterID, a.PubKey) }, true, nil},
		{"validate A: admitted with the latest params", func() []byte { return e.reg.PackValidateNode(a.PubKey) }, true,
			[]want{{NodeAdmitted, preAdmitA, nil}}},
		{"validate A again: nothing", func() []byte { return e.reg.PackValidateNode(a.PubKey) }, true, nil},
		{"change A's params: updated", func() []byte { return e.reg.PackSetNodeParams(a.PubKey, paramsOf(changedA)) }, false,
			[]want{{NodeUpdated, changedA, &preAdmitA}}},
		{"same params again: nothing", func() []byte { return e.reg.PackSetNodeParams(a.PubKey, paramsOf(changedA)) }, false, nil},
		{"remove A from cluster: removed", func() []byte { return e.reg.PackRemoveNodeFromCluster(a.PubKey) }, true,
			[]want{{NodeRemoved, changedA, nil}}},
		{"validate A out of cluster: nothing", func() []byte { return e.reg.PackValidateNode(a.PubKey) }, true, nil},
		{"add A back: admitted", func() []byte { return e.reg.PackAddNodeToCluster(e.clusterID, a.PubKey) }, true,
			[]want{{NodeAdmitted, changedA, nil}}},
		{"delete A: removed", func() []byte { return e.reg.PackRemoveNode(a.PubKey) }, false,
			[]want{{NodeRemoved, changedA, nil}}},
		{"delete never-admitted B: nothing", func() []byte { return e.reg.PackRemoveNode(b.PubKey) }, false, nil},
	}
	for _, s := range steps {
		from := e.provider
		if s.mgr {
			from = e.manager
		}
		n, h := e.do(t, from, s.from())
		e.commit(1) // depth 1
		r.waitBlock(t, n)
		for _, w := range s.want {
			got := r.next(t)
			checkEvent(t, got, w.kind, w.rec, n, h, false)
			switch {
			case w.prev == nil && got.Prev != nil:
				t.Fatalf("%s: unexpected Prev %+v", s.name, got.Prev)
			case w.prev != nil && (got.Prev == nil || *got.Prev != wantRecord(*w.prev)):
				t.Fatalf("%s: Prev %+v, want %+v", s.name, got.Prev, wantRecord(*w.prev))
			}
		}
		select {
		case ev := <-r.events:
			t.Fatalf("%s: unexpected event %+v", s.name, ev)
		default:
		}
	}
}

// Chain data is untrusted: a record that would inject HAProxy directives is
// emitted exactly as the chain holds it (the bot rejects it), and nothing panics.
func TestInvalidRecordEmittedAsIs(t *testing.T) {
	e := newSimEnv(t)
	r := startWatcher(t, testConfig(e, t.TempDir(), 0), e.client)
	rec := e.nodeRecord(7)
	rec.Host = "evil.example\n  server x 1.2.3.4:80"
	rec.Domain = "\x00\xff not utf-8"
	rec.HttpPort, rec.GrpcPort, rec.P2pPort = 0, 0, 0
	rec.ProviderId = [32]byte{}
	e.do(t, e.provider, e.reg.PackCreateNode(rec))
	e.do(t, e.manager, e.reg.PackAddNodeToCluster(e.clusterID, rec.PubKey))
	n, h := e.do(t, e.manager, e.reg.PackValidateNode(rec.PubKey))
	got := r.next(t)
	checkEvent(t, got, NodeAdmitted, rec, n, h, false)
	if got.Node.Host != "evil.example\n  server x 1.2.3.4:80" || got.Node.HTTPPort != 0 || got.Node.Domain != "\x00\xff not utf-8" {
		t.Fatalf("record was altered: %+v", got.Node)
	}
}

// Registry reads the whole registry at a block, old blocks included.
func TestRegistrySnapshot(t *testing.T) {
	e := newSimEnv(t)
	w, err := NewEVMWatcher(testConfig(e, t.TempDir(), 0), e.client)
	if err != nil {
		t.Fatal(err)
	}
	var recs []contract.NodeRegistryNodeRecord
	for i := 0; i < 250; i++ { // more than two pages
		recs = append(recs, e.nodeRecord(i))
		e.send(t, e.provider, e.reg.PackCreateNode(recs[i]))
		if i%50 == 49 { // stay under the block gas limit
			e.commit(1)
		}
	}
	e.commit(1)
	created := e.head(t).Number.Uint64()
	e.send(t, e.manager, e.reg.PackAddNodeToCluster(e.clusterID, recs[0].PubKey))
	e.send(t, e.manager, e.reg.PackValidateNode(recs[0].PubKey))
	e.send(t, e.manager, e.reg.PackAddNodeToCluster(e.clusterID, recs[1].PubKey))
	e.send(t, e.provider, e.reg.PackRemoveNode(recs[2].PubKey))
	e.commit(1)
	later := e.head(t)

	ctx := context.Background()
	snap, err := w.Registry(ctx, later.Number.Uint64())
	if err != nil {
		t.Fatal(err)
	}
	if snap.ChainID != 1337 || snap.Block != later.Number.Uint64() || snap.BlockHash != later.Hash().Hex() {
		t.Fatalf("snapshot header %+v", snap)
	}
	got := map[string]RegistryNode{}
	for _, n := range snap.Nodes {
		got[n.Record.PubKey] = n
	}
	if len(got) != 249 || len(snap.Nodes) != 249 {
		t.Fatalf("%d nodes (%d unique), want 249", len(snap.Nodes), len(got))
	}
	for i, rec := range recs {
		n, ok := got[wantRecord(rec).PubKey]
		switch {
		case i == 2 && ok:
			t.Fatalf("deleted node listed")
		case i == 2:
		case !ok || n.Record != wantRecord(rec):
			t.Fatalf("node %d: %+v", i, n)
		case n.Admitted() != (i == 0) || n.InCluster != (i <= 1) || n.Provider != e.provider.From.Hex():
			t.Fatalf("node %d flags: %+v", i, n)
		}
	}
	old, err := w.Registry(ctx, created)
	if err != nil {
		t.Fatal(err)
	}
	if len(old.Nodes) != 250 {
		t.Fatalf("at block %d: %d nodes, want 250", created, len(old.Nodes))
	}
	for _, n := range old.Nodes {
		if n.InCluster || n.Validated {
			t.Fatalf("at block %d a node is already in its cluster: %+v", created, n)
		}
	}
	if cb, err := w.ConfirmedBlock(ctx); err != nil || cb != later.Number.Uint64() {
		t.Fatalf("ConfirmedBlock = %d, %v; want %d", cb, err, later.Number.Uint64())
	}
	if _, err := w.Registry(ctx, later.Number.Uint64()+100); err == nil {
		t.Fatalf("Registry of a future block succeeded")
	}
}

// A state file that belongs to another contract stops Run with an error
// instead of mixing two registries.
func TestStateOfAnotherContract(t *testing.T) {
	e := newSimEnv(t)
	dir := t.TempDir()
	other := newState(1337, common.HexToAddress("0x00000000000000000000000000000000000000aa"))
	if err := other.save(stateFileName(dir, e.addr)); err != nil {
		t.Fatal(err)
	}
	w, err := NewEVMWatcher(testConfig(e, dir, 0), e.client)
	if err != nil {
		t.Fatal(err)
	}
	err = w.Run(context.Background(), make(chan Event))
	if err == nil {
		t.Fatalf("Run accepted a state file of another contract")
	}
	t.Logf("Run: %v", err)
}

// With Finalized, a block is processed once the chain's finalized tag passes
// it (every 32 blocks on the simulated chain).
func TestFinalizedTag(t *testing.T) {
	e := newSimEnv(t)
	cfg := testConfig(e, t.TempDir(), 0)
	cfg.Finalized = true
	r := startWatcher(t, cfg, e.client)
	rec := e.nodeRecord(1)
	e.do(t, e.provider, e.reg.PackCreateNode(rec))
	e.do(t, e.manager, e.reg.PackAddNodeToCluster(e.clusterID, rec.PubKey))
	n, h := e.do(t, e.manager, e.reg.PackValidateNode(rec.PubKey))
	ctx := context.Background()
	var fin uint64
	for {
		f, err := r.w.ConfirmedBlock(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if f >= n {
			fin = f
			break
		}
		r.none(t) // blocks up to f are not enough
		e.commit(1)
	}
	if head := e.head(t).Number.Uint64(); head < n+16 {
		t.Fatalf("finalized %d already at head %d: the tag does not lag", fin, head)
	}
	checkEvent(t, r.next(t), NodeAdmitted, rec, n, h, false)
	r.waitBlock(t, fin)
}

// SnapshotStart begins with the registry as it is (one NodeAdmitted, with an
// empty TxHash, per admitted node) and follows logs from there.
func TestSnapshotStart(t *testing.T) {
	e := newSimEnv(t)
	var recs []contract.NodeRegistryNodeRecord
	for i := 0; i < 3; i++ {
		recs = append(recs, e.nodeRecord(i))
		e.do(t, e.provider, e.reg.PackCreateNode(recs[i]))
	}
	for i := 0; i < 2; i++ {
		e.do(t, e.manager, e.reg.PackAddNodeToCluster(e.clusterID, recs[i].PubKey))
		e.do(t, e.manager, e.reg.PackValidateNode(recs[i].PubKey))
	}
	head := e.head(t)
	cfg := testConfig(e, t.TempDir(), 0)
	cfg.SnapshotStart = true
	r := startWatcher(t, cfg, e.client)
	want := map[string]bool{wantRecord(recs[0]).PubKey: true, wantRecord(recs[1]).PubKey: true}
	last := ""
	for i := 0; i < 2; i++ {
		ev := r.next(t)
		if ev.Kind != NodeAdmitted || ev.TxHash != "" || !want[ev.Node.PubKey] || ev.Block != head.Number.Uint64() || ev.BlockHash != head.Hash().Hex() || ev.Node.PubKey <= last {
			t.Fatalf("snapshot event %d: %+v", i, ev)
		}
		last = ev.Node.PubKey
	}
	e.do(t, e.manager, e.reg.PackAddNodeToCluster(e.clusterID, recs[2].PubKey))
	n, h := e.do(t, e.manager, e.reg.PackValidateNode(recs[2].PubKey))
	checkEvent(t, r.next(t), NodeAdmitted, recs[2], n, h, false)
	r.waitBlock(t, n)
	r.none(t)
}
