package chain

import (
	"encoding/hex"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/ddc-gitops/ddc-gitops/bot/contract"
)

// Event names of NodeRegistry.sol the watcher follows.
const (
	evNodeCreated          = "NodeCreated"
	evClusterNodeAdded     = "ClusterNodeAdded"
	evClusterNodeValidated = "ClusterNodeValidated"
	evNodeParamsChanged    = "NodeParamsChanged"
	evClusterNodeRemoved   = "ClusterNodeRemoved"
	evNodeRemoved          = "NodeRemoved"
)

var followedEvents = []string{
	evNodeCreated, evClusterNodeAdded, evClusterNodeValidated,
	evNodeParamsChanged, evClusterNodeRemoved, evNodeRemoved,
}

// decoder turns NodeRegistry logs into node changes.
type decoder struct {
	reg   *contract.NodeRegistry
	names map[common.Hash]string
	ids   []common.Hash
}

func newDecoder() *decoder {
	reg := contract.NewNodeRegistry()
	abi := reg.GetABI()
	d := &decoder{reg: reg, names: make(map[common.Hash]string)}
	for _, name := range followedEvents {
		id := abi.Events[name].ID
		d.names[id] = name
		d.ids = append(d.ids, id)
	}
	return d
}

// change is what one log says about a node: its state after the log, or that
// it was deleted.
type change struct {
	event   string
	pubKey  string
	state   nodeState
	deleted bool
}

// decode decodes a followed log. It never panics, whatever the log holds.
func (d *decoder) decode(l *types.Log) (c change, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoding log %s/%d: malformed data: %v", l.TxHash.Hex(), l.Index, r)
		}
	}()
	if len(l.Topics) == 0 {
		return change{}, fmt.Errorf("decoding log %s/%d: no topics", l.TxHash.Hex(), l.Index)
	}
	name, ok := d.names[l.Topics[0]]
	if !ok {
		return change{}, fmt.Errorf("decoding log %s/%d: unknown event %s", l.TxHash.Hex(), l.Index, l.Topics[0].Hex())
	}
	var (
		key                  [32]byte
		rec                  contract.NodeRegistryNodeRecord
		inCluster, validated bool
	)
	switch name {
	case evNodeCreated:
		e, err := d.reg.UnpackNodeCreatedEvent(l)
		if err != nil {
			return change{}, fmt.Errorf("decoding %s log %s/%d: %w", name, l.TxHash.Hex(), l.Index, err)
		}
		key, rec, inCluster, validated = e.PubKey, e.Node, e.InCluster, e.Validated
	case evClusterNodeAdded:
		e, err := d.reg.UnpackClusterNodeAddedEvent(l)
		if err != nil {
			return change{}, fmt.Errorf("decoding %s log %s/%d: %w", name, l.TxHash.Hex(), l.Index, err)
		}
		key, rec, inCluster, validated = e.PubKey, e.Node, e.InCluster, e.Validated
	case evClusterNodeValidated:
		e, err := d.reg.UnpackClusterNodeValidatedEvent(l)
		if err != nil {
			return change{}, fmt.Errorf("decoding %s log %s/%d: %w", name, l.TxHash.Hex(), l.Index, err)
		}
		key, rec, inCluster, validated = e.PubKey, e.Node, e.InCluster, e.Validated
	case evNodeParamsChanged:
		e, err := d.reg.UnpackNodeParamsChangedEvent(l)
		if err != nil {
			return change{}, fmt.Errorf("decoding %s log %s/%d: %w", name, l.TxHash.Hex(), l.Index, err)
		}
		key, rec, inCluster, validated = e.PubKey, e.Node, e.InCluster, e.Validated
	case evClusterNodeRemoved:
		e, err := d.reg.UnpackClusterNodeRemovedEvent(l)
		if err != nil {
			return change{}, fmt.Errorf("decoding %s log %s/%d: %w", name, l.TxHash.Hex(), l.Index, err)
		}
		key, rec, inCluster, validated = e.PubKey, e.Node, e.InCluster, e.Validated
	case evNodeRemoved:
		e, err := d.reg.UnpackNodeRemovedEvent(l)
		if err != nil {
			return change{}, fmt.Errorf("decoding %s log %s/%d: %w", name, l.TxHash.Hex(), l.Index, err)
		}
		key, rec, inCluster, validated = e.PubKey, e.Node, e.InCluster, e.Validated
	}
	if key != rec.PubKey {
		return change{}, fmt.Errorf("decoding %s log %s/%d: indexed key %s differs from the record's %s",
			name, l.TxHash.Hex(), l.Index, hex32(key), hex32(rec.PubKey))
	}
	return change{
		event:   name,
		pubKey:  hex32(key),
		state:   nodeState{Record: recordFrom(rec), InCluster: inCluster, Validated: validated},
		deleted: name == evNodeRemoved,
	}, nil
}

// recordFrom converts a contract record to the YAML encoding.
func recordFrom(r contract.NodeRegistryNodeRecord) Record {
	return Record{
		PubKey:     hex32(r.PubKey),
		ProviderID: hex32(r.ProviderId),
		ClusterID:  "0x" + hex.EncodeToString(r.ClusterId[:]),
		Host:       r.Host,
		Domain:     r.Domain,
		SSL:        r.Ssl,
		HTTPPort:   r.HttpPort,
		GRPCPort:   r.GrpcPort,
		P2PPort:    r.P2pPort,
		Mode:       ModeName(r.Mode),
	}
}

func hex32(b [32]byte) string { return "0x" + hex.EncodeToString(b[:]) }

// ModeName is the desired-state word for a DDC node mode number: 1 full,
// 2 storage, 3 cache, 4 dac; "mode(N)" for anything else.
func ModeName(m uint8) string {
	switch m {
	case 1:
		return "full"
	case 2:
		return "storage"
	case 3:
		return "cache"
	case 4:
		return "dac"
	}
	return fmt.Sprintf("mode(%d)", m)
}

// ModeNumber is the inverse of ModeName for the four known modes.
func ModeNumber(name string) (uint8, bool) {
	switch name {
	case "full":
		return 1, true
	case "storage":
		return 2, true
	case "cache":
		return 3, true
	case "dac":
		return 4, true
	}
	return 0, false
}
