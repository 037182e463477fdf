package bot

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"

	"github.com/ddc-gitops/ddc-gitops/bot/chain"
	"github.com/ddc-gitops/ddc-gitops/bot/contract"
)

var simChainID = big.NewInt(1337)

// simChain is an in-process chain with the real NodeRegistry deployed
// through its bindings, and the eu cluster's manager set.
type simChain struct {
	sim      *simulated.Backend
	client   simulated.Client
	reg      *contract.NodeRegistry
	inst     *bind.BoundContract
	addr     common.Address
	provider *bind.TransactOpts
	manager  *bind.TransactOpts
	cluster  [20]byte
	nonces   map[common.Address]uint64
}

func newSimChain(tb testing.TB) *simChain {
	tb.Helper()
	keys := make([]*ecdsa.PrivateKey, 3)
	alloc := types.GenesisAlloc{}
	for i := range keys {
		k, err := crypto.GenerateKey()
		if err != nil {
			tb.Fatal(err)
		}
		keys[i] = k
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(1e18))}
	}
	sim := simulated.NewBackend(alloc)
	tb.Cleanup(func() { _ = sim.Close() })
	c := &simChain{
		sim: sim, client: sim.Client(), reg: contract.NewNodeRegistry(),
		provider: bind.NewKeyedTransactor(keys[1], simChainID),
		manager:  bind.NewKeyedTransactor(keys[2], simChainID),
		nonces:   map[common.Address]uint64{},
	}
	copy(c.cluster[:], common.FromHex(euCluster))
	owner := bind.NewKeyedTransactor(keys[0], simChainID)
	addr, tx, err := bind.DeployContract(owner, common.FromHex(contract.NodeRegistryMetaData.Bin), c.client, nil)
	if err != nil {
		tb.Fatalf("deploying NodeRegistry: %v", err)
	}
	sim.Commit()
	c.mined(tb, tx)
	c.addr = addr
	c.inst = c.reg.Instance(c.client, addr)
	c.do(tb, owner, c.reg.PackSetClusterManager(c.cluster, c.manager.From))
	return c
}

// do sends a transaction with the sender's next nonce, seals a block and
// returns the receipt.
func (c *simChain) do(tb testing.TB, from *bind.TransactOpts, data []byte) *types.Receipt {
	tb.Helper()
	nonce, ok := c.nonces[from.From]
	if !ok {
		n, err := c.client.NonceAt(context.Background(), from.From, nil)
		if err != nil {
			tb.Fatal(err)
		}
		nonce = n
	}
	opts := *from
	opts.Nonce = new(big.Int).SetUint64(nonce)
	tx, err := bind.Transact(c.inst, &opts, data)
	if err != nil {
		tb.Fatalf("sending tx: %v", err)
	}
	c.nonces[from.From] = nonce + 1
	c.sim.Commit()
	return c.mined(tb, tx)
}

func (c *simChain) mined(tb testing.TB, tx *types.Transaction) *types.Receipt {
	tb.Helper()
	r, err := c.client.TransactionReceipt(context.Background(), tx.Hash())
	if err != nil || r.Status != types.ReceiptStatusSuccessful {
		tb.Fatalf("tx %s failed: %+v %v", tx.Hash().Hex(), r, err)
	}
	return r
}

func (c *simChain) commit(n int) {
	for range n {
		c.sim.Commit()
	}
}

// contractRecord is the chain form of a test record.
func (c *simChain) contractRecord(r chain.Record) contract.NodeRegistryNodeRecord {
	var out contract.NodeRegistryNodeRecord
	copy(out.PubKey[:], common.FromHex(r.PubKey))
	copy(out.ProviderId[:], common.FromHex(r.ProviderID))
	out.ClusterId = c.cluster
	out.Host, out.Domain, out.Ssl = r.Host, r.Domain, r.SSL
	out.HttpPort, out.GrpcPort, out.P2pPort = r.HTTPPort, r.GRPCPort, r.P2PPort
	out.Mode, _ = chain.ModeNumber(r.Mode)
	return out
}

// admit creates the node, adds it to the cluster and validates it; it
// returns the validation's receipt (the admission).
func (c *simChain) admit(tb testing.TB, r chain.Record) *types.Receipt {
	tb.Helper()
	rec := c.contractRecord(r)
	c.do(tb, c.provider, c.reg.PackCreateNode(rec))
	c.do(tb, c.manager, c.reg.PackAddNodeToCluster(c.cluster, rec.PubKey))
	return c.do(tb, c.manager, c.reg.PackValidateNode(rec.PubKey))
}

