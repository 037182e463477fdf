package devchain

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
)

// Defaults for Options fields left zero.
const (
	// DefaultPeriod is the block period. The lab's bot acts on events at a
	// confirmation depth, so blocks must keep coming even when nobody sends
	// a transaction: one block a second makes N confirmations about N
	// seconds. (geth's --dev.period 0 would seal blocks only for pending
	// transactions, and the bot would wait forever.)
	DefaultPeriod       = time.Second
	DefaultReadyTimeout = 60 * time.Second
	DefaultStopTimeout  = 10 * time.Second
)

// readyPoll is how often Start asks geth whether it is ready.
const readyPoll = 50 * time.Millisecond

// Options configures Start.
type Options struct {
	// Geth is the geth binary (see Geth).
	Geth string
	// DataDir is geth's --datadir (created if missing). Its keystore must be
	// empty or hold only DevKey's account, since geth --dev takes the first
	// keystore account as its developer account.
	DataDir string
	// LogFile receives geth's output (default DataDir/geth.log).
	LogFile string
	// HTTPAddr and WSAddr are host:port of the JSON-RPC servers (see FreeAddr).
	HTTPAddr, WSAddr string
	// Period is the block period, whole seconds of at least one (default
	// DefaultPeriod).
	Period time.Duration
	// DevKey is the developer account's key, the account geth prefunds in
	// the genesis block (nil: a new key, in Node.DevKey).
	DevKey *ecdsa.PrivateKey
	// ReadyTimeout bounds the wait for the JSON-RPC servers (default
	// DefaultReadyTimeout); StopTimeout the wait after SIGTERM in Close
	// before SIGKILL (default DefaultStopTimeout).
	ReadyTimeout, StopTimeout time.Duration
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Node is a running `geth --dev`.
type Node struct {
	// HTTPURL and WSURL are the JSON-RPC endpoints (http://H:P, ws://H:P).
	HTTPURL, WSURL string
	// ChainID is the chain's id (1337 for geth --dev).
	ChainID uint64
	// Period is the block period.
	Period time.Duration
	// DevKey and DevAddress are the prefunded developer account.
	DevKey     *ecdsa.PrivateKey
	DevAddress common.Address
	// Args is geth's command line (without the binary).
	Args []string
	// DataDir and LogFile are as in Options, LogFile defaulted.
	DataDir, LogFile string

	cmd         *exec.Cmd
	log         *slog.Logger
	stopTimeout time.Duration
	done        chan struct{}
	waitErr     error // set before done is closed
	closeOnce   sync.Once
	closeErr    error
}

// FreeAddr returns host:port with a port that was free on host a moment ago
// (listen on port 0, then release it), for Options.HTTPAddr and WSAddr.
func FreeAddr(host string) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("finding a free port on %s: %w", host, err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("releasing %s: %w", addr, err)
	}
	return addr, nil
}

// GethArgs is the command line Start runs geth with (without the binary).
// The developer account is the keystore's first (only) account, unlocked
// with passwordFile; networking is off; only eth, net and web3 are served.
func GethArgs(dataDir, passwordFile, httpAddr, wsAddr string, period time.Duration) ([]string, error) {
	hh, hp, err := net.SplitHostPort(httpAddr)
	if err != nil {
		return nil, fmt.Errorf("HTTP address %q: %w", httpAddr, err)
	}
	wh, wp, err := net.SplitHostPort(wsAddr)
	if err != nil {
		return nil, fmt.Errorf("WebSocket address %q: %w", wsAddr, err)
	}
	vhosts := "localhost"
	if net.ParseIP(hh) == nil && hh != "localhost" {
		// geth accepts IP Host headers anyway; a name must be listed.
		vhosts += "," + hh
	}
	return []string{
		"--dev", "--dev.period", strconv.FormatInt(int64(period/time.Second), 10),
		"--datadir", dataDir, "--password", passwordFile,
		"--http", "--http.addr", hh, "--http.port", hp, "--http.api", "eth,net,web3", "--http.vhosts", vhosts,
		"--ws", "--ws.addr", wh, "--ws.port", wp, "--ws.api", "eth,net,web3",
		"--nodiscover", "--maxpeers", "0", "--ipcdisable",
		"--cache", "256", "--verbosity", "3",
	}, nil
}

