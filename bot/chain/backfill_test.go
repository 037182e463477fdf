package chain

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/ddc-gitops/ddc-gitops/bot/contract"
)

const (
	backfillBlocks = 5000
	backfillNodes  = 100 // 5 logs each: 500 logs, 300 events
)

// backfillChain is a 5,000-block chain with 500 registry logs, built once per
// test process and only read.
type backfillChain struct {
	env  *simEnv
	head uint64
	want []Event // every event, in order
}

var backfill struct {
	once  sync.Once
	chain *backfillChain
	err   error
}

func getBackfillChain(tb testing.TB) *backfillChain {
	tb.Helper()
	backfill.once.Do(func() { backfill.chain, backfill.err = buildBackfillChain() })
	if backfill.err != nil {
		tb.Fatal(backfill.err)
	}
	return backfill.chain
}

// buildBackfillChain sends one transaction every 10 blocks: first the 100
// creates, then the adds, validates (admissions), params changes (updates)
// and deletions (removals).
func buildBackfillChain() (*backfillChain, error) {
	e, err := buildSimEnv()
	if err != nil {
		return nil, err
	}
	sharedChains.mu.Lock()
	sharedChains.closers = append(sharedChains.closers, func() { _ = e.sim.Close() })
	sharedChains.mu.Unlock()

	recs := make([]contract.NodeRegistryNodeRecord, backfillNodes)
	changed := make([]contract.NodeRegistryNodeRecord, backfillNodes)
	for i := range recs {
		recs[i] = e.nodeRecord(i)
		changed[i] = recs[i]
		changed[i].HttpPort = 18080
	}
	c := &backfillChain{env: e}
	for k := 0; k < 5*backfillNodes; k++ {
		for {
			n, err := e.client.BlockNumber(context.Background())
			if err != nil {
				return nil, fmt.Errorf("reading head: %w", err)
			}
			if n%10 == 9 {
				break
			}
			e.sim.Commit()
		}
		i, step := k%backfillNodes, k/backfillNodes
		var data []byte
		from := e.provider
		switch step {
		case 0:
			data = e.reg.PackCreateNode(recs[i])
		case 1:
			data, from = e.reg.PackAddNodeToCluster(e.clusterID, recs[i].PubKey), e.manager
		case 2:
			data, from = e.reg.PackValidateNode(recs[i].PubKey), e.manager
		case 3:
			data = e.reg.PackSetNodeParams(recs[i].PubKey, paramsOf(changed[i]))
		case 4:
			data = e.reg.PackRemoveNode(recs[i].PubKey)
		}
		tx, err := sendTx(e, from, data)
		if err != nil {
			return nil, err
		}
		e.sim.Commit()
		r, err := e.client.TransactionReceipt(context.Background(), tx.Hash())
		if err != nil || r.Status != types.ReceiptStatusSuccessful || len(r.Logs) != 1 {
			return nil, fmt.Errorf("backfill tx %d: receipt %+v, err %v", k, r, err)
		}
		ev := Event{ChainID: 1337, Block: r.BlockNumber.Uint64(), BlockHash: r.BlockHash.Hex(), TxHash: tx.Hash().Hex(), LogIndex: r.Logs[0].Index}
		switch step {
		case 2:
			ev.Kind, ev.Node = NodeAdmitted, wantRecord(recs[i])
		case 3:
			prev := wantRecord(recs[i])
			ev.Kind, ev.Node, ev.Prev = NodeUpdated, wantRecord(changed[i]), &prev
		case 4:
			ev.Kind, ev.Node = NodeRemoved, wantRecord(changed[i])
		default:
			continue
		}
		c.want = append(c.want, ev)
	}
	for {
		n, err := e.client.BlockNumber(context.Background())
		if err != nil {
			return nil, fmt.Errorf("reading head: %w", err)
		}
		if n >= backfillBlocks {
			c.head = n
			break
		}
		e.sim.Commit()
	}
	return c, nil
}

// rangeBackend records the block ranges of FilterLogs calls and refuses
// ranges larger than limit (0: no limit) the way public providers do.
type rangeBackend struct {
	Backend
	limit uint64

	mu      sync.Mutex
	ok      [][2]uint64
	refused [][2]uint64
}

func (b *rangeBackend) FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error) {
	from, to := q.FromBlock.Uint64(), q.ToBlock.Uint64()
	b.mu.Lock()
	if b.limit > 0 && to-from+1 > b.limit {
		b.refused = append(b.refused, [2]uint64{from, to})
		b.mu.Unlock()
		return nil, fmt.Errorf("query exceeds max block range %d", b.limit)
	}
	b.ok = append(b.ok, [2]uint64{from, to})
	b.mu.Unlock()
	return b.Backend.FilterLogs(ctx, q)
}

func (b *rangeBackend) ranges() (ok, refused [][2]uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][2]uint64(nil), b.ok...), append([][2]uint64(nil), b.refused...)
}

