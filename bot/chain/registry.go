package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"

	"github.com/ddc-gitops/ddc-gitops/bot/contract"
)

// registryPage is how many nodes one listNodes call reads.
const registryPage = 100

// MaxRegistryNodes bounds a registry read, so a hostile contract cannot keep
// the reader busy forever.
const MaxRegistryNodes = 100_000

// RegistryNode is a node as the registry holds it.
type RegistryNode struct {
	Record Record `json:"record"`
	// Provider is the account that created the node (0x + 40 hex, checksummed).
	Provider  string `json:"provider"`
	InCluster bool   `json:"inCluster"`
	Validated bool   `json:"validated"`
}

// Admitted reports whether the node is in its cluster and validated.
func (n RegistryNode) Admitted() bool { return n.InCluster && n.Validated }

// Snapshot is the whole registry at one block.
type Snapshot struct {
	ChainID   uint64         `json:"chainId"`
	Block     uint64         `json:"block"`
	BlockHash string         `json:"blockHash"`
	Nodes     []RegistryNode `json:"nodes"`
}

// Registry reads the whole registry at a block through the contract's view
// functions (nodeCount, listNodes), for a full sync. The node must still hold
// the state of that block (recent blocks on a full node; any on an archive
// node). Use ConfirmedBlock for the block the watcher considers confirmed.
// Safe to call while Run is active.
func (w *EVMWatcher) Registry(ctx context.Context, block uint64) (Snapshot, error) {
	b, err := w.backend(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	snap, err := readRegistry(ctx, b, w.cfg.Contract, block)
	if err != nil {
		return Snapshot{}, err
	}
	id, err := b.ChainID(ctx)
	if err != nil {
		return Snapshot{}, fmt.Errorf("reading chain id: %w", err)
	}
	snap.ChainID = id.Uint64()
	return snap, nil
}

// ConfirmedBlock is the newest block the watcher would process now: the head
// minus the confirmation depth, or the finalized block.
func (w *EVMWatcher) ConfirmedBlock(ctx context.Context) (uint64, error) {
	b, err := w.backend(ctx)
	if err != nil {
		return 0, err
	}
	n, ok, err := w.target(ctx, b)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, errors.New("no confirmed block yet")
	}
	return n, nil
}

// readRegistry pages through listNodes at one block. Calls are made at the
// block's hash when the backend supports it; otherwise at its number, and the
// hash is checked again at the end so a reorg in between is an error.
func readRegistry(ctx context.Context, b Backend, addr common.Address, block uint64) (Snapshot, error) {
	hash, found, err := hashAt(ctx, b, block)
	if err != nil {
		return Snapshot{}, fmt.Errorf("reading the registry: %w", err)
	}
	if !found {
		return Snapshot{}, fmt.Errorf("reading the registry: block %d does not exist", block)
	}
	reg := contract.NewNodeRegistry()
	call := func(data []byte) ([]byte, error) {
		msg := ethereum.CallMsg{To: &addr, Data: data}
		if hc, ok := b.(hashCaller); ok {
			return hc.CallContractAtHash(ctx, msg, hash)
		}
		return b.CallContract(ctx, msg, new(big.Int).SetUint64(block))
	}
	data, err := reg.TryPackNodeCount()
	if err != nil {
		return Snapshot{}, fmt.Errorf("reading the registry: packing nodeCount: %w", err)
	}
	raw, err := call(data)
	if err != nil {
		return Snapshot{}, fmt.Errorf("reading the registry at block %d: nodeCount: %w", block, err)
	}
	count, err := reg.UnpackNodeCount(raw)
	if err != nil {
		return Snapshot{}, fmt.Errorf("reading the registry at block %d: decoding nodeCount: %w", block, err)
	}
	if !count.IsInt64() || count.Int64() > MaxRegistryNodes {
		return Snapshot{}, fmt.Errorf("reading the registry at block %d: %s nodes is more than the %d supported", block, count, MaxRegistryNodes)
	}
	total := count.Int64()
	snap := Snapshot{Block: block, BlockHash: hash.Hex(), Nodes: make([]RegistryNode, 0, total)}
	for offset := int64(0); offset < total; {
		data, err := reg.TryPackListNodes(big.NewInt(offset), big.NewInt(registryPage))
		if err != nil {
			return Snapshot{}, fmt.Errorf("reading the registry: packing listNodes: %w", err)
		}
		raw, err := call(data)
		if err != nil {
			return Snapshot{}, fmt.Errorf("reading the registry at block %d: listNodes(%d): %w", block, offset, err)
		}
		page, err := unpackPage(reg, raw)
		if err != nil {
			return Snapshot{}, fmt.Errorf("reading the registry at block %d: decoding listNodes(%d): %w", block, offset, err)
		}
		if len(page) == 0 {
			break
		}
		for _, v := range page {
			snap.Nodes = append(snap.Nodes, RegistryNode{
				Record:    recordFrom(v.Record),
				Provider:  v.Provider.Hex(),
				InCluster: v.InCluster,
				Validated: v.Validated,
			})
		}
		offset += int64(len(page))
	}
	if _, ok := b.(hashCaller); !ok {
		again, found, err := hashAt(ctx, b, block)
		if err != nil {
			return Snapshot{}, fmt.Errorf("reading the registry: %w", err)
		}
		if !found || again != hash {
			return Snapshot{}, fmt.Errorf("reading the registry: block %d was reorganised during the read", block)
		}
	}
	return snap, nil
}

// unpackPage decodes listNodes output without panicking on malformed data.
func unpackPage(reg *contract.NodeRegistry, raw []byte) (page []contract.NodeRegistryNodeView, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed listNodes output: %v", r)
		}
	}()
	return reg.UnpackListNodes(raw)
}
