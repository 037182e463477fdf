package agentapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// PathHostState is the agent's live view of its host: every backend's
// servers as HAProxy reports them and the VIPs this host holds.
const PathHostState = "/v1/hoststate"

// ErrNoHostState is returned by Client.HostState when the agent does not
// serve /v1/hoststate (a container host's agent).
var ErrNoHostState = errors.New("the agent serves no host state")

// HostState is the answer of GET /v1/hoststate, read when asked.
type HostState struct {
	Host     string         `json:"host"`
	Backends []BackendState `json:"backends"`
	VIPs     []VIPState     `json:"vips"`
	// Error is set when HAProxy's runtime API could not be read (Backends
	// is then empty).
	Error string `json:"error,omitempty"`
}

// BackendState is one backend's servers, in HAProxy's order.
type BackendState struct {
	Name    string        `json:"name"`
	Servers []ServerState `json:"servers"`
}

// ServerState is one server as HAProxy reports it.
type ServerState struct {
	Name string `json:"name"`
	// Status is HAProxy's: UP, DOWN, MAINT, DRAIN, NOLB, "no check"...,
	// or PENDING for a server held in maintenance until its first health
	// check passes.
	Status string `json:"status"`
	Backup bool   `json:"backup,omitempty"`
}

// VIPState is one VIP of the host's keepalived.conf.
type VIPState struct {
	Instance string `json:"instance"`
	Address  string `json:"address"`
	Held     bool   `json:"held"`
}

// HostState fetches the agent's host state.
func (c *Client) HostState(ctx context.Context) (*HostState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+PathHostState, nil)
	if err != nil {
		return nil, fmt.Errorf("building host state request: %w", err)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching host state from %s: %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("host state from %s: %w", c.BaseURL, ErrNoHostState)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("host state from %s: %s: %s", c.BaseURL, resp.Status, bytes.TrimSpace(b))
	}
	var s HostState
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&s); err != nil {
		return nil, fmt.Errorf("decoding host state from %s: %w", c.BaseURL, err)
	}
	return &s, nil
}