// Start runs geth --dev and waits until its HTTP and WebSocket JSON-RPC
// servers answer and the developer account holds the genesis funds. The
// process runs until Close; it is also killed if the calling process dies
// (SIGKILL as parent-death signal). ctx bounds only the start.
func Start(ctx context.Context, o Options) (*Node, error) {
	if o.Geth == "" || o.DataDir == "" || o.HTTPAddr == "" || o.WSAddr == "" {
		return nil, errors.New("starting geth: Geth, DataDir, HTTPAddr and WSAddr are required")
	}
	if o.Period == 0 {
		o.Period = DefaultPeriod
	}
	if o.Period < time.Second || o.Period%time.Second != 0 {
		return nil, fmt.Errorf("starting geth: block period %s is not a whole number of seconds (at least 1s)", o.Period)
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("starting geth: resolving %s: %w", o.DataDir, err)
	}
	if o.LogFile == "" {
		o.LogFile = filepath.Join(dataDir, "geth.log")
	}
	if o.DevKey == nil {
		if o.DevKey, err = crypto.GenerateKey(); err != nil {
			return nil, fmt.Errorf("starting geth: generating the developer key: %w", err)
		}
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("starting geth: creating %s: %w", dataDir, err)
	}
	password, err := prepareKeystore(dataDir, o.DevKey)
	if err != nil {
		return nil, fmt.Errorf("starting geth: %w", err)
	}
	args, err := GethArgs(dataDir, password, o.HTTPAddr, o.WSAddr, o.Period)
	if err != nil {
		return nil, fmt.Errorf("starting geth: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(o.LogFile), 0o755); err != nil {
		return nil, fmt.Errorf("starting geth: creating the log directory: %w", err)
	}
	logf, err := os.OpenFile(o.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("starting geth: opening its log: %w", err)
	}
	n := &Node{
		HTTPURL: "http://" + o.HTTPAddr, WSURL: "ws://" + o.WSAddr,
		DevKey: o.DevKey, DevAddress: crypto.PubkeyToAddress(o.DevKey.PublicKey),
		Period: o.Period, Args: args, DataDir: dataDir, LogFile: o.LogFile,
		log: o.Logger, stopTimeout: o.StopTimeout, done: make(chan struct{}),
	}
	n.cmd = exec.Command(o.Geth, args...)
	n.cmd.Dir = dataDir
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	// Own process group: a terminal's Ctrl-C reaches the lab, which stops
	// geth in order. Pdeathsig is the backstop when the lab itself dies.
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that forked the
		// child exits: keep that thread for as long as geth runs.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := n.cmd.Start()
		started <- err
		if err == nil {
			n.waitErr = n.cmd.Wait()
		}
		_ = logf.Close()
		close(n.done)
	}()
	t0 := time.Now()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting %s: %w", o.Geth, err)
	}
	n.log.Info("geth started", "pid", n.cmd.Process.Pid, "http", n.HTTPURL, "ws", n.WSURL, "dev", n.DevAddress.Hex(), "log", n.LogFile)
	if err := n.waitReady(ctx, o.ReadyTimeout); err != nil {
		_ = n.Close()
		return nil, fmt.Errorf("starting geth: %w\n(log %s:)\n%s", err, n.LogFile, logTail(n.LogFile, 2000))
	}
	n.log.Info("geth ready", "after", time.Since(t0).Round(time.Millisecond), "chainId", n.ChainID)
	return n, nil
}

// waitReady polls both endpoints until they answer, then checks the
// developer account's funds.
func (n *Node) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	httpc, err := rpc.DialOptions(ctx, n.HTTPURL)
	if err != nil {
		return fmt.Errorf("creating the HTTP JSON-RPC client: %w", err)
	}
	defer httpc.Close()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	var httpOK, wsOK bool
	var last error
	for {
		if !httpOK {
			if id, err := chainID(ctx, httpc); err != nil {
				last = fmt.Errorf("HTTP %s: %w", n.HTTPURL, err)
			} else {
				httpOK, n.ChainID = true, id
			}
		}
		if httpOK && !wsOK {
			if err := pingWS(ctx, n.WSURL); err != nil {
				last = fmt.Errorf("WebSocket %s: %w", n.WSURL, err)
			} else {
				wsOK = true
			}
		}
		if httpOK && wsOK {
			break
		}
		select {
		case <-n.done:
			return fmt.Errorf("geth exited before it was ready: %v", n.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("JSON-RPC did not answer within %s: %w", timeout, last)
		case <-tick.C:
		}
	}
	bal, err := ethclient.NewClient(httpc).BalanceAt(ctx, n.DevAddress, nil)
	if err != nil {
		return fmt.Errorf("reading the developer account's balance: %w", err)
	}
	if bal.Sign() <= 0 {
		return fmt.Errorf("the developer account %s has no funds: geth did not take the keystore's account as its developer account", n.DevAddress.Hex())
	}
	return nil
}

