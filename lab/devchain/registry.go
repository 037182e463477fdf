package devchain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/ddc-gitops/ddc-gitops/bot/chain"
	"github.com/ddc-gitops/ddc-gitops/bot/contract"
	"github.com/ddc-gitops/ddc-gitops/desired"
)

// receiptPoll is how often a receipt is asked for (blocks come every second).
const receiptPoll = 100 * time.Millisecond

// fundEach is what Deploy gives the provider and the manager: 1,000 ether.
var fundEach = new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18))

// Tx is a mined registry transaction.
type Tx struct {
	// Method is the contract function (or "deploy", "fund").
	Method string `json:"method"`
	// From is the sender (0x, checksummed), Hash the transaction hash.
	From    string `json:"from"`
	Hash    string `json:"hash"`
	Block   uint64 `json:"block"`
	GasUsed uint64 `json:"gasUsed"`
}

// RevertError is a transaction or call the NodeRegistry refused, with its
// custom error decoded.
type RevertError struct {
	// Method is the contract function and From the sender (empty for a read).
	Method string
	From   string
	// Name is the contract's custom error (NodeExists, NotClusterManager, ...),
	// empty when the revert data is not one of them.
	Name string
	// Reason says what the error means, with its arguments.
	Reason string
	// Data is the raw revert data.
	Data []byte
}

func (e *RevertError) Error() string {
	if e.From == "" {
		return fmt.Sprintf("the NodeRegistry refused %s: %s", e.Method, e.Reason)
	}
	return fmt.Sprintf("the NodeRegistry refused %s from %s: %s", e.Method, e.From, e.Reason)
}

// decodeRevert explains revert data with the contract's custom errors.
func decodeRevert(reg *contract.NodeRegistry, method string, from common.Address, data []byte) *RevertError {
	e := &RevertError{Method: method, From: from.Hex(), Data: data}
	if len(data) < 4 {
		e.Reason = "reverted without a reason"
		return e
	}
	if msg, err := abi.UnpackRevert(data); err == nil {
		e.Name, e.Reason = "Error", msg
		return e
	}
	v, err := reg.UnpackError(data)
	if err != nil {
		e.Reason = fmt.Sprintf("unknown error (selector 0x%x)", data[:4])
		return e
	}
	switch x := v.(type) {
	case *contract.NodeRegistryNodeExists:
		e.Name, e.Reason = "NodeExists", fmt.Sprintf("node %s is already registered", hex32(x.PubKey))
	case *contract.NodeRegistryNodeNotFound:
		e.Name, e.Reason = "NodeNotFound", fmt.Sprintf("node %s is not in the registry", hex32(x.PubKey))
	case *contract.NodeRegistryNotProvider:
		e.Name, e.Reason = "NotProvider", fmt.Sprintf("only the provider that created node %s may do this", hex32(x.PubKey))
	case *contract.NodeRegistryNotClusterManager:
		e.Name, e.Reason = "NotClusterManager", fmt.Sprintf("%s is not the manager of cluster %s", from.Hex(), hex20(x.ClusterId))
	case *contract.NodeRegistryNotManagerOrProvider:
		e.Name, e.Reason = "NotManagerOrProvider", fmt.Sprintf("only the cluster's manager or the provider of node %s may do this", hex32(x.PubKey))
	case *contract.NodeRegistryNoCluster:
		e.Name, e.Reason = "NoCluster", fmt.Sprintf("node %s declares no cluster", hex32(x.PubKey))
	case *contract.NodeRegistryAlreadyInCluster:
		e.Name, e.Reason = "AlreadyInCluster", fmt.Sprintf("node %s is already in its cluster", hex32(x.PubKey))
	case *contract.NodeRegistryNotInCluster:
		e.Name, e.Reason = "NotInCluster", fmt.Sprintf("node %s is not in a cluster", hex32(x.PubKey))
	case *contract.NodeRegistryClusterMismatch:
		e.Name, e.Reason = "ClusterMismatch", fmt.Sprintf("node %s declared cluster %s, not %s", hex32(x.PubKey), hex20(x.Declared), hex20(x.Requested))
	case *contract.NodeRegistryInvalidMode:
		e.Name, e.Reason = "InvalidMode", fmt.Sprintf("mode %d is not 1 (full), 2 (storage), 3 (cache) or 4 (dac)", x.Mode)
	case *contract.NodeRegistryNotOwner:
		e.Name, e.Reason = "NotOwner", "only the registry's owner may do this"
	case *contract.NodeRegistryZeroKey:
		e.Name, e.Reason = "ZeroKey", "the pubKey is zero"
	default:
		e.Reason = fmt.Sprintf("%T %+v", v, v)
	}
	if e.Name != "" {
		e.Reason = e.Name + ": " + e.Reason
	}
	return e
}

