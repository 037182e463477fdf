package chain

import (
	"context"
	"math/big"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// flakyBackend fails one call in failOneIn, at pseudo-random, and can add
// junk logs to FilterLogs results.
type flakyBackend struct {
	Backend
	failOneIn uint64
	mu        sync.Mutex
	rnd       *rand.Rand
	fails     atomic.Int64
	junk      func(q ethereum.FilterQuery) []types.Log
}

func (b *flakyBackend) fail() bool {
	if b.failOneIn == 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rnd == nil {
		b.rnd = rand.New(rand.NewPCG(1, 2))
	}
	if b.rnd.Uint64N(b.failOneIn) == 0 {
		b.fails.Add(1)
		return true
	}
	return false
}

func (b *flakyBackend) HeaderByNumber(ctx context.Context, n *big.Int) (*types.Header, error) {
	if b.fail() {
		return nil, errInjected
	}
	return b.Backend.HeaderByNumber(ctx, n)
}

func (b *flakyBackend) FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error) {
	if b.fail() {
		return nil, errInjected
	}
	logs, err := b.Backend.FilterLogs(ctx, q)
	if err != nil || b.junk == nil {
		return logs, err
	}
	return append(b.junk(q), logs...), nil
}

func (b *flakyBackend) ChainID(ctx context.Context) (*big.Int, error) {
	if b.fail() {
		return nil, errInjected
	}
	return b.Backend.ChainID(ctx)
}

// RPC errors end the session; the watcher backs off, retries and still sends
// every event exactly once.
func TestRetriesAfterErrors(t *testing.T) {
	e := newSimEnv(t)
	flaky := &flakyBackend{Backend: e.client, failOneIn: 5}
	r := startWatcher(t, testConfig(e, t.TempDir(), 0), flaky)
	var want []Event
	for i := 0; i < 5; i++ {
		rec := e.nodeRecord(i)
		e.do(t, e.provider, e.reg.PackCreateNode(rec))
		e.do(t, e.manager, e.reg.PackAddNodeToCluster(e.clusterID, rec.PubKey))
		n, h := e.do(t, e.manager, e.reg.PackValidateNode(rec.PubKey))
		want = append(want, Event{Kind: NodeAdmitted, Node: wantRecord(rec), Block: n, BlockHash: h.Hex()})
	}
	for _, w := range want {
		got := r.next(t)
		if got.Kind != w.Kind || got.Node != w.Node || got.Block != w.Block || got.BlockHash != w.BlockHash || got.Removed {
			t.Fatalf("got %+v, want %+v", got, w)
		}
	}
	r.waitBlock(t, e.head(t).Number.Uint64())
	r.none(t)
	if flaky.fails.Load() == 0 || r.rec.errors.Load() == 0 {
		t.Fatalf("%d injected failures, %d reported to the metrics", flaky.fails.Load(), r.rec.errors.Load())
	}
}

// Logs that do not decode, or come from another address, are skipped and
// counted; the real events around them still arrive.
func TestJunkLogsSkipped(t *testing.T) {
	e := newSimEnv(t)
	created := newDecoder().ids[0]
	flaky := &flakyBackend{Backend: e.client, junk: func(q ethereum.FilterQuery) []types.Log {
		n := q.FromBlock.Uint64()
		return []types.Log{
			{Address: e.addr, Topics: []common.Hash{created, {1}}, Data: []byte{1, 2, 3}, BlockNumber: n, TxHash: common.Hash{9}, Index: 900},
			{Address: e.addr, Topics: nil, BlockNumber: n, TxHash: common.Hash{9}, Index: 901},
			{Address: e.addr, Topics: []common.Hash{{0xee}}, BlockNumber: n, TxHash: common.Hash{9}, Index: 902},
			{Address: common.Address{1}, Topics: []common.Hash{created}, BlockNumber: n, TxHash: common.Hash{9}, Index: 903},
			{Address: e.addr, Topics: []common.Hash{created}, BlockNumber: n + 1_000_000, TxHash: common.Hash{9}, Index: 904},
		}
	}}
	r := startWatcher(t, testConfig(e, t.TempDir(), 0), flaky)
	rec := e.nodeRecord(1)
	e.do(t, e.provider, e.reg.PackCreateNode(rec))
	e.do(t, e.manager, e.reg.PackAddNodeToCluster(e.clusterID, rec.PubKey))
	n, h := e.do(t, e.manager, e.reg.PackValidateNode(rec.PubKey))
	checkEvent(t, r.next(t), NodeAdmitted, rec, n, h, false)
	if r.rec.errors.Load() == 0 {
		t.Fatalf("junk logs were not counted as errors")
	}
}

// With a long poll interval, the new-head subscription alone wakes the
// watcher up.
func TestHeadSubscriptionWakesUp(t *testing.T) {
	e := newSimEnv(t)
	cfg := testConfig(e, t.TempDir(), 2)
	cfg.PollInterval = time.Hour
	r := startWatcher(t, cfg, e.client)
	rec := e.nodeRecord(1)
	e.do(t, e.provider, e.reg.PackCreateNode(rec))
	e.do(t, e.manager, e.reg.PackAddNodeToCluster(e.clusterID, rec.PubKey))
	n, h := e.do(t, e.manager, e.reg.PackValidateNode(rec.PubKey))
	e.commit(2)
	checkEvent(t, r.next(t), NodeAdmitted, rec, n, h, false)
}
