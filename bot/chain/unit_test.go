package chain

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

func TestTransition(t *testing.T) {
	rec := Record{PubKey: "0x01", Host: "198.18.0.1", Mode: "storage"}
	moved := rec
	moved.Host = "198.18.0.2"
	st := func(in, val bool, r Record) *nodeState { return &nodeState{Record: r, InCluster: in, Validated: val} }
	ch := func(in, val bool, r Record) change { return change{pubKey: "0x01", state: *st(in, val, r)} }
	del := change{pubKey: "0x01", deleted: true, state: *st(false, false, rec)}
	cases := []struct {
		name string
		prev *nodeState
		c    change
		want EventKind
	}{
		{"created", nil, ch(false, false, rec), ""},
		{"added, not validated", st(false, false, rec), ch(true, false, rec), ""},
		{"validated, not added", st(false, false, rec), ch(false, true, rec), ""},
		{"added after validation", st(false, true, rec), ch(true, true, rec), NodeAdmitted},
		{"validated after add", st(true, false, rec), ch(true, true, rec), NodeAdmitted},
		{"unknown node seen admitted", nil, ch(true, true, rec), NodeAdmitted},
		{"params of admitted", st(true, true, rec), ch(true, true, moved), NodeUpdated},
		{"same params of admitted", st(true, true, rec), ch(true, true, rec), ""},
		{"params of non-admitted", st(true, false, rec), ch(true, false, moved), ""},
		{"removed from cluster", st(true, true, rec), ch(false, false, rec), NodeRemoved},
		{"deleted when admitted", st(true, true, rec), del, NodeRemoved},
		{"deleted when not admitted", st(true, false, rec), del, ""},
		{"deleted unknown", nil, del, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kind, emit := transition(tc.prev, tc.c)
			if emit != (tc.want != "") || kind != tc.want {
				t.Fatalf("transition = %q, %v; want %q", kind, emit, tc.want)
			}
		})
	}
}

func TestEffective(t *testing.T) {
	a := Record{PubKey: "0x01", Host: "new"}
	b := Record{PubKey: "0x01", Host: "old"}
	cases := []struct {
		ev       Event
		wantKind EventKind
		wantRec  Record
	}{
		{Event{Kind: NodeAdmitted, Node: a}, NodeAdmitted, a},
		{Event{Kind: NodeAdmitted, Node: a, Removed: true}, NodeRemoved, a},
		{Event{Kind: NodeRemoved, Node: a, Removed: true}, NodeAdmitted, a},
		{Event{Kind: NodeUpdated, Node: a, Prev: &b}, NodeUpdated, a},
		{Event{Kind: NodeUpdated, Node: a, Prev: &b, Removed: true}, NodeUpdated, b},
	}
	for i, tc := range cases {
		if k, r := tc.ev.Effective(); k != tc.wantKind || r != tc.wantRec {
			t.Errorf("case %d: Effective = %s %+v, want %s %+v", i, k, r, tc.wantKind, tc.wantRec)
		}
	}
}

func TestIsRangeError(t *testing.T) {
	cases := []struct {
		msg  string
		want bool
	}{
		{"query returned more than 10000 results", true},
		{"exceed maximum block range: 5000", true},
		{"block range is too wide", true},
		{"Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range", true},
		{"eth_getLogs is limited to a 10,000 range", false},
		{"query exceeds max block range 700", true},
		{"too many results", true},
		{"connection refused", false},
		{"context deadline exceeded", false},
	}
	for _, tc := range cases {
		if got := IsRangeError(errors.New(tc.msg)); got != tc.want {
			t.Errorf("IsRangeError(%q) = %v, want %v", tc.msg, got, tc.want)
		}
	}
	if IsRangeError(nil) {
		t.Errorf("IsRangeError(nil) = true")
	}
}

func TestBackoffBounds(t *testing.T) {
	min, max := 100*time.Millisecond, 3*time.Second
	for n := 1; n < 20; n++ {
		ceil := min << (n - 1)
		if n > 6 || ceil > max {
			ceil = max
		}
		for i := 0; i < 50; i++ {
			d := backoff(min, max, n)
			if d < ceil/2 || d > ceil {
				t.Fatalf("attempt %d: %s outside [%s, %s]", n, d, ceil/2, ceil)
			}
		}
	}
}