// session is a connection to the chain and the registry.
type session struct {
	client  *ethclient.Client
	chainID *big.Int
	reg     *contract.NodeRegistry
	addr    common.Address
	inst    *bind.BoundContract
}

// dial connects to rpcURL; when want is not zero, the chain must have that id.
func dial(ctx context.Context, rpcURL string, want uint64) (*session, error) {
	c, err := ethclient.DialContext(ctx, rpcURL)
	if err != nil {
		return nil, fmt.Errorf("connecting to the dev chain at %s: %w", rpcURL, err)
	}
	id, err := c.ChainID(ctx)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("asking the dev chain at %s for its chain id (is the lab running?): %w", rpcURL, err)
	}
	if want != 0 && id.Uint64() != want {
		c.Close()
		return nil, fmt.Errorf("the chain at %s has id %d, not %d as saved: the dev chain info is stale", rpcURL, id, want)
	}
	return &session{client: c, chainID: id, reg: contract.NewNodeRegistry()}, nil
}

// open connects to the chain of info and checks the registry is there.
func open(ctx context.Context, info Info) (*session, error) {
	if !common.IsHexAddress(info.Contract) {
		return nil, fmt.Errorf("the dev chain info has no valid contract address (%q)", info.Contract)
	}
	s, err := dial(ctx, info.HTTPURL, info.ChainID)
	if err != nil {
		return nil, err
	}
	s.addr = common.HexToAddress(info.Contract)
	code, err := s.client.CodeAt(ctx, s.addr, nil)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("reading the registry's code at %s: %w", s.addr.Hex(), err)
	}
	if len(code) == 0 {
		s.close()
		return nil, fmt.Errorf("no contract at %s on %s: the dev chain info is stale", s.addr.Hex(), info.HTTPURL)
	}
	s.inst = s.reg.Instance(s.client, s.addr)
	return s, nil
}

func (s *session) close() { s.client.Close() }

// opts are transact options for key; nonce, when not nil, is used and
// incremented (for several transactions of one sender in one block).
func (s *session) opts(ctx context.Context, key *ecdsa.PrivateKey, nonce *uint64) *bind.TransactOpts {
	o := bind.NewKeyedTransactor(key, s.chainID)
	o.Context = ctx
	if nonce != nil {
		o.Nonce = new(big.Int).SetUint64(*nonce)
		*nonce++
	}
	return o
}

// explain turns a failed send or call into a RevertError when the chain
// gave revert data.
func (s *session) explain(method string, from common.Address, err error) error {
	if data, ok := ethclient.RevertErrorData(err); ok {
		return decodeRevert(s.reg, method, from, data)
	}
	return fmt.Errorf("sending %s from %s: %w", method, from.Hex(), err)
}

// pending is a sent transaction.
type pending struct {
	method string
	from   common.Address
	tx     *types.Transaction
}

// send sends a registry call (gas estimated, so a call that would revert
// is refused before it is sent, with its reason).
func (s *session) send(ctx context.Context, key *ecdsa.PrivateKey, nonce *uint64, method string, data []byte) (pending, error) {
	o := s.opts(ctx, key, nonce)
	tx, err := bind.Transact(s.inst, o, data)
	if err != nil {
		return pending{}, s.explain(method, o.From, err)
	}
	return pending{method, o.From, tx}, nil
}

