package chain

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"

	"github.com/ddc-gitops/ddc-gitops/bot/contract"
)

// waitTimeout bounds every wait in these tests.
const waitTimeout = 60 * time.Second

var simChainID = big.NewInt(1337)

// simEnv is an in-process chain with the NodeRegistry deployed, a cluster
// and its manager.
type simEnv struct {
	sim       *simulated.Backend
	client    simulated.Client
	reg       *contract.NodeRegistry
	inst      *bind.BoundContract
	addr      common.Address
	owner     *bind.TransactOpts
	provider  *bind.TransactOpts
	manager   *bind.TransactOpts
	mgrKey    *ecdsa.PrivateKey
	clusterID [20]byte
	// nonces are the next nonce of each sender: the pool adds transactions
	// asynchronously, so PendingNonceAt lags behind back-to-back sends.
	nonces map[common.Address]uint64
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		tb.Fatalf("generating key: %v", err)
	}
	return k
}

// newSimEnv starts a chain, deploys the registry and sets the cluster manager.
// The chain is closed by t.Cleanup (or by the caller when tb is nil-safe).
func newSimEnv(tb testing.TB) *simEnv {
	tb.Helper()
	return newSimEnvWith(tb)
}

// newSimEnvWith is newSimEnv with options for the simulated node.
func newSimEnvWith(tb testing.TB, opts ...func(*node.Config, *ethconfig.Config)) *simEnv {
	tb.Helper()
	e, err := buildSimEnv(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = e.sim.Close() })
	return e
}

func buildSimEnv(opts ...func(*node.Config, *ethconfig.Config)) (*simEnv, error) {
	ownerKey, _ := crypto.GenerateKey()
	provKey, _ := crypto.GenerateKey()
	mgrKey, _ := crypto.GenerateKey()
	funds := new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(1e18))
	alloc := types.GenesisAlloc{}
	for _, k := range []*ecdsa.PrivateKey{ownerKey, provKey, mgrKey} {
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: funds}
	}
	sim := simulated.NewBackend(alloc, opts...)
	e := &simEnv{
		sim:      sim,
		client:   sim.Client(),
		reg:      contract.NewNodeRegistry(),
		owner:    bind.NewKeyedTransactor(ownerKey, simChainID),
		provider: bind.NewKeyedTransactor(provKey, simChainID),
		manager:  bind.NewKeyedTransactor(mgrKey, simChainID),
		mgrKey:   mgrKey,
		nonces:   make(map[common.Address]uint64),
	}
	copy(e.clusterID[:], common.FromHex("0x67424cc500a0532b2ca4e63d681a279809170593"))
	addr, tx, err := bind.DeployContract(e.owner, common.FromHex(contract.NodeRegistryMetaData.Bin), e.client, nil)
	if err != nil {
		_ = sim.Close()
		return nil, fmt.Errorf("deploying NodeRegistry: %w", err)
	}
	sim.Commit()
	if err := e.checkReceipt(tx); err != nil {
		_ = sim.Close()
		return nil, err
	}
	e.addr = addr
	e.inst = e.reg.Instance(e.client, addr)
	tx, err = bind.Transact(e.inst, e.owner, e.reg.PackSetClusterManager(e.clusterID, e.manager.From))
	if err != nil {
		_ = sim.Close()
		return nil, fmt.Errorf("setting the cluster manager: %w", err)
	}
	sim.Commit()
	if err := e.checkReceipt(tx); err != nil {
		_ = sim.Close()
		return nil, err
	}
	return e, nil
}

func (e *simEnv) checkReceipt(tx *types.Transaction) error {
	r, err := e.client.TransactionReceipt(context.Background(), tx.Hash())
	if err != nil {
		return fmt.Errorf("receipt of %s: %w", tx.Hash().Hex(), err)
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return fmt.Errorf("tx %s reverted", tx.Hash().Hex())
	}
	return nil
}

// send sends a transaction without committing it.
func (e *simEnv) send(tb testing.TB, from *bind.TransactOpts, data []byte) *types.Transaction {
	tb.Helper()
	tx, err := sendTx(e, from, data)
	if err != nil {
		tb.Fatal(err)
	}
	return tx
}

