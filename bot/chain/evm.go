package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
)

// Backend is what the watcher needs from a chain client. *ethclient.Client
// and the simulated backend's client satisfy it.
type Backend interface {
	ethereum.ChainIDReader
	ethereum.LogFilterer
	ethereum.ContractCaller
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
}

// HeadSubscriber is implemented by backends that push new heads (WebSocket,
// IPC, in-process). The watcher uses it only as a wake-up.
type HeadSubscriber interface {
	SubscribeNewHead(ctx context.Context, ch chan<- *types.Header) (ethereum.Subscription, error)
}

// hashCaller is implemented by backends that can call a contract at a block
// hash (ethclient, the simulated client).
type hashCaller interface {
	CallContractAtHash(ctx context.Context, msg ethereum.CallMsg, blockHash common.Hash) ([]byte, error)
}

// EVMWatcher follows a NodeRegistry contract on an EVM chain; see the package
// documentation for its behaviour. It is a Source.
type EVMWatcher struct {
	cfg   Config
	dec   *decoder
	dial  func(ctx context.Context) (Backend, func(), error)
	fixed Backend

	mu      sync.Mutex // guards cur and closeFn
	cur     Backend
	closeFn func()

	running atomic.Bool
	// Owned by the Run goroutine.
	st        *state
	chainID   uint64
	rangeSize uint64
}

var _ Source = (*EVMWatcher)(nil)

// NewEVMWatcher returns a watcher that uses b for every call; errors are
// retried on the same backend.
func NewEVMWatcher(cfg Config, b Backend) (*EVMWatcher, error) {
	if b == nil {
		return nil, errors.New("creating chain watcher: nil backend")
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &EVMWatcher{cfg: cfg, dec: newDecoder(), fixed: b, rangeSize: cfg.MaxRange}, nil
}

// DialEVMWatcher returns a watcher that connects to an RPC endpoint (http,
// https, ws or wss URL) when it runs and reconnects after errors. Heads are
// pushed over WebSocket; over HTTP the watcher polls.
func DialEVMWatcher(cfg Config, rawURL string) (*EVMWatcher, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("creating chain watcher: parsing RPC URL: %w", err)
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return nil, fmt.Errorf("creating chain watcher: RPC URL scheme %q: want http, https, ws or wss", u.Scheme)
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	w := &EVMWatcher{cfg: cfg, dec: newDecoder(), rangeSize: cfg.MaxRange}
	w.dial = func(ctx context.Context) (Backend, func(), error) {
		c, err := ethclient.DialContext(ctx, rawURL)
		if err != nil {
			return nil, nil, fmt.Errorf("connecting to %s://%s: %w", u.Scheme, u.Host, err)
		}
		return c, c.Close, nil
	}
	return w, nil
}

// backend returns the connected backend, dialling when needed.
func (w *EVMWatcher) backend(ctx context.Context) (Backend, error) {
	if w.fixed != nil {
		return w.fixed, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cur != nil {
		return w.cur, nil
	}
	b, closeFn, err := w.dial(ctx)
	if err != nil {
		return nil, err
	}
	w.cur, w.closeFn = b, closeFn
	return b, nil
}

// disconnect drops a dialled backend so the next call reconnects.
func (w *EVMWatcher) disconnect() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closeFn != nil {
		w.closeFn()
	}
	w.cur, w.closeFn = nil, nil
}

// fatalError ends Run: retrying cannot help.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// Run follows the registry and sends events to out until ctx is cancelled
// (then it saves its state and returns nil). It returns an error only when
// its state file cannot be used. Only one Run may be active at a time.
func (w *EVMWatcher) Run(ctx context.Context, out chan<- Event) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("chain watcher: Run is already active")
	}
	defer w.running.Store(false)
	defer w.disconnect()
	log := w.cfg.Logger.With("component", "chain-watcher", "contract", w.cfg.Contract.Hex())
	failures := 0
	for {
		progressed, err := w.session(ctx, out)
		if w.st != nil {
			if serr := w.st.save(w.statePath()); serr != nil && err == nil {
				err = serr
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			return fmt.Errorf("chain watcher: %w", fatal.err)
		}
		w.cfg.Metrics.OnError()
		w.disconnect()
		if progressed {
			failures = 0
		}
		failures++
		d := backoff(w.cfg.MinBackoff, w.cfg.MaxBackoff, failures)
		log.Warn("chain watcher session failed; retrying", "err", err, "retry_in", d, "attempt", failures)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// backoff is min*2^(n-1) capped at max, with "equal jitter": half fixed,
// half random, so reconnecting watchers spread out.
func backoff(min, max time.Duration, n int) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	return half + rand.N(half+1)
}

func (w *EVMWatcher) statePath() string { return stateFileName(w.cfg.StateDir, w.cfg.Contract) }

// session connects, loads the state on first use and polls on every wake-up
// until an error or cancellation. progressed reports whether a poll succeeded.
func (w *EVMWatcher) session(ctx context.Context, out chan<- Event) (progressed bool, err error) {
	b, err := w.backend(ctx)
	if err != nil {
		return false, err
	}
	id, err := b.ChainID(ctx)
	if err != nil {
		return false, fmt.Errorf("reading chain id: %w", err)
	}
	if !id.IsUint64() {
		return false, &fatalError{fmt.Errorf("chain id %s does not fit 64 bits", id)}
	}
	if w.st == nil {
		st, err := loadState(w.statePath(), id.Uint64(), w.cfg.Contract)
		if err != nil {
			return false, &fatalError{err}
		}
		w.st, w.chainID = st, id.Uint64()
		if st.Checkpoint != nil {
			w.cfg.Metrics.OnBlock(st.Checkpoint.Number)
		}
	} else if id.Uint64() != w.chainID {
		return false, &fatalError{fmt.Errorf("the node is on chain %s, the watcher follows chain %d", id, w.chainID)}
	}

	var heads chan *types.Header
	var subErr <-chan error
	if hs, ok := b.(HeadSubscriber); ok {
		ch := make(chan *types.Header, 16)
		sub, err := hs.SubscribeNewHead(ctx, ch)
		if err != nil {
			w.cfg.Logger.Debug("chain watcher: no head subscription; polling only", "err", err)
		} else {
			defer sub.Unsubscribe()
			heads, subErr = ch, sub.Err()
		}
	}
	ticker := time.NewTicker(w.cfg.PollInterval)
	defer ticker.Stop()
	for {
		if err := w.poll(ctx, b, out); err != nil {
			return progressed, err
		}
		progressed = true
		select {
		case <-ctx.Done():
			return progressed, ctx.Err()
		case <-ticker.C:
		case <-heads:
			drain(heads)
		case err := <-subErr:
			if err == nil {
				err = errors.New("head subscription closed")
			}
			return progressed, fmt.Errorf("head subscription: %w", err)
		}
	}
}

func drain(ch <-chan *types.Header) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
