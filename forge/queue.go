package forge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/google/go-github/v60/github"
)

// RetryPolicy bounds how GitHub calls are retried. Zero fields take defaults.
type RetryPolicy struct {
	// MaxAttempts is the number of tries of one call (default 5).
	MaxAttempts int
	// MaxWait is the longest single wait the queue accepts; a rate limit
	// that lasts longer fails the call instead (default 2m).
	MaxWait time.Duration
	// RateLimitWait is the wait after a secondary rate limit or a 429 that
	// names no time (default 1m, as GitHub documents).
	RateLimitWait time.Duration
	// Backoff is the first wait after a server error, doubled on each retry
	// (default 1s).
	Backoff time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 5
	}
	if p.MaxWait <= 0 {
		p.MaxWait = 2 * time.Minute
	}
	if p.RateLimitWait <= 0 {
		p.RateLimitWait = time.Minute
	}
	if p.Backoff <= 0 {
		p.Backoff = time.Second
	}
	return p
}

// queue runs GitHub calls with retries; writes run one at a time, in
// arrival order (a one-slot channel: blocked senders are served in order).
type queue struct {
	policy RetryPolicy
	slot   chan struct{}
	log    *slog.Logger
}

func newQueue(p RetryPolicy, log *slog.Logger) *queue {
	return &queue{policy: p.withDefaults(), slot: make(chan struct{}, 1), log: log}
}

// call is one GitHub request; it returns the response (may be nil) and error.
type call func(ctx context.Context) (*github.Response, error)

// write runs fn alone: no other write starts until it has finished,
// including its waits for rate limits. idempotent allows retrying after a
// server error (a rate-limited request was not executed, so it is always
// retried).
func (q *queue) write(ctx context.Context, what string, idempotent bool, fn call) error {
	select {
	case q.slot <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%s: waiting for the forge write queue: %w", what, ctx.Err())
	}
	defer func() { <-q.slot }()
	return q.run(ctx, what, idempotent, fn)
}

// read runs fn with retries, without queueing.
func (q *queue) read(ctx context.Context, what string, fn call) error {
	return q.run(ctx, what, true, fn)
}

func (q *queue) run(ctx context.Context, what string, idempotent bool, fn call) error {
	for attempt := 1; ; attempt++ {
		resp, err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
		wait, why, retry := q.policy.classify(resp, err, attempt, idempotent)
		if !retry {
			return fmt.Errorf("%s: %w", what, err)
		}
		if attempt >= q.policy.MaxAttempts {
			return fmt.Errorf("%s: giving up after %d attempts: %w", what, attempt, err)
		}
		if wait > q.policy.MaxWait {
			return fmt.Errorf("%s: %s for %s, longer than the %s this client waits: %w", what, why, wait.Round(time.Second), q.policy.MaxWait, err)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return fmt.Errorf("%s: %s for %s, past the request deadline: %w", what, why, wait.Round(time.Millisecond), err)
		}
		q.log.Warn("github call failed, retrying", "call", what, "reason", why, "wait", wait, "attempt", attempt, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: waiting to retry: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// classify decides whether a failed call is retried and after how long.
func (p RetryPolicy) classify(resp *github.Response, err error, attempt int, idempotent bool) (time.Duration, string, bool) {
	var abuse *github.AbuseRateLimitError
	var limit *github.RateLimitError
	switch {
	case errors.As(err, &abuse):
		if abuse.RetryAfter != nil && *abuse.RetryAfter > 0 {
			return *abuse.RetryAfter, "secondary rate limit", true
		}
		return p.RateLimitWait, "secondary rate limit", true
	case errors.As(err, &limit):
		return max(time.Until(limit.Rate.Reset.Time), time.Second), "primary rate limit", true
	}
	code := statusOf(resp, err)
	switch {
	case code == http.StatusTooManyRequests:
		// go-github v60 does not map 429 to a rate limit error.
		if d, ok := retryAfter(header(resp, err, "Retry-After"), header(resp, err, "X-RateLimit-Reset")); ok {
			return d, "429 too many requests", true
		}
		return p.RateLimitWait, "429 too many requests", true
	case idempotent && (code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout || code == http.StatusInternalServerError):
		if d, ok := retryAfter(header(resp, err, "Retry-After"), ""); ok {
			return d, fmt.Sprintf("server error %d", code), true
		}
		return p.Backoff << (attempt - 1), fmt.Sprintf("server error %d", code), true
	case idempotent && code == 0 && !errors.Is(err, ErrInvalid):
		// No response at all: a network error.
		return p.Backoff << (attempt - 1), "network error", true
	}
	return 0, "", false
}

// retryAfter parses a Retry-After header (seconds or an HTTP date) or,
// failing that, an X-RateLimit-Reset header (Unix seconds).
func retryAfter(ra, reset string) (time.Duration, bool) {
	if ra != "" {
		if s, err := strconv.Atoi(ra); err == nil && s >= 0 {
			return time.Duration(s) * time.Second, true
		}
		if t, err := http.ParseTime(ra); err == nil {
			return max(time.Until(t), 0), true
		}
	}
	if reset != "" {
		if s, err := strconv.ParseInt(reset, 10, 64); err == nil {
			return max(time.Until(time.Unix(s, 0)), 0), true
		}
	}
	return 0, false
}
