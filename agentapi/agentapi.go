// Package agentapi is the HTTP contract of the per-host agent: the status it
// reports on GET /v1/status and the sync it accepts on POST /v1/sync, with a
// client the API server and the webhook receiver use to reach agents.
package agentapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Paths served by the agent.
const (
	PathStatus  = "/v1/status"
	PathSync    = "/v1/sync"
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
	PathMetrics = "/metrics"
)

// Result of the last reconcile.
const (
	ResultApplied  = "applied"  // the host now runs the desired revision
	ResultNoop     = "noop"     // nothing to change
	ResultStalled  = "stalled"  // the revision is invalid; not retried until the branch moves
	ResultFailed   = "failed"   // applying failed and was rolled back; retried with backoff
	ResultPending  = "pending"  // no reconcile has finished yet
	ResultDegraded = "degraded" // applied, but some servers did not pass their first health check
)

// MinSecretBytes is the shortest shared secret accepted anywhere (the sync
// token, a webhook secret, the API's JWT key): the size of an HMAC-SHA256
// key.
const MinSecretBytes = 32

// Status is what an agent reports about its host.
type Status struct {
	Host string `json:"host"`
	Zone string `json:"zone"`
	// DesiredRevision is the branch head the agent last fetched.
	DesiredRevision string `json:"desiredRevision"`
	// AppliedRevision is the revision the host runs (last good).
	AppliedRevision string    `json:"appliedRevision"`
	AppliedAt       time.Time `json:"appliedAt,omitzero"`
	// FailedRevision is the newest revision that was stalled or failed, if any.
	FailedRevision string    `json:"failedRevision,omitempty"`
	LastResult     string    `json:"lastResult"`
	LastError      string    `json:"lastError,omitempty"`
	LastReconcile  time.Time `json:"lastReconcile,omitzero"`
	// LastDuration is how long the last reconcile took, in seconds.
	LastDuration float64 `json:"lastDuration,omitempty"`
	// Drift lists differences between the host and its desired state found
	// by the last reconcile (corrected or, with --drift=warn, only reported).
	Drift []string `json:"drift,omitempty"`
	// Steps are the durations of the last reconcile's steps, in seconds.
	Steps  map[string]float64 `json:"steps,omitempty"`
	Counts Counts             `json:"counts"`
	// Pending lists servers held out of rotation because their first health
	// check has not passed, with the reason.
	Pending []string `json:"pending,omitempty"`
	// Containers is the state of each container a container host runs
	// (agent in the container role only).
	Containers []ContainerStatus `json:"containers,omitempty"`
	// InProgress is the reconcile running now, absent when none runs. The
	// status is a snapshot: it answers at once whatever that reconcile does.
	InProgress *Progress `json:"inProgress,omitempty"`

	// LastGoodRevision is the newest revision this host applied whose
	// health gate passed (or that needed no watch): later waves wait for it.
	LastGoodRevision string `json:"lastGoodRevision,omitempty"`
	// Wave, Gate and Quarantined are the rollout's state (rollout.go).
	Wave        *WaveStatus  `json:"wave,omitempty"`
	Gate        *GateStatus  `json:"gate,omitempty"`
	Quarantined []Quarantine `json:"quarantined,omitempty"`
	// Trust is the signature check's outcome (with --trust-policy only).
	Trust *TrustStatus `json:"trust,omitempty"`
	// Overrides are the timed overrides in force; Freeze the freeze window.
	Overrides []OverrideStatus `json:"overrides,omitempty"`
	Freeze    *FreezeStatus    `json:"freeze,omitempty"`
}

// Progress is a reconcile in progress.
type Progress struct {
	// Since is when the reconcile started.
	Since time.Time `json:"since"`
	// Step is the step it runs (fetch, load, render, actual, plan,
	// runtime, persist, reload, keepalived, verify, record).
	Step string `json:"step"`
	// StepSince is when that step started.
	StepSince time.Time `json:"stepSince"`
}

// Counts are cumulative since the agent started.
type Counts struct {
	Reconciles        int `json:"reconciles"`
	RuntimeChanges    int `json:"runtimeChanges"`
	HAProxyReloads    int `json:"haproxyReloads"`
	KeepalivedReloads int `json:"keepalivedReloads"`
	Rollbacks         int `json:"rollbacks"`
}

// Client talks to one agent.
type Client struct {
	// BaseURL is the agent's listener, e.g. http://198.18.1.11:9100.
	BaseURL string
	// Token is the bearer token the agent's /v1/sync requires.
	Token string
	HTTP  *http.Client
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Status fetches the agent's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+PathStatus, nil)
	if err != nil {
		return nil, fmt.Errorf("building status request: %w", err)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching status from %s: %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("status from %s: %s: %s", c.BaseURL, resp.Status, bytes.TrimSpace(b))
	}
	var s Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&s); err != nil {
		return nil, fmt.Errorf("decoding status from %s: %w", c.BaseURL, err)
	}
	return &s, nil
}

// Sync asks the agent to fetch and reconcile now. reason is logged by the agent.
func (c *Client) Sync(ctx context.Context, reason string) error {
	body, _ := json.Marshal(map[string]string{"reason": reason})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+PathSync, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building sync request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("asking %s to sync: %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("asking %s to sync: %s", c.BaseURL, resp.Status)
	}
	return nil
}
