package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/ddc-gitops/ddc-gitops/bot/chain"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/forge"
)

// ErrNoRegistry is returned by Sync and Nodes when the bot has no registry reader.
var ErrNoRegistry = errors.New("the bot has no chain registry reader")

// SyncReport is what a full sync did.
type SyncReport struct {
	ChainID   uint64 `json:"chainId"`
	Block     uint64 `json:"block"`
	BlockHash string `json:"blockHash"`
	// Revision is the main branch head the sync compared with.
	Revision string `json:"revision"`
	// Results has one entry per node looked at, sorted by pubKey.
	Results []NodeResult `json:"results"`
	// Changed counts proposals opened, updated or closed.
	Changed int `json:"changed"`
	// Failed counts nodes that hit a transient error (retried later).
	Failed int `json:"failed"`
}

// Sync compares the whole registry at the confirmed block with the main
// branch and makes every proposal match: admitted nodes missing or
// outdated on main are proposed, nodes main has but the registry does not
// admit are proposed for removal (nodes the registry does not know at all
// only in PruneClusters), stale proposals are closed. It is idempotent: a
// second run with nothing changed does nothing.
func (b *Bot) Sync(ctx context.Context) (*SyncReport, error) {
	if b.registry == nil {
		return nil, ErrNoRegistry
	}
	block, err := b.registry.ConfirmedBlock(ctx)
	if err != nil {
		return nil, fmt.Errorf("sync: finding the confirmed block: %w", err)
	}
	snap, err := b.registry.Registry(ctx, block)
	if err != nil {
		return nil, fmt.Errorf("sync: reading the registry at block %d: %w", block, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	head, err := b.repo.Head(ctx)
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	idx, err := indexNodes(head.FS)
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	rep := &SyncReport{ChainID: snap.ChainID, Block: snap.Block, BlockHash: snap.BlockHash, Revision: head.Revision.Hash}
	snapProv := Provenance{Source: SourceSync, ChainID: snap.ChainID, Block: snap.Block, BlockHash: snap.BlockHash}

	// What each node should be: the registry's admitted nodes, and absence
	// for the rest the bot has a say on.
	type target struct {
		want *chain.Record
		prov Provenance
	}
	targets := map[string]target{}
	inRegistry := map[string]bool{}
	for _, n := range snap.Nodes {
		key := n.Record.PubKey
		inRegistry[key] = true
		prov := snapProv
		b.st.read(func(d *stateData) {
			if p, ok := d.Provenance[key]; ok && p.ChainID == snap.ChainID && p.Block <= snap.Block {
				prov = p
			}
		})
		if n.Admitted() {
			rec := n.Record
			targets[key] = target{&rec, prov}
		} else if idx.byKey[key] != nil || b.knownBranch(UpsertBranch(key)) {
			targets[key] = target{nil, prov}
		}
	}
	for key, in := range idx.byKey {
		if !inRegistry[key] && slices.Contains(b.cfg.PruneClusters, in.Node.ClusterID) {
			targets[key] = target{nil, snapProv}
		}
	}
	b.st.read(func(d *stateData) {
		for branch := range d.Branches {
			key, ok := pubKeyOfBranch(branch)
			if _, seen := targets[key]; ok && !seen && !inRegistry[key] {
				targets[key] = target{nil, snapProv}
			}
		}
	})

	for _, key := range sortedKeys(targets) {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		t := targets[key]
		if b.settled(idx, key, t.want) {
			in := idx.byKey[key]
			rep.Results = append(rep.Results, NodeResult{PubKey: key, Name: in.Node.Name, File: in.Path, Action: ResultNone,
				Detail: "the main branch already has the node's record"})
			continue
		}
		res, err := b.reconcile(ctx, key, t.want, t.prov, false)
		b.finish(ctx, b.log.With("pubkey", key, "sync_block", snap.Block), key, t.want, t.prov, &res, err, false)
		switch res.Action {
		case ResultAdd, ResultUpdate, ResultRemove:
			rep.Changed++
		case ResultFailed:
			rep.Failed++
		default:
			if len(res.Closed) > 0 {
				rep.Changed++
			}
		}
		rep.Results = append(rep.Results, res)
	}
	return rep, nil
}

// settled reports whether main already has want for key and the bot has no
// proposal branch for it: nothing for a sync to do or close.
func (b *Bot) settled(idx *nodeIndex, key string, want *chain.Record) bool {
	in := idx.byKey[key]
	if want == nil || in == nil || !sameChainFields(&in.Node, *want) || len(CheckRecord(*want)) > 0 {
		return false
	}
	return !b.knownBranch(UpsertBranch(key)) && !b.knownBranch(RemoveBranch(key))
}

// pubKeyOfBranch is the pubKey a proposal branch is for.
func pubKeyOfBranch(branch string) (string, bool) {
	if len(branch) < len(BranchPrefix)+64 || branch[:len(BranchPrefix)] != BranchPrefix {
		return "", false
	}
	key := "0x" + branch[len(BranchPrefix):len(BranchPrefix)+64]
	return key, desired.ValidPubKey(key)
}

// Git statuses of a node (NodeStatus.Status).
const (
	// StatusAdmitted: the main branch has the node's file with the chain's record.
	StatusAdmitted = "admitted"
	// StatusPending: an open proposal adds, updates or removes the node.
	StatusPending = "pending"
	// StatusNotProposed: main differs from the chain and no proposal is open.
	StatusNotProposed = "not_proposed"
	// StatusInvalid: the record (or the fleet with it) is invalid; see Reasons.
	StatusInvalid = "invalid"
	// StatusNotAdmitted: the registry holds the node but does not admit it,
	// and main has no file for it.
	StatusNotAdmitted = "not_admitted"
)

// NodeStatus is one registry node and where it stands in git.
type NodeStatus struct {
	PubKey string       `json:"pubKey"`
	Record chain.Record `json:"record"`
	// Provider is the account that created the node.
	Provider  string `json:"provider"`
	InCluster bool   `json:"inCluster"`
	Validated bool   `json:"validated"`
	// ChainAdmitted: in its cluster and validated.
	ChainAdmitted bool   `json:"chainAdmitted"`
	Status        string `json:"status"`
	// Name and File locate the node's file on main, or the proposed one.
	Name string `json:"name,omitempty"`
	File string `json:"file,omitempty"`
	// InSync: main's file carries the registry's record.
	InSync      bool               `json:"inSync"`
	PullRequest *forge.PullRequest `json:"pullRequest,omitempty"`
	Reasons     []string           `json:"reasons,omitempty"`
}

// GitOnlyNode is a node file on main whose pubKey the registry does not hold.
type GitOnlyNode struct {
	PubKey    string `json:"pubKey"`
	Name      string `json:"name"`
	File      string `json:"file"`
	ClusterID string `json:"clusterId"`
	// Managed: its cluster is in PruneClusters, so a sync proposes its removal.
	Managed bool `json:"managed"`
}

// NodesReport is the registry as the chain sees it, with each node's status in git.
type NodesReport struct {
	ChainID   uint64        `json:"chainId"`
	Block     uint64        `json:"block"`
	BlockHash string        `json:"blockHash"`
	Revision  string        `json:"revision"`
	Nodes     []NodeStatus  `json:"nodes"`
	GitOnly   []GitOnlyNode `json:"gitOnly"`
}

// Nodes reads the registry at the confirmed block and tells, for each node,
// whether main admits it, a proposal is open, nothing is proposed yet, or
// its record is invalid. It changes nothing. The forge is asked only about
// nodes whose file on main differs from the chain.
func (b *Bot) Nodes(ctx context.Context) (*NodesReport, error) {
	if b.registry == nil {
		return nil, ErrNoRegistry
	}
	block, err := b.registry.ConfirmedBlock(ctx)
	if err != nil {
		return nil, fmt.Errorf("finding the confirmed block: %w", err)
	}
	snap, err := b.registry.Registry(ctx, block)
	if err != nil {
		return nil, fmt.Errorf("reading the registry at block %d: %w", block, err)
	}
	head, err := b.repo.Head(ctx)
	if err != nil {
		return nil, err
	}
	idx, err := indexNodes(head.FS)
	if err != nil {
		return nil, err
	}
	rep := &NodesReport{ChainID: snap.ChainID, Block: snap.Block, BlockHash: snap.BlockHash, Revision: head.Revision.Hash,
		Nodes: make([]NodeStatus, 0, len(snap.Nodes)), GitOnly: []GitOnlyNode{}}
	var refused map[string]string
	b.st.read(func(d *stateData) {
		refused = make(map[string]string, len(d.Refused))
		for k, v := range d.Refused {
			refused[k] = v
		}
	})
	inRegistry := map[string]bool{}
	for _, n := range snap.Nodes {
		key := n.Record.PubKey
		inRegistry[key] = true
		st := NodeStatus{PubKey: key, Record: n.Record, Provider: n.Provider, InCluster: n.InCluster, Validated: n.Validated, ChainAdmitted: n.Admitted()}
		ex := idx.byKey[key]
		if ex != nil {
			st.Name, st.File = ex.Node.Name, ex.Path
			st.InSync = sameChainFields(&ex.Node, n.Record)
		}
		if err := b.nodeStatus(ctx, &st, ex, refused[key]); err != nil {
			return nil, err
		}
		rep.Nodes = append(rep.Nodes, st)
	}
	sort.Slice(rep.Nodes, func(i, j int) bool { return rep.Nodes[i].PubKey < rep.Nodes[j].PubKey })
	for _, key := range sortedKeys(idx.byKey) {
		if in := idx.byKey[key]; !inRegistry[key] {
			rep.GitOnly = append(rep.GitOnly, GitOnlyNode{PubKey: key, Name: in.Node.Name, File: in.Path, ClusterID: in.Node.ClusterID,
				Managed: slices.Contains(b.cfg.PruneClusters, in.Node.ClusterID)})
		}
	}
	return rep, nil
}

// nodeStatus fills st.Status (and PullRequest, Reasons).
func (b *Bot) nodeStatus(ctx context.Context, st *NodeStatus, ex *indexedNode, refused string) error {
	if !st.ChainAdmitted {
		if ex == nil {
			st.Status = StatusNotAdmitted
			return nil
		}
		return b.proposalStatus(ctx, st, RemoveBranch(st.PubKey))
	}
	if probs := CheckRecord(st.Record); len(probs) > 0 {
		st.Status, st.Reasons = StatusInvalid, problemMessages(probs)
		return nil
	}
	if ex != nil && st.InSync {
		st.Status = StatusAdmitted
		return nil
	}
	if err := b.proposalStatus(ctx, st, UpsertBranch(st.PubKey)); err != nil {
		return err
	}
	if st.Status == StatusNotProposed && refused != "" {
		st.Status, st.Reasons = StatusInvalid, []string{refused}
	}
	return nil
}

// proposalStatus sets pending when branch has an open pull request,
// not_proposed otherwise.
func (b *Bot) proposalStatus(ctx context.Context, st *NodeStatus, branch string) error {
	pr, err := b.forge.FindPullRequest(ctx, branch)
	if err != nil {
		return fmt.Errorf("looking up the proposal of %s: %w", branch, err)
	}
	st.Status = StatusNotProposed
	if pr != nil && pr.State == forge.StateOpen {
		st.Status, st.PullRequest = StatusPending, pr
	}
	return nil
}