// sendTx sends a transaction with the next nonce of its sender.
func sendTx(e *simEnv, from *bind.TransactOpts, data []byte) (*types.Transaction, error) {
	nonce, ok := e.nonces[from.From]
	if !ok {
		n, err := e.client.NonceAt(context.Background(), from.From, nil)
		if err != nil {
			return nil, fmt.Errorf("reading nonce: %w", err)
		}
		nonce = n
	}
	opts := *from
	opts.Nonce = new(big.Int).SetUint64(nonce)
	tx, err := bind.Transact(e.inst, &opts, data)
	if err != nil {
		return nil, fmt.Errorf("sending tx: %w", err)
	}
	e.nonces[from.From] = nonce + 1
	return tx, nil
}

// fork makes parent the head (see simulated.Backend.Fork) and forgets the
// nonces it counted.
func (e *simEnv) fork(tb testing.TB, parent common.Hash) {
	tb.Helper()
	if err := e.sim.Fork(parent); err != nil {
		tb.Fatalf("fork: %v", err)
	}
	clear(e.nonces)
}

// do sends a transaction, seals a block and checks the tx succeeded. It
// returns the block number and hash.
func (e *simEnv) do(tb testing.TB, from *bind.TransactOpts, data []byte) (uint64, common.Hash) {
	tb.Helper()
	n, h, _ := e.doTx(tb, from, data)
	return n, h
}

// doTx is do that also returns the transaction.
func (e *simEnv) doTx(tb testing.TB, from *bind.TransactOpts, data []byte) (uint64, common.Hash, *types.Transaction) {
	tb.Helper()
	tx := e.send(tb, from, data)
	e.sim.Commit()
	n, h := e.mined(tb, tx)
	return n, h, tx
}

// mined returns the block of a successful transaction.
func (e *simEnv) mined(tb testing.TB, tx *types.Transaction) (uint64, common.Hash) {
	tb.Helper()
	r, err := e.client.TransactionReceipt(context.Background(), tx.Hash())
	if err != nil || r.Status != types.ReceiptStatusSuccessful {
		tb.Fatalf("tx %s failed: receipt %+v, err %v", tx.Hash().Hex(), r, err)
	}
	return r.BlockNumber.Uint64(), r.BlockHash
}

// hashAt is the canonical hash at height n.
func (e *simEnv) hashAt(tb testing.TB, n uint64) common.Hash {
	tb.Helper()
	h, err := e.client.HeaderByNumber(context.Background(), new(big.Int).SetUint64(n))
	if err != nil {
		tb.Fatalf("reading block %d: %v", n, err)
	}
	return h.Hash()
}

func (e *simEnv) commit(n int) {
	for i := 0; i < n; i++ {
		e.sim.Commit()
	}
}

func (e *simEnv) head(tb testing.TB) *types.Header {
	tb.Helper()
	h, err := e.client.HeaderByNumber(context.Background(), nil)
	if err != nil {
		tb.Fatalf("reading head: %v", err)
	}
	return h
}

// replaceNonce makes sure a transaction already sent by the manager with
// nonce does not reach the chain again after a Fork: a self-transfer with the
// same nonce and far higher fees wins over the re-injected original.
func (e *simEnv) replaceNonce(tb testing.TB, nonce uint64) {
	tb.Helper()
	to := e.manager.From
	tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{
		ChainID:   simChainID,
		Nonce:     nonce,
		GasTipCap: big.NewInt(100e9),
		GasFeeCap: big.NewInt(200e9),
		Gas:       21000,
		To:        &to,
	}), types.LatestSignerForChainID(simChainID), e.mgrKey)
	if err != nil {
		tb.Fatalf("signing replacement tx: %v", err)
	}
	// Right after a Fork the pool may still hold the old head's state
	// ("nonce too low") until its asynchronous reset runs.
	var err2 error
	waitFor(tb, "the pool to accept the replacement tx", func() bool {
		err2 = e.client.SendTransaction(context.Background(), tx)
		return err2 == nil || !strings.Contains(err2.Error(), "nonce too low")
	})
	if err2 != nil {
		tb.Fatalf("sending replacement tx: %v", err2)
	}
}

// nodeRecord is a valid test record number i.
func (e *simEnv) nodeRecord(i int) contract.NodeRegistryNodeRecord {
	var r contract.NodeRegistryNodeRecord
	r.PubKey = crypto.Keccak256Hash([]byte(fmt.Sprintf("node-%d", i)))
	r.ProviderId = crypto.Keccak256Hash([]byte("provider"))
	r.ClusterId = e.clusterID
	r.Host = fmt.Sprintf("198.18.1.%d", 1+i%250)
	r.Domain = fmt.Sprintf("node-%d.ddc.example", i)
	r.HttpPort, r.GrpcPort, r.P2pPort = 8080, 9091, 9070
	r.Mode = 2
	return r
}

