package devchain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/ddc-gitops/ddc-gitops/bot/chain"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/examples"
)

// gethDefaultDevAddr is the account geth --dev makes when its keystore is
// empty (cmd/utils.DeveloperAddr).
var gethDefaultDevAddr = common.HexToAddress("0x71562b71999873DB5b286dF957af199Ec94617F7")

// geth --dev takes the key written to its keystore as the prefunded
// developer account (not its built-in one), serves HTTP and WebSocket, and
// keeps sealing blocks on its own.
func TestStartUsesDevKey(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, Options{DevKey: key})
	want := crypto.PubkeyToAddress(key.PublicKey)
	if n.DevAddress != want {
		t.Fatalf("DevAddress %s, want %s", n.DevAddress.Hex(), want.Hex())
	}
	if n.ChainID != 1337 {
		t.Fatalf("chain id %d, want 1337", n.ChainID)
	}
	ctx := testCtx(t)
	for _, url := range []string{n.HTTPURL, n.WSURL} {
		c, err := ethclient.DialContext(ctx, url)
		if err != nil {
			t.Fatalf("dialing %s: %v", url, err)
		}
		defer c.Close()
		bal, err := c.BalanceAt(ctx, want, nil)
		if err != nil {
			t.Fatalf("%s: balance: %v", url, err)
		}
		if bal.Sign() <= 0 {
			t.Fatalf("%s: developer account %s has no funds", url, want.Hex())
		}
		other, err := c.BalanceAt(ctx, gethDefaultDevAddr, nil)
		if err != nil {
			t.Fatalf("%s: balance: %v", url, err)
		}
		if other.Sign() != 0 {
			t.Fatalf("%s: geth's built-in developer account holds %s: our key was not used", url, other)
		}
	}
	c, err := ethclient.DialContext(ctx, n.HTTPURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first, err := c.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "blocks without transactions", func() (bool, error) {
		h, err := c.BlockNumber(ctx)
		return h >= first+2, err
	})
	if fi, err := os.Stat(filepath.Join(n.DataDir, "password")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", fi, err)
	}
}

// The whole provider and manager flow on a real chain, as the bot sees it.
func TestRegisterAdmitRemove(t *testing.T) {
	n := startNode(t, Options{})
	ctx := testCtx(t)
	t0 := time.Now()
	info, err := n.Deploy(ctx, testClusters)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("deploy: %s", time.Since(t0).Round(time.Millisecond))
	if info.ChainID != n.ChainID || info.HTTPURL != n.HTTPURL || info.WSURL != n.WSURL || info.BlockPeriodSeconds != 1 {
		t.Fatalf("info %+v does not match node", info)
	}
	if len(info.Clusters) != 2 || info.Clusters[clusterEU] != "eu" {
		t.Fatalf("clusters %v", info.Clusters)
	}
	sp, err := NewSpare("eu", clusterEU, "198.18.1.24", 8080, 9091)
	if err != nil {
		t.Fatal(err)
	}
	info.Spares = []Spare{sp}
	path := filepath.Join(t.TempDir(), InfoFile)
	if err := WriteInfo(path, info); err != nil {
		t.Fatal(err)
	}
	info, err = ReadInfo(path)
	if err != nil {
		t.Fatal(err)
	}

	// The bot's watcher, as the lab runs it: WebSocket, confirmations.
	const depth = 2
	w, err := chain.DialEVMWatcher(chain.Config{
		Contract: common.HexToAddress(info.Contract), StateDir: t.TempDir(), Confirmations: depth,
		StartBlock: info.DeployBlock, PollInterval: 200 * time.Millisecond,
	}, info.WSURL)
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan chain.Event, 16)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx, events) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("watcher: %v", err)
		}
	})

	t1 := time.Now()
	reg, err := Register(ctx, info, sp)
	if err != nil {
		t.Fatal(err)
	}
	if len(reg) != 1 || reg[0].Method != "createNode" || reg[0].From != crypto.PubkeyToAddress(mustKey(t, info.ProviderKey).PublicKey).Hex() {
		t.Fatalf("register txs %+v", reg)
	}
	nodes := listNodes(t, info)
	if len(nodes) != 1 || nodes[0].Record != sp.Record() || nodes[0].InCluster || nodes[0].Validated {
		t.Fatalf("after register: %+v", nodes)
	}
	adm, err := Admit(ctx, info, sp.PubKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("register -> admitted (3 txs mined): %s", time.Since(t1).Round(time.Millisecond))
	if len(adm) != 2 || adm[0].Method != "addNodeToCluster" || adm[1].Method != "validateNode" {
		t.Fatalf("admit txs %+v", adm)
	}
	nodes = listNodes(t, info)
	if len(nodes) != 1 || !nodes[0].Admitted() || nodes[0].Record != sp.Record() {
		t.Fatalf("after admit: %+v", nodes)
	}
	e := nextEvent(t, events)
	if e.Kind != chain.NodeAdmitted || e.Node != sp.Record() || e.Block != adm[1].Block || e.TxHash != adm[1].Hash {
		t.Fatalf("watcher event %+v, want NodeAdmitted of %+v in %+v", e, sp.Record(), adm[1])
	}
	t.Logf("register -> bot event at depth %d: %s", depth, time.Since(t1).Round(time.Millisecond))

	rm, err := Remove(ctx, info, sp.PubKey, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rm) != 2 || rm[0].Method != "removeNodeFromCluster" || rm[1].Method != "removeNode" || rm[1].Block <= rm[0].Block {
		t.Fatalf("remove txs %+v", rm)
	}
	e = nextEvent(t, events)
	if e.Kind != chain.NodeRemoved || e.Node.PubKey != sp.PubKey || e.TxHash != rm[0].Hash {
		t.Fatalf("watcher event %+v, want NodeRemoved from %+v", e, rm[0])
	}
	if nodes := listNodes(t, info); len(nodes) != 0 {
		t.Fatalf("after remove: %+v", nodes)
	}
}