// chainID asks for eth_chainId with a short timeout.
func chainID(ctx context.Context, c *rpc.Client) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var id hexutil.Big
	if err := c.CallContext(ctx, &id, "eth_chainId"); err != nil {
		return 0, err
	}
	return (*big.Int)(&id).Uint64(), nil
}

// pingWS connects to url and asks for eth_chainId.
func pingWS(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := rpc.DialContext(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = chainID(ctx, c)
	return err
}

// Deploy is Deploy on this node from its developer account, with the Info's
// WebSocket URL and block period filled in (the caller adds Confirmations
// and Spares).
func (n *Node) Deploy(ctx context.Context, clusters map[string]string) (Info, error) {
	info, err := Deploy(ctx, n.HTTPURL, n.DevKey, clusters)
	if err != nil {
		return Info{}, err
	}
	info.WSURL = n.WSURL
	info.BlockPeriodSeconds = uint64(n.Period / time.Second)
	return info, nil
}

// Done is closed when geth has exited.
func (n *Node) Done() <-chan struct{} { return n.done }

// ExitErr is how geth exited; valid once Done is closed.
func (n *Node) ExitErr() error { return n.waitErr }

// Pid is geth's process id.
func (n *Node) Pid() int { return n.cmd.Process.Pid }

// Close stops geth (SIGTERM, then SIGKILL after the stop timeout) and waits
// for it to exit. It reports an error when geth had already exited by itself
// or had to be killed. Safe to call more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		select {
		case <-n.done:
			n.closeErr = fmt.Errorf("geth had exited by itself: %v (log %s)", n.waitErr, n.LogFile)
			return
		default:
		}
		if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			n.log.Warn("signalling geth", "err", err)
		}
		t := time.NewTimer(n.stopTimeout)
		defer t.Stop()
		select {
		case <-n.done:
			n.log.Info("geth stopped")
		case <-t.C:
			_ = n.cmd.Process.Kill()
			<-n.done
			n.closeErr = fmt.Errorf("geth did not stop within %s of SIGTERM and was killed (log %s)", n.stopTimeout, n.LogFile)
		}
	})
	return n.closeErr
}

// prepareKeystore makes key the only account of dataDir's keystore (geth
// --dev takes the first keystore account as its developer account and
// unlocks it with --password) and returns the password file.
func prepareKeystore(dataDir string, key *ecdsa.PrivateKey) (string, error) {
	ksDir := filepath.Join(dataDir, "keystore")
	pwFile := filepath.Join(dataDir, "password")
	addr := crypto.PubkeyToAddress(key.PublicKey)
	suffix := strings.ToLower(hex.EncodeToString(addr[:]))
	entries, err := os.ReadDir(ksDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading the keystore %s: %w", ksDir, err)
	}
	found := false
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasSuffix(e.Name(), "~") {
			continue // geth skips these too
		}
		if !strings.HasSuffix(strings.ToLower(e.Name()), suffix) {
			return "", fmt.Errorf("the keystore %s holds another account (%s) that geth --dev would take as its developer account: use an empty data directory", ksDir, e.Name())
		}
		found = true
	}
	if found {
		if _, err := os.Stat(pwFile); err != nil {
			return "", fmt.Errorf("the keystore %s holds the developer account but its password file is missing: %w", ksDir, err)
		}
		return pwFile, nil
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return "", fmt.Errorf("generating the keystore password: %w", err)
	}
	password := hex.EncodeToString(secret)
	k := &keystore.Key{Address: addr, PrivateKey: key}
	if _, err := rand.Read(k.Id[:]); err != nil {
		return "", fmt.Errorf("generating the key id: %w", err)
	}
	k.Id[6] = k.Id[6]&0x0f | 0x40 // UUID version 4
	k.Id[8] = k.Id[8]&0x3f | 0x80 // RFC 4122 variant
	blob, err := keystore.EncryptKey(k, password, keystore.LightScryptN, keystore.LightScryptP)
	if err != nil {
		return "", fmt.Errorf("encrypting the developer key: %w", err)
	}
	if err := os.MkdirAll(ksDir, 0o700); err != nil {
		return "", fmt.Errorf("creating the keystore: %w", err)
	}
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing the keystore password: %w", err)
	}
	name := "UTC--" + time.Now().UTC().Format("2006-01-02T15-04-05.000000000Z") + "--" + suffix
	if err := os.WriteFile(filepath.Join(ksDir, name), blob, 0o600); err != nil {
		return "", fmt.Errorf("writing the developer key: %w", err)
	}
	return pwFile, nil
}

// logTail is the end of a log file, for error messages.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return tail(b, n)
}