// wait waits for each transaction's receipt, in order, and checks it.
func (s *session) wait(ctx context.Context, txs ...pending) ([]Tx, error) {
	out := make([]Tx, 0, len(txs))
	for _, p := range txs {
		r, err := s.receipt(ctx, p.tx.Hash())
		if err != nil {
			return out, fmt.Errorf("waiting for %s (%s): %w", p.method, p.tx.Hash().Hex(), err)
		}
		if r.Status != types.ReceiptStatusSuccessful {
			return out, s.whyFailed(ctx, p, r)
		}
		out = append(out, Tx{Method: p.method, From: p.from.Hex(), Hash: p.tx.Hash().Hex(), Block: r.BlockNumber.Uint64(), GasUsed: r.GasUsed})
	}
	return out, nil
}

// receipt polls for a receipt until ctx ends.
func (s *session) receipt(ctx context.Context, h common.Hash) (*types.Receipt, error) {
	t := time.NewTicker(receiptPoll)
	defer t.Stop()
	for {
		r, err := s.client.TransactionReceipt(ctx, h)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, ethereum.NotFound) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// whyFailed replays a reverted transaction on the state before its block
// to find the reason.
func (s *session) whyFailed(ctx context.Context, p pending, r *types.Receipt) error {
	msg := ethereum.CallMsg{From: p.from, To: p.tx.To(), Gas: p.tx.Gas(), Value: p.tx.Value(), Data: p.tx.Data()}
	parent := new(big.Int).Sub(r.BlockNumber, big.NewInt(1))
	_, err := s.client.CallContract(ctx, msg, parent)
	if data, ok := ethclient.RevertErrorData(err); ok {
		e := decodeRevert(s.reg, p.method, p.from, data)
		e.Reason = fmt.Sprintf("%s (transaction %s reverted in block %d)", e.Reason, p.tx.Hash().Hex(), r.BlockNumber)
		return e
	}
	return fmt.Errorf("%s from %s: transaction %s reverted in block %d (gas used %d of %d)", p.method, p.from.Hex(), p.tx.Hash().Hex(), r.BlockNumber, r.GasUsed, p.tx.Gas())
}

// Deploy deploys the NodeRegistry on the chain at rpcURL from ownerKey
// (geth's prefunded developer account), creates a provider and a cluster
// manager account, funds each with 1,000 ether and makes the manager the
// manager of every cluster (cluster id -> zone). It waits for every receipt
// and returns the Info to save, without WSURL, Confirmations and Spares,
// which the caller fills in.
func Deploy(ctx context.Context, rpcURL string, ownerKey *ecdsa.PrivateKey, clusters map[string]string) (Info, error) {
	if len(clusters) == 0 {
		return Info{}, errors.New("deploying the NodeRegistry: no clusters")
	}
	ids := make([]string, 0, len(clusters))
	for id, zone := range clusters {
		if !desired.ValidClusterID(id) {
			return Info{}, fmt.Errorf("deploying the NodeRegistry: cluster id %q: want 0x and 40 lowercase hex digits", id)
		}
		if !desired.ValidName(zone) {
			return Info{}, fmt.Errorf("deploying the NodeRegistry: zone %q of cluster %s is not a valid name", zone, id)
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	provider, err := crypto.GenerateKey()
	if err != nil {
		return Info{}, fmt.Errorf("generating the provider key: %w", err)
	}
	manager, err := crypto.GenerateKey()
	if err != nil {
		return Info{}, fmt.Errorf("generating the manager key: %w", err)
	}
	s, err := dial(ctx, rpcURL, 0)
	if err != nil {
		return Info{}, err
	}
	defer s.close()
	owner := crypto.PubkeyToAddress(ownerKey.PublicKey)
	nonce, err := s.client.PendingNonceAt(ctx, owner)
	if err != nil {
		return Info{}, fmt.Errorf("reading the owner's nonce: %w", err)
	}
	// Deployment and funding go out together (one block), with explicit
	// nonces; the cluster managers once the contract exists (gas estimation
	// needs its code).
	addr, deployTx, err := bind.DeployContract(s.opts(ctx, ownerKey, &nonce), common.FromHex(contract.NodeRegistryMetaData.Bin), s.client, nil)
	if err != nil {
		return Info{}, fmt.Errorf("deploying the NodeRegistry from %s: %w", owner.Hex(), err)
	}
	sent := []pending{{"deploy", owner, deployTx}}
	for _, to := range []*ecdsa.PrivateKey{provider, manager} {
		p, err := s.fund(ctx, ownerKey, &nonce, crypto.PubkeyToAddress(to.PublicKey))
		if err != nil {
			return Info{}, err
		}
		sent = append(sent, p)
	}
	mined, err := s.wait(ctx, sent...)
	if err != nil {
		return Info{}, fmt.Errorf("deploying the NodeRegistry: %w", err)
	}
	s.addr, s.inst = addr, s.reg.Instance(s.client, addr)
	sent = sent[:0]
	mgr := crypto.PubkeyToAddress(manager.PublicKey)
	for _, id := range ids {
		var cid [20]byte
		copy(cid[:], common.FromHex(id))
		p, err := s.send(ctx, ownerKey, &nonce, "setClusterManager", s.reg.PackSetClusterManager(cid, mgr))
		if err != nil {
			return Info{}, fmt.Errorf("setting the manager of cluster %s: %w", id, err)
		}
		sent = append(sent, p)
	}
	if _, err := s.wait(ctx, sent...); err != nil {
		return Info{}, fmt.Errorf("setting the cluster managers: %w", err)
	}
	info := Info{
		HTTPURL: rpcURL, ChainID: s.chainID.Uint64(), Contract: addr.Hex(), DeployBlock: mined[0].Block,
		OwnerKey: KeyHex(ownerKey), ProviderKey: KeyHex(provider), ManagerKey: KeyHex(manager),
		Clusters: make(map[string]string, len(clusters)),
	}
	for id, zone := range clusters {
		info.Clusters[id] = zone
	}
	return info, nil
}

// fund sends fundEach wei from key to to.
func (s *session) fund(ctx context.Context, key *ecdsa.PrivateKey, nonce *uint64, to common.Address) (pending, error) {
	o := s.opts(ctx, key, nonce)
	o.Value, o.GasLimit = fundEach, 21_000
	tx, err := bind.NewBoundContract(to, abi.ABI{}, s.client, s.client, s.client).RawTransact(o, nil)
	if err != nil {
		return pending{}, fmt.Errorf("funding %s from %s: %w", to.Hex(), o.From.Hex(), err)
	}
	return pending{"fund", o.From, tx}, nil
}

// Register sends the provider's createNode for the spare, declaring its
// cluster, and waits for it to be mined. The node is created, not admitted.
func Register(ctx context.Context, info Info, sp Spare) ([]Tx, error) {
	if err := sp.Check(); err != nil {
		return nil, err
	}
	key, err := info.providerKey()
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, info)
	if err != nil {
		return nil, err
	}
	defer s.close()
	p, err := s.send(ctx, key, nil, "createNode", s.reg.PackCreateNode(sp.contractRecord()))
	if err != nil {
		return nil, err
	}
	return s.wait(ctx, p)
}

// Seed registers and admits nodes that already exist (the fleet's own
// nodes, so that the bot's full sync finds them in the registry instead of
// proposing their removal): the provider creates them all (one block), then
// the manager adds each to its declared cluster and validates it (one more
// block). Each record must declare a cluster the manager manages.
func Seed(ctx context.Context, info Info, nodes []chain.Record) ([]Tx, error) {
	recs := make([]contract.NodeRegistryNodeRecord, len(nodes))
	for i, r := range nodes {
		cr, err := contractRecordOf(r)
		if err != nil {
			return nil, fmt.Errorf("seeding node %d: %w", i, err)
		}
		recs[i] = cr
	}
	prov, err := info.providerKey()
	if err != nil {
		return nil, err
	}
	mgr, err := info.managerKey()
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, info)
	if err != nil {
		return nil, err
	}
	defer s.close()
	var out []Tx
	nonce, err := s.client.PendingNonceAt(ctx, crypto.PubkeyToAddress(prov.PublicKey))
	if err != nil {
		return nil, fmt.Errorf("reading the provider's nonce: %w", err)
	}
	var sent []pending
	for _, r := range recs {
		p, err := s.send(ctx, prov, &nonce, "createNode", s.reg.PackCreateNode(r))
		if err != nil {
			mined, werr := s.wait(ctx, sent...)
			return mined, errors.Join(err, werr)
		}
		sent = append(sent, p)
	}
	mined, err := s.wait(ctx, sent...)
	out = append(out, mined...)
	if err != nil {
		return out, err
	}
	if nonce, err = s.client.PendingNonceAt(ctx, crypto.PubkeyToAddress(mgr.PublicKey)); err != nil {
		return out, fmt.Errorf("reading the manager's nonce: %w", err)
	}
	sent = sent[:0]
	for _, r := range recs {
		for _, c := range []struct {
			method string
			data   []byte
		}{
			{"addNodeToCluster", s.reg.PackAddNodeToCluster(r.ClusterId, r.PubKey)},
			{"validateNode", s.reg.PackValidateNode(r.PubKey)},
		} {
			p, err := s.send(ctx, mgr, &nonce, c.method, c.data)
			if err != nil {
				mined, werr := s.wait(ctx, sent...)
				return append(out, mined...), errors.Join(err, werr)
			}
			sent = append(sent, p)
		}
	}
	mined, err = s.wait(ctx, sent...)
	return append(out, mined...), err
}

// contractRecordOf checks a record with the bot's rules and encodes it for
// createNode.
func contractRecordOf(r chain.Record) (contract.NodeRegistryNodeRecord, error) {
	sp := Spare{
		Zone: "seed", Name: NodeName(r.PubKey), PubKey: r.PubKey, ProviderID: r.ProviderID, ClusterID: r.ClusterID,
		Host: r.Host, Domain: r.Domain, HTTPPort: int(r.HTTPPort), GRPCPort: int(r.GRPCPort), P2PPort: int(r.P2PPort), Mode: r.Mode,
	}
	if err := sp.Check(); err != nil {
		return contract.NodeRegistryNodeRecord{}, err
	}
	cr := sp.contractRecord()
	cr.Ssl = r.SSL
	return cr, nil
}

// Admit is what the cluster manager does to admit a registered node into
// the cluster it declared: addNodeToCluster and validateNode (whichever is
// still missing), sent together and mined in one block.
func Admit(ctx context.Context, info Info, pubKey string) ([]Tx, error) {
	key, err := info.managerKey()
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, info)
	if err != nil {
		return nil, err
	}
	defer s.close()
	pk, view, err := s.node(ctx, pubKey)
	if err != nil {
		return nil, err
	}
	cid := view.Record.ClusterId
	if cid == ([20]byte{}) {
		return nil, fmt.Errorf("node %s declares no cluster: nothing to admit it into", pubKey)
	}
	if view.InCluster && view.Validated {
		return nil, fmt.Errorf("node %s is already admitted to cluster %s", pubKey, hex20(cid))
	}
	nonce, err := s.client.PendingNonceAt(ctx, crypto.PubkeyToAddress(key.PublicKey))
	if err != nil {
		return nil, fmt.Errorf("reading the manager's nonce: %w", err)
	}
	var sent []pending
	if !view.InCluster {
		p, err := s.send(ctx, key, &nonce, "addNodeToCluster", s.reg.PackAddNodeToCluster(cid, pk))
		if err != nil {
			return nil, err
		}
		sent = append(sent, p)
	}
	if !view.Validated {
		p, err := s.send(ctx, key, &nonce, "validateNode", s.reg.PackValidateNode(pk))
		if err != nil {
			mined, werr := s.wait(ctx, sent...) // what was sent is still mined
			return mined, errors.Join(err, werr)
		}
		sent = append(sent, p)
	}
	return s.wait(ctx, sent...)
}

