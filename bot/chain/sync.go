package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"
)

// errChainMoved means the chain changed under a range query: drop the range
// and start the poll over from the reorg check.
var errChainMoved = errors.New("chain moved during the query")

// errRangeTooLarge means the node refused the range: halve it.
var errRangeTooLarge = errors.New("log range refused as too large")

// maxRestarts bounds how often one poll starts over after errChainMoved.
const maxRestarts = 5

// poll processes every block up to the current target.
func (w *EVMWatcher) poll(ctx context.Context, b Backend, out chan<- Event) error {
	for restart := 0; ; restart++ {
		err := w.pollOnce(ctx, b, out)
		if !errors.Is(err, errChainMoved) {
			return err
		}
		if restart == maxRestarts {
			w.cfg.Logger.Warn("chain watcher: chain keeps moving under the queries; waiting for the next wake-up")
			return nil
		}
	}
}

func (w *EVMWatcher) pollOnce(ctx context.Context, b Backend, out chan<- Event) error {
	target, ok, err := w.target(ctx, b)
	if err != nil || !ok {
		return err
	}
	if t := w.st.top(); t != nil && t.Number > target {
		// A lagging node, or a fork that is still shorter than our chain:
		// wait until the canonical chain reaches our journal again.
		w.cfg.Logger.Debug("chain watcher: target below the journal; waiting", "target", target, "journal_top", t.Number)
		return nil
	}
	if w.st.Checkpoint == nil && len(w.st.Journal) == 0 && w.cfg.SnapshotStart {
		return w.resync(ctx, b, out, target, "snapshot start")
	}
	if err := w.checkReorg(ctx, b, out, target); err != nil {
		return err
	}
	for next := w.st.next(w.cfg.StartBlock); next <= target; next = w.st.next(w.cfg.StartBlock) {
		to := min(next+w.rangeSize-1, target)
		err := w.processRange(ctx, b, out, next, to)
		if errors.Is(err, errRangeTooLarge) {
			if to == next {
				return fmt.Errorf("reading logs of block %d: the node refuses even one block: %w", next, err)
			}
			w.rangeSize = max(1, (to-next+1)/2)
			w.cfg.Logger.Info("chain watcher: log range refused; halving", "from", next, "to", to, "new_size", w.rangeSize)
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// target is the newest block the watcher may process; ok is false when there
// is none yet.
func (w *EVMWatcher) target(ctx context.Context, b Backend) (n uint64, ok bool, err error) {
	n, ok, err = w.readTarget(ctx, b)
	if tm, isTM := w.cfg.Metrics.(TargetMetrics); isTM && ok && err == nil {
		tm.OnTarget(n)
	}
	return n, ok, err
}

func (w *EVMWatcher) readTarget(ctx context.Context, b Backend) (n uint64, ok bool, err error) {
	if w.cfg.Finalized {
		h, err := b.HeaderByNumber(ctx, big.NewInt(int64(rpc.FinalizedBlockNumber)))
		if errors.Is(err, ethereum.NotFound) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, fmt.Errorf("reading the finalized block: %w", err)
		}
		if h == nil || h.Number == nil || !h.Number.IsUint64() {
			return 0, false, errors.New("reading the finalized block: malformed header")
		}
		return h.Number.Uint64(), true, nil
	}
	h, err := b.HeaderByNumber(ctx, nil)
	if err != nil {
		return 0, false, fmt.Errorf("reading the head block: %w", err)
	}
	if h == nil || h.Number == nil || !h.Number.IsUint64() {
		return 0, false, errors.New("reading the head block: malformed header")
	}
	head := h.Number.Uint64()
	if head < w.cfg.Confirmations {
		return 0, false, nil
	}
	return head - w.cfg.Confirmations, true, nil
}

// hashAt is the canonical hash at a height; found is false above the head.
func hashAt(ctx context.Context, b Backend, n uint64) (hash common.Hash, found bool, err error) {
	h, err := b.HeaderByNumber(ctx, new(big.Int).SetUint64(n))
	if errors.Is(err, ethereum.NotFound) {
		return common.Hash{}, false, nil
	}
	if err != nil {
		return common.Hash{}, false, fmt.Errorf("reading block %d: %w", n, err)
	}
	if h == nil {
		return common.Hash{}, false, nil
	}
	return h.Hash(), true, nil
}

// checkReorg compares the journal with the canonical chain and undoes the
// blocks that left it.
func (w *EVMWatcher) checkReorg(ctx context.Context, b Backend, out chan<- Event, target uint64) error {
	j := w.st.Journal
	for i := len(j) - 1; i >= 0; i-- {
		h, found, err := hashAt(ctx, b, j[i].Number)
		if err != nil {
			return err
		}
		if found && h.Hex() == j[i].Hash {
			if i == len(j)-1 {
				return nil
			}
			return w.rewind(ctx, out, &blockRef{Number: j[i].Number, Hash: j[i].Hash})
		}
	}
	if len(j) == 0 {
		return nil
	}
	if !w.st.Pruned {
		// Everything since the start block is in the journal: undo all of it.
		return w.rewind(ctx, out, nil)
	}
	return w.resync(ctx, b, out, target, "reorg deeper than the journal")
}

// rewind undoes every journal log above anc (nil: all of them), newest first,
// sending each emitted event again with Removed set.
func (w *EVMWatcher) rewind(ctx context.Context, out chan<- Event, anc *blockRef) error {
	from := w.st.top()
	w.cfg.Logger.Warn("chain watcher: reorg; undoing blocks", "from", from.Number, "to_ancestor", anc)
	// Checkpoint first: if we stop half-way, the journal still holds the rest,
	// whose hashes mismatch, and the next run goes on undoing.
	w.st.Checkpoint = anc
	for len(w.st.Journal) > 0 {
		blk := w.st.top()
		if anc != nil && blk.Number <= anc.Number {
			break
		}
		for len(blk.Logs) > 0 {
			l := blk.Logs[len(blk.Logs)-1]
			if l.Event != nil {
				undo := *l.Event
				undo.Removed = true
				if err := send(ctx, out, undo); err != nil {
					return err
				}
				w.cfg.Metrics.OnEvent(undo.Kind, true)
			}
			w.st.restore(l)
			delete(w.st.seen, logKey(l.TxHash, l.Index, blk.Hash))
			blk.Logs = blk.Logs[:len(blk.Logs)-1]
		}
		w.st.Journal = w.st.Journal[:len(w.st.Journal)-1]
	}
	return w.st.save(w.statePath())
}

func send(ctx context.Context, out chan<- Event, e Event) error {
	select {
	case out <- e:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// processRange applies the logs of blocks from..to and moves the checkpoint to to.
func (w *EVMWatcher) processRange(ctx context.Context, b Backend, out chan<- Event, from, to uint64) error {
	before, found, err := hashAt(ctx, b, to)
	if err != nil {
		return err
	}
	if !found {
		return errChainMoved
	}
	logs, err := b.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(from),
		ToBlock:   new(big.Int).SetUint64(to),
		Addresses: []common.Address{w.cfg.Contract},
		Topics:    [][]common.Hash{w.dec.ids},
	})
	if err != nil {
		if w.cfg.IsRangeError(err) {
			return fmt.Errorf("%w: blocks %d-%d: %v", errRangeTooLarge, from, to, err)
		}
		return fmt.Errorf("reading logs of blocks %d-%d: %w", from, to, err)
	}
	after, found, err := hashAt(ctx, b, to)
	if err != nil {
		return err
	}
	if !found || after != before {
		return errChainMoved
	}
	if cp := w.st.Checkpoint; cp != nil {
		h, found, err := hashAt(ctx, b, cp.Number)
		if err != nil {
			return err
		}
		if !found || h.Hex() != cp.Hash {
			return errChainMoved
		}
	}
	sort.SliceStable(logs, func(i, j int) bool {
		if logs[i].BlockNumber != logs[j].BlockNumber {
			return logs[i].BlockNumber < logs[j].BlockNumber
		}
		return logs[i].Index < logs[j].Index
	})
	for i := range logs {
		l := &logs[i]
		if l.Removed {
			w.cfg.Logger.Warn("chain watcher: the node returned a removed log for confirmed blocks; starting over",
				"block", l.BlockNumber, "tx", l.TxHash.Hex())
			return errChainMoved
		}
		if l.Address != w.cfg.Contract || l.BlockNumber < from || l.BlockNumber > to {
			w.cfg.Metrics.OnError()
			w.cfg.Logger.Warn("chain watcher: skipping a log outside the query",
				"address", l.Address.Hex(), "block", l.BlockNumber, "from", from, "to", to)
			continue
		}
		if l.BlockNumber == to && l.BlockHash != after {
			return errChainMoved
		}
		if err := w.applyLog(ctx, out, l); err != nil {
			return err
		}
	}
	if blk, ok := w.st.block(to, after.Hex()); !ok || blk == nil {
		return errChainMoved
	}
	w.st.Checkpoint = &blockRef{Number: to, Hash: after.Hex()}
	w.st.prune(w.cfg.ReorgWindow)
	if err := w.st.save(w.statePath()); err != nil {
		return err
	}
	w.cfg.Metrics.OnBlock(to)
	return nil
}

// applyLog normalises one log: it sends the event it means (if any), then
// updates the node's state and the journal.
func (w *EVMWatcher) applyLog(ctx context.Context, out chan<- Event, l *types.Log) error {
	blockHash := l.BlockHash.Hex()
	key := logKey(l.TxHash.Hex(), l.Index, blockHash)
	if w.st.seen[key] {
		return nil
	}
	c, err := w.dec.decode(l)
	if err != nil {
		w.cfg.Metrics.OnError()
		w.cfg.Logger.Warn("chain watcher: skipping an undecodable log", "err", err, "block", l.BlockNumber)
		return nil
	}
	blk, ok := w.st.block(l.BlockNumber, blockHash)
	if !ok || blk == nil {
		return errChainMoved
	}
	prev := w.st.Nodes[c.pubKey]
	jl := journalLog{TxHash: l.TxHash.Hex(), Index: l.Index, PubKey: c.pubKey, Prev: copyState(prev)}
	if kind, emit := transition(prev, c); emit {
		ev := Event{
			Kind:      kind,
			Node:      c.state.Record,
			ChainID:   w.chainID,
			Block:     l.BlockNumber,
			BlockHash: blockHash,
			TxHash:    l.TxHash.Hex(),
			LogIndex:  l.Index,
		}
		if kind == NodeUpdated {
			p := prev.Record
			ev.Prev = &p
		}
		if err := send(ctx, out, ev); err != nil {
			return err
		}
		w.cfg.Metrics.OnEvent(kind, false)
		jl.Event = &ev
	}
	w.st.apply(c)
	blk.Logs = append(blk.Logs, jl)
	w.st.seen[key] = true
	return nil
}

// resync replaces the watcher's state with the registry read at target and
// emits the difference as events with an empty TxHash.
func (w *EVMWatcher) resync(ctx context.Context, b Backend, out chan<- Event, target uint64, why string) error {
	snap, err := readRegistry(ctx, b, w.cfg.Contract, target)
	if err != nil {
		return fmt.Errorf("resync (%s): %w", why, err)
	}
	w.cfg.Logger.Warn("chain watcher: resyncing from a registry snapshot", "reason", why, "block", target, "nodes", len(snap.Nodes))
	next := make(map[string]*nodeState, len(snap.Nodes))
	for _, n := range snap.Nodes {
		next[n.Record.PubKey] = &nodeState{Record: n.Record, InCluster: n.InCluster, Validated: n.Validated}
	}
	keys := make([]string, 0, len(next)+len(w.st.Nodes))
	for k := range next {
		keys = append(keys, k)
	}
	for k := range w.st.Nodes {
		if next[k] == nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		prev, cur := w.st.Nodes[k], next[k]
		c := change{pubKey: k, deleted: cur == nil}
		if cur != nil {
			c.state = *cur
		}
		if kind, emit := transition(prev, c); emit {
			ev := Event{Kind: kind, Node: c.state.Record, ChainID: w.chainID, Block: target, BlockHash: snap.BlockHash}
			if c.deleted {
				ev.Node = prev.Record
			}
			if kind == NodeUpdated {
				p := prev.Record
				ev.Prev = &p
			}
			if err := send(ctx, out, ev); err != nil {
				return err
			}
			w.cfg.Metrics.OnEvent(kind, false)
		}
		w.st.apply(c)
	}
	w.st.Nodes = next
	w.st.Journal = []*journalBlock{{Number: target, Hash: snap.BlockHash}}
	w.st.seen = make(map[string]bool)
	w.st.Checkpoint = &blockRef{Number: target, Hash: snap.BlockHash}
	w.st.Pruned = true
	if err := w.st.save(w.statePath()); err != nil {
		return err
	}
	w.cfg.Metrics.OnBlock(target)
	return nil
}