func TestModeNames(t *testing.T) {
	for m := 0; m < 256; m++ {
		name := ModeName(uint8(m))
		back, ok := ModeNumber(name)
		if known := m >= 1 && m <= 4; ok != known || (ok && back != uint8(m)) {
			t.Errorf("mode %d: name %q, back %d %v", m, name, back, ok)
		}
	}
	if ModeName(9) != "mode(9)" {
		t.Errorf("ModeName(9) = %q", ModeName(9))
	}
}

// decode must reject, never panic on, arbitrary log data.
func TestDecodeGarbage(t *testing.T) {
	d := newDecoder()
	rnd := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 5000; i++ {
		l := &types.Log{Topics: []common.Hash{d.ids[i%len(d.ids)]}}
		for j := 0; j < rnd.IntN(4); j++ {
			var h common.Hash
			for k := range h {
				h[k] = byte(rnd.Uint32())
			}
			l.Topics = append(l.Topics, h)
		}
		l.Data = make([]byte, rnd.IntN(1200))
		for k := range l.Data {
			l.Data[k] = byte(rnd.Uint32())
			if rnd.IntN(3) == 0 {
				l.Data[k] = 0 // small offsets and lengths reach deeper into the decoder
			}
		}
		if _, err := d.decode(l); err == nil {
			t.Fatalf("garbage log %d decoded", i)
		}
	}
}

// The journal keeps the reorg window below the checkpoint and forgets the
// keys of the blocks it drops.
func TestStatePruneAndReload(t *testing.T) {
	addr := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	s := newState(1337, addr)
	for n := uint64(1); n <= 20; n++ {
		b, ok := s.block(n, fmt.Sprintf("0x%02x", n))
		if !ok {
			t.Fatalf("block %d refused", n)
		}
		b.Logs = append(b.Logs, journalLog{TxHash: "0xt", Index: uint(n), PubKey: "0x01"})
		s.seen[logKey("0xt", uint(n), b.Hash)] = true
		s.Checkpoint = &blockRef{Number: n, Hash: b.Hash}
		s.prune(5)
	}
	if len(s.Journal) != 5 || s.Journal[0].Number != 16 || !s.Pruned || len(s.seen) != 5 {
		t.Fatalf("journal %d blocks from %d, pruned %v, %d keys", len(s.Journal), s.Journal[0].Number, s.Pruned, len(s.seen))
	}
	if _, ok := s.block(19, "0xother"); ok {
		t.Fatalf("a second hash for block 19 was accepted")
	}
	path := filepath.Join(t.TempDir(), "state.json")
	if err := s.save(path); err != nil {
		t.Fatal(err)
	}
	back, err := loadState(path, 1337, addr)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.seen) != 5 || back.Checkpoint.Number != 20 || len(back.Journal) != 5 {
		t.Fatalf("reloaded state differs: %+v", back)
	}
	if _, err := loadState(path, 1, addr); err == nil {
		t.Fatalf("state of chain 1337 loaded for chain 1")
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg := Config{StateDir: "x", Contract: common.Address{1}, MaxRange: 50_000}
	if err := cfg.setDefaults(); err != nil {
		t.Fatal(err)
	}
	if cfg.MaxRange != DefaultMaxRange || cfg.PollInterval != DefaultPollInterval || cfg.ReorgWindow != DefaultReorgWindow {
		t.Fatalf("defaults: %+v", cfg)
	}
	for _, bad := range []Config{{Contract: common.Address{1}}, {StateDir: "x"}, {StateDir: "x", Contract: common.Address{1}, MinBackoff: time.Minute, MaxBackoff: time.Second}} {
		if err := bad.setDefaults(); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
	if _, err := DialEVMWatcher(Config{StateDir: "x", Contract: common.Address{1}}, "ftp://node"); err == nil {
		t.Errorf("ftp URL accepted")
	}
	if _, err := DialEVMWatcher(Config{StateDir: "x", Contract: common.Address{1}}, "ws://127.0.0.1:1"); err != nil {
		t.Errorf("ws URL refused: %v", err)
	}
}
