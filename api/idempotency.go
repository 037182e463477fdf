package api

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sync"
	"time"
)

// IdempotencyHeader names the client's key for safely retrying a mutation.
const IdempotencyHeader = "Idempotency-Key"

// idemStore remembers the responses of mutations sent with an
// Idempotency-Key, so a retried request gets the first response instead of
// a second commit. It is bounded in size and age, in memory: a restart
// forgets it (a retry then commits again, or finds the change already
// there and answers "unchanged").
type idemStore struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	now     func() time.Time
	entries map[string]*idemEntry
	order   *list.List // oldest first
}

type idemEntry struct {
	key, fingerprint string
	created          time.Time
	done             bool
	status           int
	etag             string
	body             []byte
	elem             *list.Element
}

func newIdemStore(ttl time.Duration, max int, now func() time.Time) *idemStore {
	return &idemStore{ttl: ttl, max: max, now: now, entries: map[string]*idemEntry{}, order: list.New()}
}

// validIdemKey accepts printable ASCII without spaces, up to 255 bytes.
func validIdemKey(k string) bool {
	if len(k) == 0 || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] > '~' {
			return false
		}
	}
	return true
}

// fingerprint identifies what a request asks for.
func fingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// begin looks key up. It returns the stored response to replay, or a
// reservation the caller completes (or abandons), or an error: the key was
// used for a different request (422), or that request is still running (409).
func (s *idemStore) begin(key, fp string) (replay, reserved *idemEntry, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for e := s.order.Front(); e != nil; {
		next := e.Next()
		if en := e.Value.(*idemEntry); now.Sub(en.created) > s.ttl {
			s.order.Remove(e)
			delete(s.entries, en.key)
		} else {
			break
		}
		e = next
	}
	if en, ok := s.entries[key]; ok {
		switch {
		case en.fingerprint != fp:
			return nil, nil, apiErr(http.StatusUnprocessableEntity, CodeIdempotencyReuse, "this Idempotency-Key was used for a different request; use a new key for a new request")
		case !en.done:
			return nil, nil, apiErr(http.StatusConflict, CodeIdempotencyBusy, "a request with this Idempotency-Key is still being processed; retry later")
		}
		return en, nil, nil
	}
	for len(s.entries) >= s.max {
		oldest := s.order.Front()
		s.order.Remove(oldest)
		delete(s.entries, oldest.Value.(*idemEntry).key)
	}
	en := &idemEntry{key: key, fingerprint: fp, created: now}
	en.elem = s.order.PushBack(en)
	s.entries[key] = en
	return nil, en, nil
}

// complete stores the response of a reserved key.
func (s *idemStore) complete(en *idemEntry, status int, etag string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	en.done, en.status, en.etag, en.body = true, status, etag, body
}

// abandon forgets a reservation whose request failed, so it can be retried
// with the same key.
func (s *idemStore) abandon(en *idemEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if en.done {
		return
	}
	if cur, ok := s.entries[en.key]; ok && cur == en {
		s.order.Remove(en.elem)
		delete(s.entries, en.key)
	}
}

// replay writes a stored response.
func (en *idemEntry) replay(w http.ResponseWriter) {
	if en.etag != "" {
		w.Header().Set("ETag", en.etag)
	}
	w.Header().Set("Idempotent-Replayed", "true")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(en.status)
	_, _ = w.Write(en.body)
}