// Remove takes a node out, as on the DDC chain: the cluster manager removes
// it from its cluster (removeNodeFromCluster: the node loses its admission,
// which is what the bot turns into a removal proposal), then, unless
// keepRecord, the provider deletes it (removeNode; on the DDC a provider can
// delete only a node that is in no cluster). The two are mined in order.
func Remove(ctx context.Context, info Info, pubKey string, keepRecord bool) ([]Tx, error) {
	mgr, err := info.managerKey()
	if err != nil {
		return nil, err
	}
	prov, err := info.providerKey()
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, info)
	if err != nil {
		return nil, err
	}
	defer s.close()
	pk, view, err := s.node(ctx, pubKey)
	if err != nil {
		return nil, err
	}
	if !view.InCluster && keepRecord {
		return nil, fmt.Errorf("node %s is in no cluster: nothing to remove it from", pubKey)
	}
	var out []Tx
	if view.InCluster {
		p, err := s.send(ctx, mgr, nil, "removeNodeFromCluster", s.reg.PackRemoveNodeFromCluster(pk))
		if err != nil {
			return nil, err
		}
		if out, err = s.wait(ctx, p); err != nil {
			return out, err
		}
	}
	if keepRecord {
		return out, nil
	}
	p, err := s.send(ctx, prov, nil, "removeNode", s.reg.PackRemoveNode(pk))
	if err != nil {
		return out, err
	}
	more, err := s.wait(ctx, p)
	return append(out, more...), err
}

