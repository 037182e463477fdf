package devchain

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/ddc-gitops/ddc-gitops/bot/chain"
	"github.com/ddc-gitops/ddc-gitops/bot/contract"
	"github.com/ddc-gitops/ddc-gitops/desired"
)

// InfoFile is where the lab saves its Info, relative to its state directory.
const InfoFile = "chain/chain.json"

// Spare defaults.
const (
	// DefaultP2PPort is a spare's p2pPort (as in the example fleet; the
	// simulator does not listen on it).
	DefaultP2PPort = 9070
	// DefaultMode is a spare's mode.
	DefaultMode = "storage"
	// SpareDomainSuffix ends a spare's domain: NAME.ddc.example.
	SpareDomainSuffix = ".ddc.example"
)

// Info is what the lab knows about its dev chain, saved as JSON (mode 0600)
// at STATE-DIR/InfoFile for `ddc-gitops lab node ...`.
type Info struct {
	// HTTPURL and WSURL are geth's JSON-RPC endpoints.
	HTTPURL string `json:"httpUrl"`
	WSURL   string `json:"wsUrl"`
	ChainID uint64 `json:"chainId"`
	// Contract is the NodeRegistry's address (0x, checksummed) and
	// DeployBlock the block that deployed it (the bot's start block).
	Contract    string `json:"contract"`
	DeployBlock uint64 `json:"deployBlock"`
	// Confirmations is the bot's confirmation depth and BlockPeriodSeconds
	// the block period (set by the lab; used to say when a proposal comes).
	Confirmations      uint64 `json:"confirmations"`
	BlockPeriodSeconds uint64 `json:"blockPeriodSeconds"`
	// OwnerKey (the registry's owner, geth's prefunded developer account),
	// ProviderKey (creates and deletes nodes) and ManagerKey (manages every
	// cluster) are hex private keys. They are in plain text on purpose: this
	// is a throwaway local dev chain whose funds are worthless.
	OwnerKey    string `json:"ownerKey"`
	ProviderKey string `json:"providerKey"`
	ManagerKey  string `json:"managerKey"`
	// Clusters maps each cluster id (0x + 40 hex) to its zone.
	Clusters map[string]string `json:"clusters"`
	// Spares are the node simulators running outside the fleet, ready to be
	// registered (one per zone).
	Spares []Spare `json:"spares"`
}

// Spare is a running node simulator the fleet does not know: the record a
// provider registers for it on the chain.
type Spare struct {
	Zone string `json:"zone"`
	// Name is the node file the bot will propose: node-<first 12 hex digits
	// of PubKey>.
	Name       string `json:"name"`
	PubKey     string `json:"pubKey"`
	ProviderID string `json:"providerId"`
	ClusterID  string `json:"clusterId"`
	Host       string `json:"host"`
	Domain     string `json:"domain"`
	HTTPPort   int    `json:"httpPort"`
	GRPCPort   int    `json:"grpcPort"`
	P2PPort    int    `json:"p2pPort"`
	Mode       string `json:"mode"`
}

// NewSpare makes a spare node for zone in cluster clusterID, served at
// host:httpPort (gRPC on grpcPort), with a random pubKey and providerId, its
// name as the bot will name its node file, domain NAME.ddc.example, p2pPort
// DefaultP2PPort and mode DefaultMode.
func NewSpare(zone, clusterID, host string, httpPort, grpcPort int) (Spare, error) {
	var key, provider [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return Spare{}, fmt.Errorf("generating a pubKey: %w", err)
	}
	if _, err := rand.Read(provider[:]); err != nil {
		return Spare{}, fmt.Errorf("generating a providerId: %w", err)
	}
	pub := hex32(key)
	name := NodeName(pub)
	s := Spare{
		Zone: zone, Name: name, PubKey: pub, ProviderID: hex32(provider),
		ClusterID: clusterID, Host: host, Domain: name + SpareDomainSuffix,
		HTTPPort: httpPort, GRPCPort: grpcPort, P2PPort: DefaultP2PPort, Mode: DefaultMode,
	}
	if err := s.Check(); err != nil {
		return Spare{}, err
	}
	return s, nil
}

// NodeName is the name the bot gives a new node file for pubKey (0x + 64
// hex): node- and the first 12 hex digits (the bot lengthens it only when
// another key already has that name).
func NodeName(pubKey string) string {
	h := strings.TrimPrefix(pubKey, "0x")
	return "node-" + h[:min(12, len(h))]
}

// Check validates the spare with the rules the bot applies to chain records.
func (s Spare) Check() error {
	var bad []string
	if !desired.ValidName(s.Zone) {
		bad = append(bad, fmt.Sprintf("zone %q is not a valid name", s.Zone))
	}
	if !desired.ValidPubKey(s.PubKey) {
		bad = append(bad, fmt.Sprintf("pubKey %q: want 0x and 64 lowercase hex digits", s.PubKey))
	}
	if !desired.ValidProviderID(s.ProviderID) {
		bad = append(bad, fmt.Sprintf("providerId %q: want 0x and 64 lowercase hex digits", s.ProviderID))
	}
	if !desired.ValidClusterID(s.ClusterID) {
		bad = append(bad, fmt.Sprintf("clusterId %q: want 0x and 40 lowercase hex digits", s.ClusterID))
	}
	if !desired.ValidHost(s.Host) {
		bad = append(bad, fmt.Sprintf("host %q is neither an IP address nor a lowercase DNS name", s.Host))
	}
	if !desired.ValidHostname(s.Domain) {
		bad = append(bad, fmt.Sprintf("domain %q is not a valid DNS name", s.Domain))
	}
	for _, p := range []struct {
		name string
		port int
	}{{"httpPort", s.HTTPPort}, {"grpcPort", s.GRPCPort}, {"p2pPort", s.P2PPort}} {
		if !desired.ValidPort(p.port) {
			bad = append(bad, fmt.Sprintf("%s %d is out of range 1..65535", p.name, p.port))
		}
	}
	if _, ok := chain.ModeNumber(s.Mode); !ok {
		bad = append(bad, fmt.Sprintf("mode %q is not one of full, storage, cache, dac", s.Mode))
	}
	if len(bad) > 0 {
		return fmt.Errorf("node %s: %s", s.Name, strings.Join(bad, "; "))
	}
	return nil
}

