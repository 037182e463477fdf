package lab

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/lab/devchain"
)

// defaultBotConfirmations is the lab bot's depth: with a block every
// second, a registry change is proposed about two seconds after it is mined.
const defaultBotConfirmations = 2

// chainPlan is the dev chain's part of a lab run: the geth binary, found
// (or built) before anything else starts, and the spare nodes.
type chainPlan struct {
	geth   string
	spares []devchain.Spare
}

// prepareChain finds or builds geth and plans the spare nodes (one per zone
// with a cluster id), giving each its pubKey and the name the bot will use.
func (l *lab) prepareChain(ctx context.Context, f *desired.Fleet) (*chainPlan, error) {
	cache := l.o.GethCacheDir
	if cache == "" {
		var err error
		if cache, err = devchain.DefaultCacheDir(); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
	}
	geth, err := devchain.Geth(ctx, cache, l.progress)
	if err != nil {
		return nil, fmt.Errorf("lab: the dev chain needs geth (or run with --no-chain): %w", err)
	}
	cp := &chainPlan{geth: geth}
	l.plan.addSpares(f)
	for i := range l.plan.machines {
		m := &l.plan.machines[i]
		if m.spare == nil {
			continue
		}
		s, err := devchain.NewSpare(m.zone, m.spare.clusterID, m.addr.Addr().String(), m.node.HTTPPort, m.node.GRPCPort)
		if err != nil {
			return nil, fmt.Errorf("lab: spare node of zone %s: %w", m.zone, err)
		}
		m.spare.chainName = s.Name
		cp.spares = append(cp.spares, s)
	}
	return cp, nil
}

// startChain runs geth --dev, deploys the NodeRegistry, registers and
// admits the fleet's nodes on it (so the bot's first full sync proposes no
// removal), writes the chain info for `ddc-gitops lab node`, and starts the
// bot in no-GitHub mode, exactly as in production. It returns the bot's
// metrics address.
func (l *lab) startChain(ctx context.Context, cp *chainPlan, f *desired.Fleet, info *Info) (string, error) {
	dir := filepath.Join(l.o.StateDir, "chain")
	addr := func(port int) (string, error) {
		if port != 0 {
			return net.JoinHostPort(l.o.ListenHost, strconv.Itoa(port)), nil
		}
		return devchain.FreeAddr(l.o.ListenHost)
	}
	httpAddr, err := addr(l.o.ChainHTTPPort)
	if err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	wsAddr, err := addr(l.o.ChainWSPort)
	if err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	start := time.Now()
	node, err := devchain.Start(ctx, devchain.Options{Geth: cp.geth, DataDir: filepath.Join(dir, "geth"),
		LogFile: filepath.Join(l.o.StateDir, "logs", "geth.log"), HTTPAddr: httpAddr, WSAddr: wsAddr, Logger: l.log})
	if err != nil {
		return "", fmt.Errorf("lab: starting the dev chain (ports taken? --chain-http-port, --chain-ws-port): %w", err)
	}
	l.chain = node
	clusters := map[string]string{}
	for _, s := range cp.spares {
		clusters[s.ClusterID] = s.Zone
	}
	for _, n := range f.Nodes {
		if n.ClusterID != "" {
			clusters[n.ClusterID] = n.Zone
		}
	}
	ci, err := node.Deploy(ctx, clusters)
	if err != nil {
		return "", fmt.Errorf("lab: deploying the NodeRegistry: %w", err)
	}
	txs, err := devchain.Seed(ctx, ci, devchain.FleetRecords(f))
	if err != nil {
		return "", fmt.Errorf("lab: registering the fleet's nodes on the chain: %w", err)
	}
	conf := l.o.BotConfirmations
	if conf == 0 {
		conf = defaultBotConfirmations
	}
	// The bot's first full sync reads the registry at its confirmation
	// depth: before the seed is that deep, the fleet's nodes are missing
	// there and it would propose removing every one of them.
	seeded := ci.DeployBlock
	for _, tx := range txs {
		seeded = max(seeded, tx.Block)
	}
	if err := waitBlock(ctx, ci.HTTPURL, seeded+conf, 30*time.Second); err != nil {
		return "", fmt.Errorf("lab: waiting for the registered nodes to be %d blocks deep: %w", conf, err)
	}
	ci.Confirmations, ci.BlockPeriodSeconds, ci.Spares = conf, uint64(node.Period/time.Second), cp.spares
	infoFile := filepath.Join(l.o.StateDir, filepath.FromSlash(devchain.InfoFile))
	if err := devchain.WriteInfo(infoFile, ci); err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	l.progress("dev chain %s: NodeRegistry %s, %d fleet nodes registered (%.1fs)", node.HTTPURL, ci.Contract, len(f.Nodes), time.Since(start).Seconds())

	botAddr, err := devchain.FreeAddr(l.o.ListenHost)
	if err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	var zones []string
	for id, z := range clusters {
		zones = append(zones, id+"="+z)
	}
	sort.Strings(zones)
	args := []string{"bot", "--rpc-url", ci.WSURL, "--contract", ci.Contract,
		"--start-block", strconv.FormatUint(ci.DeployBlock, 10), "--confirmations", strconv.FormatUint(conf, 10),
		"--cluster-zone", strings.Join(zones, ","), "--repo", l.git.URL(), "--forge", "none",
		"--state-dir", filepath.Join(dir, "bot"), "--poll", "2s", "--listen", botAddr}
	if _, err := l.start("bot", "", args); err != nil {
		return "", err
	}
	ch := &ChainInfo{HTTPURL: ci.HTTPURL, WSURL: ci.WSURL, Contract: ci.Contract, InfoFile: infoFile, BotURL: "http://" + botAddr}
	for _, s := range cp.spares {
		ch.Spares = append(ch.Spares, SpareInfo{Zone: s.Zone, Machine: s.Zone + "-spare", Name: s.Name, PubKey: s.PubKey,
			Address: net.JoinHostPort(s.Host, strconv.Itoa(s.HTTPPort))})
	}
	info.Chain = ch
	l.progress("bot started (no-GitHub mode: proposals are branches bot/node/<pubKey> in the fleet repository)")
	return botAddr, nil
}

// waitBlock waits until the chain at rpcURL has block number n.
func waitBlock(ctx context.Context, rpcURL string, n uint64, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := ethclient.DialContext(ctx, rpcURL)
	if err != nil {
		return fmt.Errorf("dialing %s: %w", rpcURL, err)
	}
	defer c.Close()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		head, err := c.BlockNumber(ctx)
		if err == nil && head >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("block %d not reached (head %d, last error %v): %w", n, head, err, ctx.Err())
		case <-tick.C:
		}
	}
}

// closeChain stops geth.
func (l *lab) closeChain() error {
	if l.chain == nil {
		return nil
	}
	if err := l.chain.Close(); err != nil {
		return fmt.Errorf("stopping the dev chain: %w", err)
	}
	return nil
}