// Refused transactions come back as readable RevertErrors naming the
// contract's custom error.
func TestReverts(t *testing.T) {
	n := startNode(t, Options{})
	ctx := testCtx(t)
	info, err := n.Deploy(ctx, map[string]string{clusterEU: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := NewSpare("eu", clusterEU, "198.18.1.24", 8080, 9091)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Register(ctx, info, sp); err != nil {
		t.Fatal(err)
	}
	// A node declaring a cluster nobody manages.
	orphan, err := NewSpare("us", clusterUS, "198.18.2.24", 8080, 9091)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Register(ctx, info, orphan); err != nil {
		t.Fatal(err)
	}
	providerAsManager := info
	providerAsManager.ManagerKey = info.ProviderKey
	managerAsProvider := info
	managerAsProvider.ProviderKey = info.ManagerKey
	unknown, err := NewSpare("eu", clusterEU, "198.18.1.25", 8080, 9091)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		do       func() ([]Tx, error)
		wantName string
		wantText string
	}{
		{"register twice", func() ([]Tx, error) { return Register(ctx, info, sp) }, "NodeExists", "is already registered"},
		{"admit by the provider", func() ([]Tx, error) { return Admit(ctx, providerAsManager, sp.PubKey) }, "NotClusterManager", "is not the manager of cluster " + clusterEU},
		{"admit into an unmanaged cluster", func() ([]Tx, error) { return Admit(ctx, info, orphan.PubKey) }, "NotClusterManager", clusterUS},
		{"admit an unknown node", func() ([]Tx, error) { return Admit(ctx, info, unknown.PubKey) }, "NodeNotFound", "is not in the registry"},
		{"delete by the manager", func() ([]Tx, error) { return Remove(ctx, managerAsProvider, sp.PubKey, false) }, "NotProvider", "only the provider"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			txs, err := tc.do()
			var re *RevertError
			if !errors.As(err, &re) {
				t.Fatalf("got %v (txs %+v), want a RevertError", err, txs)
			}
			if re.Name != tc.wantName || !strings.Contains(err.Error(), tc.wantText) || !strings.Contains(err.Error(), "the NodeRegistry refused") {
				t.Fatalf("error %q (name %q), want %s mentioning %q", err, re.Name, tc.wantName, tc.wantText)
			}
			if len(txs) != 0 {
				t.Fatalf("txs %+v sent despite the revert", txs)
			}
			t.Log(err)
		})
	}
	// A transaction that is mined and reverts (sent without estimation) is
	// explained by replaying it.
	t.Run("mined revert", func(t *testing.T) {
		s, err := open(ctx, info)
		if err != nil {
			t.Fatal(err)
		}
		defer s.close()
		o := s.opts(ctx, mustKey(t, info.ProviderKey), nil)
		o.GasLimit = 500_000
		tx, err := s.inst.RawTransact(o, s.reg.PackCreateNode(sp.contractRecord()))
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.wait(ctx, pending{"createNode", o.From, tx})
		var re *RevertError
		if !errors.As(err, &re) || re.Name != "NodeExists" || !strings.Contains(err.Error(), "reverted in block") {
			t.Fatalf("got %v, want a mined NodeExists revert", err)
		}
	})
	// Nothing changed: still two nodes, neither admitted.
	nodes := listNodes(t, info)
	if len(nodes) != 2 || nodes[0].Admitted() || nodes[1].Admitted() {
		t.Fatalf("nodes %+v", nodes)
	}
}

