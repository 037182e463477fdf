package chain

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Defaults for Config fields left zero.
const (
	DefaultPollInterval = 15 * time.Second
	DefaultMaxRange     = 2000
	DefaultReorgWindow  = 128
	DefaultMinBackoff   = time.Second
	DefaultMaxBackoff   = 2 * time.Minute
)

// Config configures an EVMWatcher.
type Config struct {
	// Contract is the NodeRegistry address.
	Contract common.Address
	// StateDir holds the checkpoint file; it is created if missing.
	StateDir string
	// Confirmations is the depth below the head a block must reach before
	// its logs are processed (0: the head itself). Ignored when Finalized.
	Confirmations uint64
	// Finalized processes blocks up to the chain's `finalized` tag instead.
	Finalized bool
	// StartBlock is the first block read when there is no checkpoint (the
	// contract's deployment block).
	StartBlock uint64
	// SnapshotStart, when there is no checkpoint, reads the registry at the
	// target block (one NodeAdmitted per admitted node) and follows logs from
	// there instead of reading history from StartBlock.
	SnapshotStart bool
	// PollInterval is the polling backstop (default 15s).
	PollInterval time.Duration
	// MaxRange caps the blocks of one FilterLogs call (default and maximum 2,000).
	MaxRange uint64
	// ReorgWindow is how many blocks below the checkpoint the journal keeps
	// for undoing reorgs (default 128).
	ReorgWindow uint64
	// MinBackoff and MaxBackoff bound the wait before reconnecting after an
	// error (defaults 1s and 2m); each wait is jittered.
	MinBackoff, MaxBackoff time.Duration
	// IsRangeError reports whether a FilterLogs error means "query a smaller
	// range" (default: IsRangeError).
	IsRangeError func(error) bool
	// Metrics receives progress (optional).
	Metrics Metrics
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.StateDir == "" {
		return errors.New("chain watcher config: StateDir is empty")
	}
	if c.Contract == (common.Address{}) {
		return errors.New("chain watcher config: Contract is the zero address")
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.MaxRange == 0 || c.MaxRange > DefaultMaxRange {
		c.MaxRange = DefaultMaxRange
	}
	if c.ReorgWindow == 0 {
		c.ReorgWindow = DefaultReorgWindow
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		return fmt.Errorf("chain watcher config: MaxBackoff %s is below MinBackoff %s", c.MaxBackoff, c.MinBackoff)
	}
	if c.IsRangeError == nil {
		c.IsRangeError = IsRangeError
	}
	if c.Metrics == nil {
		c.Metrics = MetricsFuncs{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// rangeErrorHints are fragments of the errors RPC providers return when an
// eth_getLogs query spans too many blocks or matches too many logs (geth,
// Erigon, Infura, Alchemy, QuickNode, Ankr and similar wordings).
var rangeErrorHints = []string{
	"block range",
	"range too large",
	"range is too large",
	"exceed maximum block range",
	"exceeds max block range",
	"too many results",
	"too many blocks",
	"query returned more than",
	"response size exceeded",
	"response size should not greater",
	"limit exceeded",
	"log response size",
	"more than 10000 results",
}

// IsRangeError reports whether err looks like a provider refusing an
// eth_getLogs range as too large.
func IsRangeError(err error) bool {
	if err == nil {
		return false
	}
	msg := strings.ToLower(err.Error())
	for _, h := range rangeErrorHints {
		if strings.Contains(msg, h) {
			return true
		}
	}
	return false
}
