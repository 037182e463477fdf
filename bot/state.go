package bot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/ddc-gitops/ddc-gitops/bot/chain"
	"github.com/ddc-gitops/ddc-gitops/reconciler/atomicfile"
)

// Provenance says which chain fact a proposal comes from.
type Provenance struct {
	// Source is "event" (a watcher event) or "sync" (a full registry read).
	Source  string `json:"source"`
	Kind    string `json:"kind,omitempty"`
	Removed bool   `json:"removed,omitempty"`
	ChainID uint64 `json:"chainId"`
	Block   uint64 `json:"block"`
	// BlockHash and TxHash are 0x-prefixed hex; TxHash is empty for a
	// registry read.
	BlockHash string `json:"blockHash,omitempty"`
	TxHash    string `json:"txHash,omitempty"`
	LogIndex  uint   `json:"logIndex"`
}

// Provenance sources.
const (
	SourceEvent = "event"
	SourceSync  = "sync"
)

func provenanceOf(e chain.Event) Provenance {
	return Provenance{Source: SourceEvent, Kind: string(e.Kind), Removed: e.Removed, ChainID: e.ChainID,
		Block: e.Block, BlockHash: e.BlockHash, TxHash: e.TxHash, LogIndex: e.LogIndex}
}

// trailers are the commit trailers of a proposal.
func (p Provenance) trailers(pubKey string) [][2]string {
	t := [][2]string{{"Chain-Id", strconv.FormatUint(p.ChainID, 10)}, {"Block", strconv.FormatUint(p.Block, 10)}}
	if p.BlockHash != "" {
		t = append(t, [2]string{"Block-Hash", p.BlockHash})
	}
	if p.TxHash != "" {
		t = append(t, [2]string{"Tx", p.TxHash}, [2]string{"Log-Index", strconv.FormatUint(uint64(p.LogIndex), 10)})
	}
	ev := p.Kind
	if p.Source == SourceSync {
		ev = "registry-sync"
	} else if p.Removed {
		ev += " (reorg undo)"
	}
	if ev != "" {
		t = append(t, [2]string{"Event", ev})
	}
	return append(t, [2]string{"Node-PubKey", pubKey})
}

// pushedBranch is a proposal commit the bot pushed.
type pushedBranch struct {
	Head        string `json:"head"`
	Base        string `json:"base"`
	Fingerprint string `json:"fingerprint"`
}

// pendingWork is a node whose proposal failed for a transient reason and
// is retried.
type pendingWork struct {
	// Want is the record the node should have; nil: it should be absent.
	Want      *chain.Record `json:"want"`
	Prov      Provenance    `json:"provenance"`
	Attempts  int           `json:"attempts"`
	NotBefore time.Time     `json:"notBefore"`
	LastError string        `json:"lastError"`
}

// stateData is bot-state.json.
type stateData struct {
	// Branches: proposal branch -> the bot's last push to it.
	Branches map[string]pushedBranch `json:"branches"`
	// ClosedByBot: "branch#number" of pull requests the bot closed itself
	// (so it may propose the same change again later, unlike one a person closed).
	ClosedByBot map[string]bool `json:"closedByBot"`
	// HumanNotified: proposal branch -> the head commit the bot already
	// commented on for carrying a person's commits.
	HumanNotified map[string]string `json:"humanNotified"`
	// Provenance: pubKey -> the last event seen for the node.
	Provenance map[string]Provenance `json:"provenance"`
	// Pending: pubKey -> work to retry.
	Pending map[string]*pendingWork `json:"pending"`
	// Refused: pubKey -> why the last attempt refused the node (invalid
	// record, no zone, a fleet that would not validate).
	Refused map[string]string `json:"refused"`
}

// state is the bot's persistent state, saved after every change.
type state struct {
	path string
	mu   sync.Mutex
	d    stateData
}

func loadState(path string) (*state, error) {
	s := &state{path: path}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading bot state %s: %w", path, err)
	default:
		if err := json.Unmarshal(b, &s.d); err != nil {
			return nil, fmt.Errorf("decoding bot state %s: %w", path, err)
		}
	}
	if s.d.Branches == nil {
		s.d.Branches = map[string]pushedBranch{}
	}
	if s.d.ClosedByBot == nil {
		s.d.ClosedByBot = map[string]bool{}
	}
	if s.d.HumanNotified == nil {
		s.d.HumanNotified = map[string]string{}
	}
	if s.d.Provenance == nil {
		s.d.Provenance = map[string]Provenance{}
	}
	if s.d.Pending == nil {
		s.d.Pending = map[string]*pendingWork{}
	}
	if s.d.Refused == nil {
		s.d.Refused = map[string]string{}
	}
	return s, nil
}

// update changes the state under its lock and saves it.
func (s *state) update(fn func(d *stateData)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.d)
	b, err := json.MarshalIndent(&s.d, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding bot state: %w", err)
	}
	if _, err := atomicfile.Write(s.path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("saving bot state: %w", err)
	}
	return nil
}

// read runs fn on the state under its lock.
func (s *state) read(fn func(d *stateData)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.d)
}

func closedKey(branch string, number int) string { return branch + "#" + strconv.Itoa(number) }