func (c *simChain) setParams(tb testing.TB, r chain.Record) *types.Receipt {
	tb.Helper()
	rec := c.contractRecord(r)
	return c.do(tb, c.provider, c.reg.PackSetNodeParams(rec.PubKey, contract.NodeRegistryNodeParams{
		Host: rec.Host, Domain: rec.Domain, Ssl: rec.Ssl, HttpPort: rec.HttpPort, GrpcPort: rec.GrpcPort, P2pPort: rec.P2pPort, Mode: rec.Mode,
	}))
}

func (c *simChain) remove(tb testing.TB, r chain.Record) *types.Receipt {
	tb.Helper()
	return c.do(tb, c.provider, c.reg.PackRemoveNode(c.contractRecord(r).PubKey))
}

const simDepth = 2

// watcher makes a chain watcher on dir reporting to m.
func (c *simChain) watcher(tb testing.TB, dir string, m *Metrics) *chain.EVMWatcher {
	tb.Helper()
	w, err := chain.NewEVMWatcher(chain.Config{
		Contract: c.addr, StateDir: dir, Confirmations: simDepth, PollInterval: 20 * time.Millisecond,
		MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, Metrics: m.Chain(), Logger: testLogger(tb),
	}, c.client)
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

// running is a bot's Run in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func startBot(tb testing.TB, b *Bot) *running {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- b.Run(ctx) }()
	tb.Cleanup(func() { r.stop(tb) })
	return r
}

func (r *running) stop(tb testing.TB) {
	tb.Helper()
	if r.done == nil {
		return
	}
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			tb.Errorf("bot Run: %v", err)
		}
	case <-time.After(waitTimeout):
		tb.Errorf("bot Run did not stop")
	}
	r.done = nil
}

// simEnv is a bot following a simulated chain, proposing to a fake GitHub.
type simEnv struct {
	*env
	chain    *simChain
	chainDir string
	metrics  *Metrics
	watch    *chain.EVMWatcher
	run      *running
}

func newSimEnv(t testing.TB) *simEnv {
	t.Helper()
	c := newSimChain(t)
	s := &simEnv{chain: c, chainDir: filepath.Join(t.TempDir(), "chain")}
	s.metrics, _ = NewMetrics(nil)
	s.watch = c.watcher(t, s.chainDir, s.metrics)
	s.env = newEnv(t, envOptions{github: true, source: s.watch, registry: s.watch, metrics: s.metrics})
	s.run = startBot(t, s.bot)
	return s
}

// restart stops the bot and starts a new one (new watcher, new clone
// handle) on the same state directories.
func (s *simEnv) restart(t testing.TB) {
	t.Helper()
	s.run.stop(t)
	s.metrics, _ = NewMetrics(nil)
	s.watch = s.chain.watcher(t, s.chainDir, s.metrics)
	s.bot = s.newBot(envOptions{source: s.watch, registry: s.watch, metrics: s.metrics})
	s.run = startBot(t, s.bot)
}

// confirm seals blocks until the receipt's block is at the confirmation depth.
func (s *simEnv) confirm(r *types.Receipt) { s.chain.commit(simDepth) }

func txHex(r *types.Receipt) string { return "0x" + hex.EncodeToString(r.TxHash[:]) }

