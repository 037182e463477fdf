package chain

import (
	"context"
	"testing"
)

// Reorgs, with what the watcher does in each case:
//
//   - above the confirmation depth: never seen, no event;
//   - below it, the admitting tx mined again in the new chain: an undo of the
//     old event (Removed, old block hash), then the event again with the new
//     block hash;
//   - below it, the admitting tx gone: the undo only;
//   - deeper than the journal: a NodeRemoved from a registry snapshot (empty
//     TxHash, not an undo).
func TestReorg(t *testing.T) {
	cases := []struct {
		name       string
		depth      uint64
		window     uint64
		beforeFork int  // blocks committed after the admitting block, before the fork
		drop       bool // replace the admitting tx on the new chain
		afterFork  int  // blocks committed on the new chain
		seenBefore bool // the admission was emitted before the fork
	}{
		{name: "before the depth drops the tx", depth: 3, beforeFork: 1, drop: true, afterFork: 6},
		{name: "after the depth, tx mined again", depth: 1, beforeFork: 1, afterFork: 3, seenBefore: true},
		{name: "after the depth, tx dropped", depth: 1, beforeFork: 1, drop: true, afterFork: 3, seenBefore: true},
		{name: "at depth 0, tx mined again", depth: 0, beforeFork: 0, afterFork: 2, seenBefore: true},
		{name: "deeper than the journal", depth: 0, window: 2, beforeFork: 6, drop: true, afterFork: 10, seenBefore: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newSimEnv(t)
			cfg := testConfig(e, t.TempDir(), tc.depth)
			cfg.ReorgWindow = tc.window
			r := startWatcher(t, cfg, e.client)
			rec := e.nodeRecord(3)
			e.do(t, e.provider, e.reg.PackCreateNode(rec))
			e.do(t, e.manager, e.reg.PackAddNodeToCluster(e.clusterID, rec.PubKey))
			admit, oldHash, tx := e.doTx(t, e.manager, e.reg.PackValidateNode(rec.PubKey))
			e.commit(tc.beforeFork)
			oldTop := admit + uint64(tc.beforeFork)
			r.waitBlock(t, oldTop-tc.depth)
			if tc.seenBefore {
				checkEvent(t, r.next(t), NodeAdmitted, rec, admit, oldHash, false)
			}
			r.none(t)

			e.fork(t, e.hashAt(t, admit-1))
			if tc.drop {
				e.replaceNonce(t, tx.Nonce())
			}
			e.commit(tc.afterFork)
			newTop := admit - 1 + uint64(tc.afterFork)
			if newTop <= oldTop {
				t.Fatalf("test setup: the new chain (%d) must outgrow the old one (%d)", newTop, oldTop)
			}
			_, err := e.client.TransactionReceipt(context.Background(), tx.Hash())
			if mined := err == nil; mined == tc.drop {
				t.Fatalf("test setup: admitting tx mined on the new chain = %v, want %v", mined, !tc.drop)
			}
			// The journal checkpoint is replaced by a block of the new chain
			// (its hash differs) once the watcher has caught up.
			waitFor(t, "watcher on the new chain", func() bool {
				return r.rec.block.Load() >= newTop-tc.depth && r.w.running.Load()
			})
			r.stop(t) // everything it sends is in the buffer now

			switch {
			case tc.window != 0:
				ev := r.next(t)
				if ev.Kind != NodeRemoved || ev.Removed || ev.TxHash != "" || ev.Node != wantRecord(rec) || ev.Block < oldTop {
					t.Fatalf("want a snapshot NodeRemoved, got %+v", ev)
				}
			case tc.seenBefore:
				checkEvent(t, r.next(t), NodeAdmitted, rec, admit, oldHash, true)
				if !tc.drop {
					n, h := e.mined(t, tx)
					if h == oldHash {
						t.Fatalf("test setup: same block hash after the fork")
					}
					checkEvent(t, r.next(t), NodeAdmitted, rec, n, h, false)
				}
			}
			r.none(t)
			if tc.seenBefore && tc.window == 0 && r.rec.undos.Load() != 1 {
				t.Fatalf("%d undo events, want 1", r.rec.undos.Load())
			}
		})
	}
}
