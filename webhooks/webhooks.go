// Package webhooks receives forge webhooks and turns the ones that change
// the fleet's branch into a sync of every agent, so a merged change is
// applied within seconds instead of at the agents' next poll.
//
// Two receivers: GitHub (X-Hub-Signature-256, push and merged pull_request
// events, ping) and Generic (an HMAC-SHA256 of the body in X-Signature-256,
// for other forges and CI jobs). Both verify the signature with a mandatory
// secret, drop repeated deliveries, answer at once and run the fan-out in the
// background with its own timeout. The API server mounts both; an agent can
// mount the GitHub receiver itself with a Notifier that syncs only itself.
package webhooks

import (
	"bytes"
	"container/list"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Notifier is told to sync when the branch changed.
type Notifier interface {
	// SyncAll asks every target to fetch and reconcile now; reason is
	// logged by them. It returns when every target answered or ctx ended.
	SyncAll(ctx context.Context, reason string) error
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(ctx context.Context, reason string) error

// SyncAll calls f.
func (f NotifierFunc) SyncAll(ctx context.Context, reason string) error { return f(ctx, reason) }

// Defaults for Options.
const (
	DefaultTimeout = 30 * time.Second
	// DefaultMaxBody bounds a payload. GitHub allows up to 25 MB, but a
	// push payload lists at most 20 commits and is far smaller; a larger
	// one is refused (413) and the agents' poll picks the change up.
	DefaultMaxBody   = 5 << 20
	DefaultDedupSize = 4096
	// MaxUnverified is how many bodies whose signature is not checked yet
	// are read at once (per receiver); more wait up to UnverifiedWait and
	// are then refused with 503. With DefaultMaxBody this bounds what
	// unsigned traffic can make a receiver hold to about 40 MiB, whatever
	// its size and concurrency.
	MaxUnverified  = 4
	UnverifiedWait = 2 * time.Second
	// ReadTimeout bounds how long reading one body may take, so a slow
	// sender cannot keep an unverified slot.
	ReadTimeout = 10 * time.Second
)

// common holds what both receivers share: the notifier, the background
// fan-out with its timeout, and the set of recent delivery ids.
type common struct {
	notifier Notifier
	timeout  time.Duration
	maxBody  int64
	log      *slog.Logger
	dedup    *lru
	signed   *SignedReader

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	running bool   // a fan-out is in flight
	again   string // reason for one more fan-out after it, "" if none
}

func newCommon(n Notifier, timeout time.Duration, maxBody int64, dedup int, log *slog.Logger) (*common, error) {
	if n == nil {
		return nil, errors.New("a notifier is required")
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	if dedup <= 0 {
		dedup = DefaultDedupSize
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &common{notifier: n, timeout: timeout, maxBody: maxBody, log: log, dedup: newLRU(dedup),
		signed: NewSignedReader(maxBody), ctx: ctx, cancel: cancel}, nil
}

// Close cancels running fan-outs and waits for them to return.
func (c *common) Close() {
	c.cancel()
	c.wg.Wait()
}

// Wait blocks until no fan-out is running (for tests and shutdown).
func (c *common) Wait() { c.wg.Wait() }

// trigger starts a fan-out in the background and returns at once. A
// trigger while one runs is folded into a single follow-up run, so a burst
// of deliveries costs at most two fan-outs.
func (c *common) trigger(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx.Err() != nil {
		return
	}
	if c.running {
		c.again = reason
		return
	}
	c.running = true
	c.wg.Add(1)
	go c.fanout(reason)
}

func (c *common) fanout(reason string) {
	defer c.wg.Done()
	for {
		ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
		start := time.Now()
		err := c.notifier.SyncAll(ctx, reason)
		cancel()
		if err != nil {
			c.log.Warn("webhook sync fan-out incomplete", "reason", reason, "duration", time.Since(start), "err", err)
		} else {
			c.log.Info("webhook sync fan-out done", "reason", reason, "duration", time.Since(start))
		}
		c.mu.Lock()
		if c.again == "" || c.ctx.Err() != nil {
			c.running, c.again = false, ""
			c.mu.Unlock()
			return
		}
		reason, c.again = c.again, ""
		c.mu.Unlock()
	}
}

// readSigned reads the body of a delivery signed in header (see
// SignedReader).
func (c *common) readSigned(w http.ResponseWriter, r *http.Request, header string, secret []byte) ([]byte, int, error) {
	return c.signed.Read(w, r, header, secret)
}

// SignedReader reads request bodies signed with "sha256=" +
// hex(HMAC-SHA256(secret, body)) in a header, at a bounded cost to anyone
// without the secret: a missing or malformed signature is refused before
// the body is read, a declared length over the limit too; at most
// MaxUnverified bodies are read at once, each within ReadTimeout, into one
// of MaxUnverified reused buffers; only a verified body is copied out. The
// webhook receivers and the agent's /v1/sync use it. It is safe for
// concurrent use.
type SignedReader struct {
	maxBody int64
	// bufs holds the buffers bodies whose signature is not checked yet
	// are read into, allocated on first use and reused, so unsigned
	// traffic makes no garbage either.
	bufs chan *[]byte
}

// NewSignedReader returns a SignedReader for bodies of at most maxBody
// bytes (DefaultMaxBody when <= 0).
func NewSignedReader(maxBody int64) *SignedReader {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	bufs := make(chan *[]byte, MaxUnverified)
	for range MaxUnverified {
		bufs <- new([]byte)
	}
	return &SignedReader{maxBody: maxBody, bufs: bufs}
}

// Read returns r's body when its signature in header verifies under
// secret, or the HTTP status and error to answer with.
func (s *SignedReader) Read(w http.ResponseWriter, r *http.Request, header string, secret []byte) ([]byte, int, error) {
	sig, ok := strings.CutPrefix(r.Header.Get(header), "sha256=")
	want, err := hex.DecodeString(sig)
	if !ok || err != nil || len(want) != sha256.Size {
		return nil, http.StatusUnauthorized, fmt.Errorf("missing or malformed %s header (want sha256=<64 hex digits>)", header)
	}
	if r.ContentLength > s.maxBody {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("payload of %d bytes is larger than %d bytes", r.ContentLength, s.maxBody)
	}
	wait := time.NewTimer(UnverifiedWait)
	defer wait.Stop()
	var buf *[]byte
	select {
	case buf = <-s.bufs:
		defer func() { s.bufs <- buf }()
	case <-wait.C:
		w.Header().Set("Retry-After", "5")
		return nil, http.StatusServiceUnavailable, fmt.Errorf("too many deliveries being verified at once (%d)", MaxUnverified)
	case <-r.Context().Done():
		return nil, http.StatusServiceUnavailable, r.Context().Err()
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(ReadTimeout))
	if *buf == nil {
		*buf = make([]byte, s.maxBody+1)
	}
	b := (*buf)[:s.maxBody+1]
	n, err := io.ReadFull(r.Body, b)
	switch {
	case err == nil:
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("payload larger than %d bytes", s.maxBody)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
	default:
		return nil, http.StatusBadRequest, fmt.Errorf("reading payload: %w", err)
	}
	m := hmac.New(sha256.New, secret)
	m.Write(b[:n])
	if !hmac.Equal(want, m.Sum(nil)) {
		return nil, http.StatusUnauthorized, errors.New("signature check failed")
	}
	return bytes.Clone(b[:n]), 0, nil
}

// Reply is the JSON body of every webhook response.
type Reply struct {
	// Status is accepted (a sync was started), pong, duplicate, ignored or error.
	Status string `json:"status"`
	// Reason explains ignored deliveries and errors.
	Reason   string `json:"reason,omitempty"`
	Delivery string `json:"delivery,omitempty"`
}

// Reply statuses.
const (
	StatusAccepted  = "accepted"
	StatusPong      = "pong"
	StatusDuplicate = "duplicate"
	StatusIgnored   = "ignored"
	StatusError     = "error"
)

func reply(w http.ResponseWriter, code int, rep Reply) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(rep)
}

func (c *common) fail(w http.ResponseWriter, r *http.Request, code int, err error) {
	c.log.Warn("webhook refused", "code", code, "remote", r.RemoteAddr, "err", err)
	reply(w, code, Reply{Status: StatusError, Reason: err.Error()})
}

// lru is a bounded set of recently seen delivery ids.
type lru struct {
	mu    sync.Mutex
	max   int
	order *list.List // front: newest
	items map[string]*list.Element
}

func newLRU(max int) *lru {
	return &lru{max: max, order: list.New(), items: make(map[string]*list.Element, max)}
}

// seen records id and reports whether it was already there.
func (l *lru) seen(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.items[id]; ok {
		l.order.MoveToFront(e)
		return true
	}
	l.items[id] = l.order.PushFront(id)
	if l.order.Len() > l.max {
		old := l.order.Back()
		l.order.Remove(old)
		delete(l.items, old.Value.(string))
	}
	return false
}
