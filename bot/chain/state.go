package chain

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/ddc-gitops/ddc-gitops/reconciler/atomicfile"
)

const stateVersion = 1

// nodeState is what the watcher knows about one node.
type nodeState struct {
	Record    Record `json:"record"`
	InCluster bool   `json:"inCluster"`
	Validated bool   `json:"validated"`
}

func (s *nodeState) admitted() bool { return s != nil && s.InCluster && s.Validated }

// blockRef names a block.
type blockRef struct {
	Number uint64 `json:"number"`
	Hash   string `json:"hash"`
}

// journalLog is one applied log: enough to skip it when seen again and to
// undo it after a reorg.
type journalLog struct {
	TxHash string `json:"txHash"`
	Index  uint   `json:"index"`
	PubKey string `json:"pubKey"`
	// Prev is the node's state before the log (nil: unknown node).
	Prev *nodeState `json:"prev,omitempty"`
	// Event is what was emitted for the log, if anything.
	Event *Event `json:"event,omitempty"`
}

// journalBlock is a processed block within the reorg window: a block with
// applied logs, or the end of a processed range.
type journalBlock struct {
	Number uint64       `json:"number"`
	Hash   string       `json:"hash"`
	Logs   []journalLog `json:"logs,omitempty"`
}

// state is the watcher's persistent state: checkpoint, nodes, journal.
type state struct {
	Version  int    `json:"version"`
	ChainID  uint64 `json:"chainId"`
	Contract string `json:"contract"`
	// Checkpoint is the last block whose logs are all applied (nil: none yet).
	Checkpoint *blockRef `json:"checkpoint,omitempty"`
	// Pruned records that journal blocks were dropped, so a reorg that
	// matches no journal block cannot be undone from the journal.
	Pruned bool                  `json:"pruned"`
	Nodes  map[string]*nodeState `json:"nodes"`
	// Journal is sorted by block number, ascending.
	Journal []*journalBlock `json:"journal"`

	seen map[string]bool // keys of journal logs
}

func logKey(tx string, index uint, blockHash string) string {
	return fmt.Sprintf("%s/%d/%s", tx, index, blockHash)
}

func newState(chainID uint64, contract common.Address) *state {
	return &state{
		Version:  stateVersion,
		ChainID:  chainID,
		Contract: strings.ToLower(contract.Hex()),
		Nodes:    make(map[string]*nodeState),
		seen:     make(map[string]bool),
	}
}

// stateFileName is the checkpoint file of a contract inside the state dir.
func stateFileName(dir string, contract common.Address) string {
	return filepath.Join(dir, "evm-watcher-"+strings.ToLower(contract.Hex())+".json")
}

// loadState reads the state file, or returns a fresh state when there is none.
// A file for another chain or contract is an error.
func loadState(path string, chainID uint64, contract common.Address) (*state, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newState(chainID, contract), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading chain watcher state %s: %w", path, err)
	}
	st := &state{}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("parsing chain watcher state %s: %w", path, err)
	}
	switch {
	case st.Version != stateVersion:
		return nil, fmt.Errorf("chain watcher state %s: version %d, want %d", path, st.Version, stateVersion)
	case st.ChainID != chainID:
		return nil, fmt.Errorf("chain watcher state %s is for chain %d, the node is on chain %d", path, st.ChainID, chainID)
	case st.Contract != strings.ToLower(contract.Hex()):
		return nil, fmt.Errorf("chain watcher state %s is for contract %s, not %s", path, st.Contract, contract.Hex())
	}
	if st.Nodes == nil {
		st.Nodes = make(map[string]*nodeState)
	}
	st.seen = make(map[string]bool)
	for i, b := range st.Journal {
		if b == nil || (i > 0 && st.Journal[i-1].Number >= b.Number) {
			return nil, fmt.Errorf("chain watcher state %s: journal is not sorted by block", path)
		}
		for _, l := range b.Logs {
			st.seen[logKey(l.TxHash, l.Index, b.Hash)] = true
		}
	}
	return st, nil
}

// save writes the state atomically (unchanged bytes are not rewritten).
func (s *state) save(path string) error {
	data, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return fmt.Errorf("encoding chain watcher state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("creating chain watcher state dir: %w", err)
	}
	if _, err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("saving chain watcher state: %w", err)
	}
	return nil
}

// next is the first block not fully processed.
func (s *state) next(start uint64) uint64 {
	if s.Checkpoint == nil {
		return start
	}
	return s.Checkpoint.Number + 1
}

// top is the newest journal block, or nil.
func (s *state) top() *journalBlock {
	if len(s.Journal) == 0 {
		return nil
	}
	return s.Journal[len(s.Journal)-1]
}

// block returns the journal entry for a block, adding it when missing. ok is
// false when the journal holds that number with another hash.
func (s *state) block(number uint64, hash string) (b *journalBlock, ok bool) {
	if t := s.top(); t != nil && t.Number >= number {
		for i := len(s.Journal) - 1; i >= 0; i-- {
			if e := s.Journal[i]; e.Number == number {
				return e, e.Hash == hash
			} else if e.Number < number {
				break
			}
		}
		if t.Number > number {
			return nil, false // would break the order: an older block seen after a newer one
		}
	}
	b = &journalBlock{Number: number, Hash: hash}
	s.Journal = append(s.Journal, b)
	return b, true
}

// transition applies a change to the node's state and says which event, if
// any, it means for the node's admission.
func transition(prev *nodeState, c change) (kind EventKind, emit bool) {
	was := prev.admitted()
	var is bool
	if !c.deleted {
		is = c.state.admitted()
	}
	switch {
	case !was && is:
		return NodeAdmitted, true
	case was && !is:
		return NodeRemoved, true
	case was && is && prev.Record != c.state.Record:
		return NodeUpdated, true
	}
	return "", false
}

// apply sets the node's state after a change.
func (s *state) apply(c change) {
	if c.deleted {
		delete(s.Nodes, c.pubKey)
		return
	}
	st := c.state
	s.Nodes[c.pubKey] = &st
}

// restore puts back a node's state from before a journal log.
func (s *state) restore(l journalLog) {
	if l.Prev == nil {
		delete(s.Nodes, l.PubKey)
		return
	}
	p := *l.Prev
	s.Nodes[l.PubKey] = &p
}

// prune drops journal blocks older than window blocks below the checkpoint,
// always keeping the checkpoint's own entry.
func (s *state) prune(window uint64) {
	if s.Checkpoint == nil || s.Checkpoint.Number < window {
		return
	}
	floor := s.Checkpoint.Number - window
	keep := 0
	for keep < len(s.Journal) && s.Journal[keep].Number <= floor && s.Journal[keep].Number < s.Checkpoint.Number {
		for _, l := range s.Journal[keep].Logs {
			delete(s.seen, logKey(l.TxHash, l.Index, s.Journal[keep].Hash))
		}
		keep++
	}
	if keep > 0 {
		s.Journal = append([]*journalBlock(nil), s.Journal[keep:]...)
		s.Pruned = true
	}
}

func copyState(n *nodeState) *nodeState {
	if n == nil {
		return nil
	}
	c := *n
	return &c
}