// collect runs a watcher until it has sent n events (then cancels it) and
// returns them.
func collect(tb testing.TB, cfg Config, b Backend, n int) ([]Event, *recorder) {
	tb.Helper()
	rec := &recorder{}
	cfg.Metrics = rec
	w, err := NewEVMWatcher(cfg, b)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan Event) // unbuffered: the watcher sends no more than we take
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, out) }()
	var got []Event
	for len(got) < n {
		select {
		case ev := <-out:
			got = append(got, ev)
		case err := <-done:
			tb.Fatalf("watcher stopped after %d events: %v", len(got), err)
		case <-time.After(waitTimeout):
			tb.Fatalf("only %d of %d events (watcher at block %d)", len(got), n, rec.block.Load())
		}
	}
	cancel()
	if err := <-done; err != nil {
		tb.Fatalf("watcher Run: %v", err)
	}
	return got, rec
}

// Backfill of 5,000 blocks and 500 logs in bounded ranges, stopped half-way
// (in the middle of a range) and resumed from the checkpoint: every event
// exactly once, in order; ranges never exceed 2,000 blocks nor the target,
// and a provider's range error halves the range.
func TestBackfillRestartAndRanges(t *testing.T) {
	c := getBackfillChain(t)
	dir := t.TempDir()
	cfg := testConfig(c.env, dir, 0)
	half := len(c.want) / 2

	limited := &rangeBackend{Backend: c.env.client, limit: 700}
	first, _ := collect(t, cfg, limited, half)
	full := &rangeBackend{Backend: c.env.client}
	second, rec := collect(t, cfg, full, len(c.want)-half)

	got := append(first, second...)
	for i := range c.want {
		if !sameEvent(got[i], c.want[i]) {
			t.Fatalf("event %d:\n got  %+v\n want %+v", i, got[i], c.want[i])
		}
	}

	ok1, refused1 := limited.ranges()
	if len(refused1) < 2 || size(refused1[0]) != 2000 || size(refused1[1]) != 1000 || size(ok1[0]) != 500 {
		t.Fatalf("halving: refused %v, then ok %v; want 2000 and 1000 refused, then 500", refused1, ok1[:1])
	}
	for _, r := range ok1 {
		if size(r) > 700 {
			t.Fatalf("range %v above the provider's limit", r)
		}
	}
	ok2, refused2 := full.ranges()
	if len(refused2) != 0 {
		t.Fatalf("unexpected refusals %v", refused2)
	}
	if ok2[0][0] <= ok1[0][0] || ok2[0][0] > c.want[half].Block {
		t.Fatalf("second run starts at block %d: want a resume after the first run's checkpoint, at or before block %d", ok2[0][0], c.want[half].Block)
	}
	for i, r := range ok2 {
		if size(r) > 2000 || r[1] > c.head {
			t.Fatalf("range %v: more than 2,000 blocks or past the head %d", r, c.head)
		}
		if i > 0 && r[0] != ok2[i-1][1]+1 {
			t.Fatalf("ranges %v then %v are not contiguous", ok2[i-1], r)
		}
	}
	if last := ok2[len(ok2)-1]; last[1] != c.head {
		t.Fatalf("last range %v does not end at the head %d", last, c.head)
	}

	// From scratch without a provider limit: 2,000-block ranges, the last
	// one clamped to the head.
	scratch := &rangeBackend{Backend: c.env.client}
	all, _ := collect(t, testConfig(c.env, t.TempDir(), 0), scratch, len(c.want))
	for i := range c.want {
		if !sameEvent(all[i], c.want[i]) {
			t.Fatalf("from scratch, event %d:\n got  %+v\n want %+v", i, all[i], c.want[i])
		}
	}
	ok3, _ := scratch.ranges()
	want3 := [][2]uint64{{0, 1999}, {2000, 3999}, {4000, c.head}}
	if fmt.Sprint(ok3) != fmt.Sprint(want3) {
		t.Fatalf("ranges from scratch %v, want %v", ok3, want3)
	}

	// The second run's state is at the head: another run sends nothing.
	r4 := startWatcher(t, cfg, c.env.client)
	r4.waitBlock(t, c.head)
	r4.none(t)
	if n := r4.rec.events.Load(); n != 0 || rec.events.Load() != int64(len(c.want)-half) {
		t.Fatalf("events: %d after the end, %d in the second run", n, rec.events.Load())
	}
}

func size(r [2]uint64) uint64 { return r[1] - r[0] + 1 }

func sameEvent(a, b Event) bool {
	if (a.Prev == nil) != (b.Prev == nil) || (a.Prev != nil && *a.Prev != *b.Prev) {
		return false
	}
	a.Prev, b.Prev = nil, nil
	return a == b
}

var errInjected = errors.New("injected failure")
