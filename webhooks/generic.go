package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Headers of the generic webhook.
const (
	// SignatureHeader carries "sha256=" + hex(HMAC-SHA256(secret, body)).
	SignatureHeader = "X-Signature-256"
	// DeliveryHeader optionally carries a unique delivery id for de-duplication.
	DeliveryHeader = "X-Delivery-Id"
)

// GenericOptions configure the generic receiver.
type GenericOptions struct {
	// Secret is the HMAC key; required.
	Secret string
	// Branch is the fleet's branch: a payload naming another branch is
	// ignored (default main).
	Branch    string
	Notifier  Notifier
	Timeout   time.Duration
	MaxBody   int64
	DedupSize int
	Logger    *slog.Logger
}

// Generic receives webhooks from forges other than GitHub, or from CI jobs:
// a POST whose body is signed with HMAC-SHA256 in X-Signature-256. The body
// may be empty or a JSON object; when it has "ref" (refs/heads/NAME) or
// "branch", a branch other than the fleet's is ignored.
type Generic struct {
	*common
	secret []byte
	branch string
}

// NewGeneric returns a generic receiver. Call Close when done with it.
func NewGeneric(opts GenericOptions) (*Generic, error) {
	if opts.Secret == "" {
		return nil, errors.New("generic webhook receiver: a secret is required")
	}
	if opts.Branch == "" {
		opts.Branch = "main"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := newCommon(opts.Notifier, opts.Timeout, opts.MaxBody, opts.DedupSize, opts.Logger.With("component", "webhook", "forge", "generic"))
	if err != nil {
		return nil, fmt.Errorf("generic webhook receiver: %w", err)
	}
	return &Generic{common: c, secret: []byte(opts.Secret), branch: opts.Branch}, nil
}

// Sign returns the X-Signature-256 value for body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// genericPayload is what the receiver reads from a JSON body; other fields are ignored.
type genericPayload struct {
	Ref    string `json:"ref"`
	Branch string `json:"branch"`
	After  string `json:"after"`
}

// ServeHTTP verifies and handles one delivery.
func (h *Generic) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, code, err := h.readSigned(w, r, SignatureHeader, h.secret)
	if err != nil {
		h.fail(w, r, code, err)
		return
	}
	delivery := r.Header.Get(DeliveryHeader)
	if delivery != "" && h.dedup.seen(delivery) {
		reply(w, http.StatusOK, Reply{Status: StatusDuplicate, Delivery: delivery})
		return
	}
	var p genericPayload
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &p); err != nil {
			h.fail(w, r, http.StatusBadRequest, fmt.Errorf("body: want empty or a JSON object: %w", err))
			return
		}
	}
	branch := p.Branch
	if b, ok := strings.CutPrefix(p.Ref, "refs/heads/"); ok && branch == "" {
		branch = b
	}
	if branch != "" && branch != h.branch {
		reply(w, http.StatusOK, Reply{Status: StatusIgnored, Reason: fmt.Sprintf("branch %s, not %s", branch, h.branch), Delivery: delivery})
		return
	}
	reason := "generic webhook"
	if p.After != "" {
		reason += " for " + short(p.After)
	}
	if delivery != "" {
		reason += " (delivery " + delivery + ")"
	}
	h.log.Info("branch changed, syncing agents", "reason", reason)
	h.trigger(reason)
	reply(w, http.StatusAccepted, Reply{Status: StatusAccepted, Reason: reason, Delivery: delivery})
}
