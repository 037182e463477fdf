package chain

import "context"

// EventKind says what happened to a node's admission.
type EventKind string

// Event kinds.
const (
	// NodeAdmitted: the node is now in its cluster and validated.
	NodeAdmitted EventKind = "NodeAdmitted"
	// NodeUpdated: an admitted node's record changed; Event.Prev holds the old one.
	NodeUpdated EventKind = "NodeUpdated"
	// NodeRemoved: an admitted node left its cluster or was deleted.
	NodeRemoved EventKind = "NodeRemoved"
)

// Record is a node record as the chain holds it, in the desired-state YAML
// encoding: PubKey and ProviderID are 0x + 64 lowercase hex, ClusterID 0x + 40,
// Mode full, storage, cache or dac ("mode(N)" for other numbers). Nothing in it
// is validated.
type Record struct {
	PubKey     string `json:"pubKey"`
	ProviderID string `json:"providerId"`
	ClusterID  string `json:"clusterId"`
	Host       string `json:"host"`
	Domain     string `json:"domain"`
	SSL        bool   `json:"ssl"`
	HTTPPort   uint16 `json:"httpPort"`
	GRPCPort   uint16 `json:"grpcPort"`
	P2PPort    uint16 `json:"p2pPort"`
	Mode       string `json:"mode"`
}

// Event is one change of a node's admission, at a confirmed block.
type Event struct {
	Kind EventKind `json:"kind"`
	// Node is the record after the change (for NodeRemoved: the record as it
	// was when the node was removed).
	Node Record `json:"node"`
	// Prev is the record before a NodeUpdated; nil for other kinds.
	Prev    *Record `json:"prev,omitempty"`
	ChainID uint64  `json:"chainId"`
	Block   uint64  `json:"block"`
	// BlockHash and TxHash are 0x-prefixed hex. TxHash is empty for events
	// synthesised from a registry snapshot (after a reorg deeper than the
	// journal, or at a snapshot start).
	BlockHash string `json:"blockHash"`
	TxHash    string `json:"txHash"`
	LogIndex  uint   `json:"logIndex"`
	// Removed marks an undo: a reorg removed the block of an event emitted
	// earlier; the event is repeated with Removed set. See Effective.
	Removed bool `json:"removed"`
}

// Effective is what an event asks the consumer to do, with undos turned
// around: an undone NodeAdmitted is a NodeRemoved of the same record, an
// undone NodeRemoved a NodeAdmitted, and an undone NodeUpdated a NodeUpdated
// back to Prev.
func (e Event) Effective() (EventKind, Record) {
	if !e.Removed {
		return e.Kind, e.Node
	}
	switch e.Kind {
	case NodeAdmitted:
		return NodeRemoved, e.Node
	case NodeRemoved:
		return NodeAdmitted, e.Node
	case NodeUpdated:
		if e.Prev != nil {
			return NodeUpdated, *e.Prev
		}
	}
	return e.Kind, e.Node
}

// Source emits node events until ctx is cancelled. Run returns nil when ctx is
// cancelled and an error only when it cannot go on.
type Source interface {
	Run(ctx context.Context, out chan<- Event) error
}

// Metrics receives the watcher's progress; the bot maps it to
// ddc_gitops_bot_last_block, ddc_gitops_bot_events_total{kind} and
// ddc_gitops_bot_chain_errors_total. Calls come from the Run goroutine.
type Metrics interface {
	// OnBlock reports the last block processed (the checkpoint).
	OnBlock(n uint64)
	// OnEvent reports an event sent; removed is true for undo events.
	OnEvent(kind EventKind, removed bool)
	// OnError reports an RPC error, a session restart or an undecodable log.
	OnError()
}

// TargetMetrics is implemented by Metrics that also want the newest block
// the watcher may process (the head minus the confirmation depth, or the
// finalized block), reported at every poll: the bot's lag is that minus
// the checkpoint.
type TargetMetrics interface {
	OnTarget(n uint64)
}

// MetricsFuncs adapts functions to Metrics; nil fields are skipped.
type MetricsFuncs struct {
	Block  func(n uint64)
	Target func(n uint64)
	Event  func(kind EventKind, removed bool)
	Error  func()
}

// OnBlock calls f.Block.
func (f MetricsFuncs) OnBlock(n uint64) {
	if f.Block != nil {
		f.Block(n)
	}
}

// OnTarget calls f.Target.
func (f MetricsFuncs) OnTarget(n uint64) {
	if f.Target != nil {
		f.Target(n)
	}
}

// OnEvent calls f.Event.
func (f MetricsFuncs) OnEvent(kind EventKind, removed bool) {
	if f.Event != nil {
		f.Event(kind, removed)
	}
}

// OnError calls f.Error.
func (f MetricsFuncs) OnError() {
	if f.Error != nil {
		f.Error()
	}
}