// node reads one node; a missing node is a NodeNotFound RevertError.
func (s *session) node(ctx context.Context, pubKey string) ([32]byte, contract.NodeRegistryNodeView, error) {
	var pk [32]byte
	if !desired.ValidPubKey(pubKey) {
		return pk, contract.NodeRegistryNodeView{}, fmt.Errorf("pubKey %q: want 0x and 64 lowercase hex digits", pubKey)
	}
	copy(pk[:], common.FromHex(pubKey))
	v, err := bind.Call(s.inst, &bind.CallOpts{Context: ctx}, s.reg.PackGetNode(pk), s.reg.UnpackGetNode)
	if err != nil {
		return pk, v, s.explainCall("getNode", err)
	}
	return pk, v, nil
}

// explainCall is explain for a read (no sender).
func (s *session) explainCall(method string, err error) error {
	if data, ok := ethclient.RevertErrorData(err); ok {
		e := decodeRevert(s.reg, method, common.Address{}, data)
		e.From = "" // a read has no sender
		return e
	}
	return fmt.Errorf("calling %s: %w", method, err)
}

// listPage is how many nodes one listNodes call reads.
const listPage = 100

// List reads every node of the registry at the latest block, with its
// cluster flags (RegistryNode.Admitted: in its cluster and validated).
func List(ctx context.Context, info Info) ([]chain.RegistryNode, error) {
	s, err := open(ctx, info)
	if err != nil {
		return nil, err
	}
	defer s.close()
	head, err := s.client.BlockNumber(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the head block: %w", err)
	}
	at := &bind.CallOpts{Context: ctx, BlockNumber: new(big.Int).SetUint64(head)}
	count, err := bind.Call(s.inst, at, s.reg.PackNodeCount(), s.reg.UnpackNodeCount)
	if err != nil {
		return nil, s.explainCall("nodeCount", err)
	}
	if !count.IsInt64() || count.Int64() > chain.MaxRegistryNodes {
		return nil, fmt.Errorf("the registry holds %s nodes, more than the %d supported", count, chain.MaxRegistryNodes)
	}
	total := count.Int64()
	out := make([]chain.RegistryNode, 0, total)
	for off := int64(0); off < total; {
		page, err := bind.Call(s.inst, at, s.reg.PackListNodes(big.NewInt(off), big.NewInt(listPage)), s.reg.UnpackListNodes)
		if err != nil {
			return nil, s.explainCall("listNodes", err)
		}
		if len(page) == 0 {
			break
		}
		for _, v := range page {
			out = append(out, chain.RegistryNode{
				Record: recordOf(v.Record), Provider: v.Provider.Hex(), InCluster: v.InCluster, Validated: v.Validated,
			})
		}
		off += int64(len(page))
	}
	return out, nil
}

// recordOf is a contract record in the bot's encoding.
func recordOf(r contract.NodeRegistryNodeRecord) chain.Record {
	return chain.Record{
		PubKey: hex32(r.PubKey), ProviderID: hex32(r.ProviderId), ClusterID: hex20(r.ClusterId),
		Host: r.Host, Domain: r.Domain, SSL: r.Ssl,
		HTTPPort: r.HttpPort, GRPCPort: r.GrpcPort, P2PPort: r.P2pPort, Mode: chain.ModeName(r.Mode),
	}
}

// hex20 is 0x + 40 lowercase hex digits.
func hex20(b [20]byte) string { return fmt.Sprintf("0x%x", b[:]) }