// Record is the spare's record as the bot reads it from the chain.
func (s Spare) Record() chain.Record {
	return chain.Record{
		PubKey: s.PubKey, ProviderID: s.ProviderID, ClusterID: s.ClusterID,
		Host: s.Host, Domain: s.Domain, SSL: false,
		HTTPPort: uint16(s.HTTPPort), GRPCPort: uint16(s.GRPCPort), P2PPort: uint16(s.P2PPort),
		Mode: s.Mode,
	}
}

// contractRecord is the spare's record for createNode; s must be checked.
func (s Spare) contractRecord() contract.NodeRegistryNodeRecord {
	mode, _ := chain.ModeNumber(s.Mode)
	r := contract.NodeRegistryNodeRecord{
		Host: s.Host, Domain: s.Domain, Ssl: false,
		HttpPort: uint16(s.HTTPPort), GrpcPort: uint16(s.GRPCPort), P2pPort: uint16(s.P2PPort),
		Mode: mode,
	}
	copy(r.PubKey[:], common.FromHex(s.PubKey))
	copy(r.ProviderId[:], common.FromHex(s.ProviderID))
	copy(r.ClusterId[:], common.FromHex(s.ClusterID))
	return r
}

// SpareByZone is the spare of zone.
func (i Info) SpareByZone(zone string) (Spare, bool) {
	for _, s := range i.Spares {
		if s.Zone == zone {
			return s, true
		}
	}
	return Spare{}, false
}

// SpareByPubKey is the spare with pubKey.
func (i Info) SpareByPubKey(pubKey string) (Spare, bool) {
	for _, s := range i.Spares {
		if s.PubKey == pubKey {
			return s, true
		}
	}
	return Spare{}, false
}

// Zones are the spares' zones, sorted.
func (i Info) Zones() []string {
	var z []string
	for _, s := range i.Spares {
		z = append(z, s.Zone)
	}
	sort.Strings(z)
	return z
}

// providerKey and managerKey decode the saved keys.
func (i Info) providerKey() (*ecdsa.PrivateKey, error) { return parseKey("provider", i.ProviderKey) }
func (i Info) managerKey() (*ecdsa.PrivateKey, error)  { return parseKey("manager", i.ManagerKey) }

func parseKey(role, s string) (*ecdsa.PrivateKey, error) {
	k, err := crypto.HexToECDSA(strings.TrimPrefix(s, "0x"))
	if err != nil {
		return nil, fmt.Errorf("decoding the %s key: %w", role, err)
	}
	return k, nil
}

// KeyHex encodes a private key as Info holds it (0x + 64 hex).
func KeyHex(k *ecdsa.PrivateKey) string { return "0x" + hex.EncodeToString(crypto.FromECDSA(k)) }

// WriteInfo saves info at path (mode 0600, written to a temporary file then
// renamed), creating its directory.
func WriteInfo(path string, info Info) error {
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the dev chain info: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".chain-*.json")
	if err != nil {
		return fmt.Errorf("writing the dev chain info: %w", err)
	}
	defer func() { _ = os.Remove(f.Name()) }()
	if _, err := f.Write(append(data, '\n')); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("saving the dev chain info as %s: %w", path, err)
	}
	return nil
}

// ReadInfo reads the Info saved at path.
func ReadInfo(path string) (Info, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, fmt.Errorf("no dev chain info at %s: is the lab running (`ddc-gitops lab`), with this --state-dir?", path)
	}
	if err != nil {
		return Info{}, fmt.Errorf("reading the dev chain info: %w", err)
	}
	var info Info
	if err := json.Unmarshal(data, &info); err != nil {
		return Info{}, fmt.Errorf("decoding the dev chain info %s: %w", path, err)
	}
	if info.HTTPURL == "" || !common.IsHexAddress(info.Contract) {
		return Info{}, fmt.Errorf("the dev chain info %s has no RPC URL or contract address", path)
	}
	return info, nil
}

// hex32 is 0x + 64 lowercase hex digits.
func hex32(b [32]byte) string { return "0x" + hex.EncodeToString(b[:]) }

// FleetRecords are the chain records of a fleet's admitted nodes that have
// a pubKey, for Seed: the nodes the registry must hold so that the bot's
// full sync does not propose removing them.
func FleetRecords(f *desired.Fleet) []chain.Record {
	var out []chain.Record
	for _, n := range f.Nodes {
		if !n.Admitted || n.PubKey == "" {
			continue
		}
		out = append(out, chain.Record{
			PubKey: n.PubKey, ProviderID: n.ProviderID, ClusterID: n.ClusterID, Host: n.Host, Domain: n.Domain, SSL: n.SSL,
			HTTPPort: uint16(n.HTTPPort), GRPCPort: uint16(n.GRPCPort), P2PPort: uint16(n.P2PPort), Mode: n.Mode,
		})
	}
	return out
}