// The whole path on a simulated chain with the real contract: admission ->
// one pull request with a valid node file and the event's provenance; a
// restart -> no second pull request; a parameter change -> the same pull
// request updated; a removal before the merge -> the pull request closed;
// an invalid host or a port 0 -> no pull request, counted.
func TestChainToPullRequest(t *testing.T) {
	s := newSimEnv(t)
	r := testRecord(1)
	admit := s.chain.admit(t, r)
	s.confirm(admit)
	waitFor(t, "the admission pull request", func() bool { return s.gh.numPRs() == 1 })
	branch := UpsertBranch(r.PubKey)
	waitFor(t, "labels", func() bool { return len(s.gh.labels(t, 1)) == 2 })
	body := s.gh.pr(t, 1)["body"].(string)
	for _, want := range []string{"| Chain ID | 1337 |", fmt.Sprintf("| Block | %d (`%s`) |", admit.BlockNumber.Uint64(), admit.BlockHash.Hex()),
		"| Transaction | `" + txHex(admit) + "` |", fmt.Sprintf("| Log index | %d |", admit.Logs[0].Index), "| Event | NodeAdmitted |"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	f, _, rev := s.mustLoadBranch(branch)
	if n := f.Node("node-a11ce0010000"); n == nil || !sameChainFields(n, r) || n.Zone != "eu" {
		t.Fatalf("node on the branch = %+v", n)
	}
	if !strings.Contains(rev.Message, "Tx: "+txHex(admit)+"\n") || !strings.Contains(rev.Message, fmt.Sprintf("Block: %d\n", admit.BlockNumber.Uint64())) {
		t.Fatalf("commit message:\n%s", rev.Message)
	}
	if got := counter(t, s.metrics.lastBlock); got < float64(admit.BlockNumber.Uint64()) {
		t.Fatalf("last_block = %v, want >= %d", got, admit.BlockNumber.Uint64())
	}
	if got := counter(t, s.metrics.target); got < counter(t, s.metrics.lastBlock) {
		t.Fatalf("target_block = %v, want >= last_block %v", got, counter(t, s.metrics.lastBlock))
	}
	head := s.branchHead(branch)

	// Restart: the watcher resumes from its checkpoint; a second node's
	// admission is the barrier proving every earlier event was handled.
	writes := s.gh.writes()
	s.restart(t)
	r2 := testRecord(2)
	s.confirm(s.chain.admit(t, r2))
	waitFor(t, "the second node's pull request", func() bool { return s.gh.numPRs() == 2 && len(s.gh.labels(t, 2)) == 2 })
	if s.branchHead(branch) != head || s.gh.count(http.MethodPatch, "/pulls/1") != 0 {
		t.Fatal("the restart touched the first proposal")
	}
	if got := s.gh.writes() - writes; got != 2 { // create #2, label #2
		t.Fatalf("restart + second admission made %d forge writes, want 2", got)
	}

	// A parameter change before the merge updates pull request #1.
	moved := r
	moved.Host, moved.HTTPPort = "198.18.1.90", 8088
	s.confirm(s.chain.setParams(t, moved))
	waitFor(t, "pull request #1 to be updated", func() bool {
		return strings.Contains(s.gh.pr(t, 1)["body"].(string), "| host | `198.18.1.90` |")
	})
	f, _, _ = s.mustLoadBranch(branch)
	if n := f.Node("node-a11ce0010000"); n == nil || n.Host != "198.18.1.90" || n.HTTPPort != 8088 {
		t.Fatalf("branch node after the change = %+v", n)
	}
	if s.gh.numPRs() != 2 {
		t.Fatal("the change opened a pull request")
	}

	// Removed before the merge: #1 is closed with a comment.
	s.confirm(s.chain.remove(t, moved))
	waitFor(t, "pull request #1 to be closed", func() bool { return s.gh.pr(t, 1)["state"] == "closed" })
	if c := s.gh.commentsOf(1); len(c) != 1 || !strings.Contains(c[0], "left the registry") {
		t.Fatalf("comments on #1 = %q", c)
	}

	// Invalid records: no pull request, counted; a valid node is the barrier.
	evil, zero := testRecord(3), testRecord(4)
	evil.Host = "evil.example\n  server x 1.2.3.4:80"
	zero.HTTPPort = 0
	s.chain.admit(t, evil)
	s.chain.admit(t, zero)
	r5 := testRecord(5)
	s.confirm(s.chain.admit(t, r5))
	waitFor(t, "the fifth node's pull request", func() bool { return s.gh.numPRs() == 3 })
	if got := counter(t, s.metrics.invalid); got != 2 {
		t.Fatalf("invalid_events_total = %v, want 2", got)
	}
	for _, bad := range []chain.Record{evil, zero} {
		if s.branchHead(UpsertBranch(bad.PubKey)) != "" {
			t.Fatalf("a branch was pushed for invalid node %s", bad.PubKey)
		}
	}
	if got := counter(t, s.metrics.events.WithLabelValues(EventKindAdmitted)); got != 4 {
		t.Errorf("events_total{admitted} after the restart = %v, want 4", got)
	}
}