func paramsOf(r contract.NodeRegistryNodeRecord) contract.NodeRegistryNodeParams {
	return contract.NodeRegistryNodeParams{
		Host: r.Host, Domain: r.Domain, Ssl: r.Ssl,
		HttpPort: r.HttpPort, GrpcPort: r.GrpcPort, P2pPort: r.P2pPort, Mode: r.Mode,
	}
}

// recorder collects the watcher's metrics.
type recorder struct {
	block  atomic.Uint64
	events atomic.Int64
	errors atomic.Int64
	undos  atomic.Int64
}

func (r *recorder) OnBlock(n uint64) { r.block.Store(n) }
func (r *recorder) OnEvent(_ EventKind, removed bool) {
	r.events.Add(1)
	if removed {
		r.undos.Add(1)
	}
}
func (r *recorder) OnError() { r.errors.Add(1) }

// run is a watcher running in the background.
type run struct {
	w      *EVMWatcher
	events chan Event
	rec    *recorder
	cancel context.CancelFunc
	done   chan error
}

func testConfig(e *simEnv, dir string, depth uint64) Config {
	return Config{
		Contract:      e.addr,
		StateDir:      dir,
		Confirmations: depth,
		PollInterval:  20 * time.Millisecond,
		MinBackoff:    time.Millisecond,
		MaxBackoff:    10 * time.Millisecond,
		Logger:        testLogger(),
	}
}

// startWatcher runs a watcher until the test ends. Events go to a large
// buffer, so every event of a block is in it once OnBlock reported the block.
func startWatcher(tb testing.TB, cfg Config, b Backend) *run {
	tb.Helper()
	rec := &recorder{}
	cfg.Metrics = rec
	w, err := NewEVMWatcher(cfg, b)
	if err != nil {
		tb.Fatal(err)
	}
	return runWatcher(tb, w, rec)
}

// runWatcher runs w (whose Metrics is rec) until the test ends.
func runWatcher(tb testing.TB, w *EVMWatcher, rec *recorder) *run {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{w: w, events: make(chan Event, 10_000), rec: rec, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx, r.events) }()
	tb.Cleanup(func() { r.stop(tb) })
	return r
}

// stop cancels the watcher and waits for Run to return (idempotent).
func (r *run) stop(tb testing.TB) {
	tb.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			tb.Errorf("watcher Run: %v", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(waitTimeout):
		tb.Errorf("watcher did not stop")
	}
}

// waitBlock waits until the watcher has processed block n.
func (r *run) waitBlock(tb testing.TB, n uint64) {
	tb.Helper()
	waitFor(tb, fmt.Sprintf("watcher at block %d", n), func() bool { return r.rec.block.Load() >= n })
}

// next returns the next event.
func (r *run) next(tb testing.TB) Event {
	tb.Helper()
	select {
	case e := <-r.events:
		return e
	case <-time.After(waitTimeout):
		tb.Fatalf("no event within %s (watcher at block %d)", waitTimeout, r.rec.block.Load())
		return Event{}
	}
}

// none fails if an event is buffered.
func (r *run) none(tb testing.TB) {
	tb.Helper()
	select {
	case e := <-r.events:
		tb.Fatalf("unexpected event %+v", e)
	default:
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// wantRecord converts a contract record the way the watcher should.
func wantRecord(r contract.NodeRegistryNodeRecord) Record { return recordFrom(r) }

// checkEvent compares the fields of an event that a test can predict.
func checkEvent(tb testing.TB, got Event, kind EventKind, rec contract.NodeRegistryNodeRecord, block uint64, hash common.Hash, removed bool) {
	tb.Helper()
	want := wantRecord(rec)
	if got.Kind != kind || got.Node != want || got.Block != block || got.BlockHash != hash.Hex() || got.Removed != removed || got.ChainID != 1337 {
		tb.Fatalf("event:\n got  %+v\n want kind %s block %d hash %s removed %v node %+v", got, kind, block, hash.Hex(), removed, want)
	}
	if !strings.HasPrefix(got.TxHash, "0x") || len(got.TxHash) != 66 {
		tb.Fatalf("event tx hash %q", got.TxHash)
	}
}

// sharedChains holds chains built once per test process (read-only users).
var sharedChains struct {
	mu      sync.Mutex
	closers []func()
}

func TestMain(m *testing.M) {
	code := m.Run()
	sharedChains.mu.Lock()
	for _, c := range sharedChains.closers {
		c()
	}
	sharedChains.mu.Unlock()
	os.Exit(code)
}