// Info from another chain is refused with a clear message.
func TestStaleInfo(t *testing.T) {
	n := startNode(t, Options{})
	ctx := testCtx(t)
	info, err := n.Deploy(ctx, map[string]string{clusterEU: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	wrongID, noContract := info, info
	wrongID.ChainID = 4242
	noContract.Contract = common.HexToAddress("0x1234").Hex()
	for name, tc := range map[string]struct {
		info Info
		want string
	}{
		"chain id": {wrongID, "is stale"},
		"contract": {noContract, "no contract at"},
	} {
		if _, err := List(ctx, tc.info); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", name, err, tc.want)
		}
	}
}

func listNodes(t *testing.T, info Info) []chain.RegistryNode {
	t.Helper()
	nodes, err := List(testCtx(t), info)
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

func nextEvent(t *testing.T, ch <-chan chain.Event) chain.Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(testTimeout):
		t.Fatal("no watcher event")
		return chain.Event{}
	}
}

func mustKey(t *testing.T, s string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := parseKey("test", s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// waitFor polls cond until it holds or testTimeout passes.
func waitFor(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out (last error %v)", what, err)
		}
		<-tick.C
	}
}

// Seeding the registry with the example fleet admits all its nodes, with
// their records unchanged, in two blocks.
func TestSeedFleet(t *testing.T) {
	fleet, err := desired.Load(examples.Fleet())
	if err != nil {
		t.Fatal(err)
	}
	recs := FleetRecords(fleet)
	if len(recs) != 6 {
		t.Fatalf("%d fleet records, want 6", len(recs))
	}
	n := startNode(t, Options{})
	ctx := testCtx(t)
	info, err := n.Deploy(ctx, testClusters)
	if err != nil {
		t.Fatal(err)
	}
	txs, err := Seed(ctx, info, recs)
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) != 18 || txs[17].Block-txs[0].Block > 2 {
		t.Fatalf("%d txs from block %d to %d", len(txs), txs[0].Block, txs[len(txs)-1].Block)
	}
	nodes := listNodes(t, info)
	want := map[string]chain.Record{}
	for _, r := range recs {
		want[r.PubKey] = r
	}
	for _, got := range nodes {
		if !got.Admitted() || got.Record != want[got.Record.PubKey] {
			t.Errorf("node %+v, want admitted %+v", got, want[got.Record.PubKey])
		}
		delete(want, got.Record.PubKey)
	}
	if len(want) != 0 {
		t.Fatalf("not in the registry: %v", want)
	}
	// Seeding again is refused: the nodes exist.
	var re *RevertError
	if _, err := Seed(ctx, info, recs[:1]); !errors.As(err, &re) || re.Name != "NodeExists" {
		t.Fatalf("second seed: %v", err)
	}
}
