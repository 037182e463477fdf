package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/webhooks"
)

// Agent is one entry of the agents file: where the agent of one HAProxy
// host listens.
type Agent struct {
	Host string `yaml:"host" json:"host"`
	Zone string `yaml:"zone" json:"zone"`
	URL  string `yaml:"url" json:"url"`
}

// LoadAgents reads an agents file: {agents: [{host, zone, url}]}.
func LoadAgents(path string) ([]Agent, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading agents file: %w", err)
	}
	agents, err := ParseAgents(b)
	if err != nil {
		return nil, fmt.Errorf("agents file %s: %w", path, err)
	}
	return agents, nil
}

// ParseAgents strictly decodes and checks an agents file.
func ParseAgents(data []byte) ([]Agent, error) {
	var f struct {
		Agents []Agent `yaml:"agents"`
	}
	if err := decodeStrictYAML(data, &f); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var errs []error
	for i, a := range f.Agents {
		if !desired.ValidName(a.Host) || seen[a.Host] {
			errs = append(errs, fmt.Errorf("agents[%d].host %q: want a unique host name", i, a.Host))
		}
		seen[a.Host] = true
		if !desired.ValidName(a.Zone) {
			errs = append(errs, fmt.Errorf("agents[%d].zone %q: want a zone name", i, a.Zone))
		}
		if u, err := url.Parse(a.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("agents[%d].url %q: want http(s)://HOST:PORT", i, a.URL))
		}
	}
	return f.Agents, errors.Join(errs...)
}

// decodeStrictYAML decodes a configuration file, refusing unknown fields.
func decodeStrictYAML(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	return nil
}

// Agents is the registry of agents the API reads status from and asks to
// sync. The API never talks to HAProxy itself.
type Agents struct {
	list    []Agent
	clients []*agentapi.Client
	timeout time.Duration
}

var _ webhooks.Notifier = (*Agents)(nil)

// NewAgents returns a registry; token authenticates sync requests; timeout
// bounds each call to one agent.
func NewAgents(list []Agent, token string, timeout time.Duration, hc *http.Client) *Agents {
	a := &Agents{list: list, timeout: timeout}
	for _, ag := range list {
		a.clients = append(a.clients, &agentapi.Client{BaseURL: ag.URL, Token: token, HTTP: hc})
	}
	return a
}

// AgentStatus is one agent's answer, or why there is none.
type AgentStatus struct {
	Agent
	Status *agentapi.Status
	Err    error
}

// indexes returns the positions of the agents of zone (every agent for "").
func (a *Agents) indexes(zone string) []int {
	var out []int
	for i, ag := range a.list {
		if zone == "" || ag.Zone == zone {
			out = append(out, i)
		}
	}
	return out
}

// Hosts lists the hosts of zone's agents (every agent for "").
func (a *Agents) Hosts(zone string) []string {
	var out []string
	for _, i := range a.indexes(zone) {
		out = append(out, a.list[i].Host)
	}
	return out
}

// Statuses asks every agent of zone ("" for all) for its status,
// concurrently, each with the per-agent timeout; results follow the
// registry's order.
func (a *Agents) Statuses(ctx context.Context, zone string) []AgentStatus {
	return a.statusesAt(ctx, a.indexes(zone))
}

// statusesAt is Statuses for the agents at positions idx.
func (a *Agents) statusesAt(ctx context.Context, idx []int) []AgentStatus {
	out := make([]AgentStatus, len(idx))
	var wg sync.WaitGroup
	for j, i := range idx {
		out[j].Agent = a.list[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, a.timeout)
			defer cancel()
			st, err := a.clients[i].Status(cctx)
			if err == nil && st.Host != "" && st.Host != a.list[i].Host {
				err = fmt.Errorf("the agent at %s reports host %q, not %q: check the agents file", a.list[i].URL, st.Host, a.list[i].Host)
				st = nil
			}
			out[j].Status, out[j].Err = st, err
		}()
	}
	wg.Wait()
	return out
}

// StatusesOf asks the agents of hosts for their status, like Statuses.
func (a *Agents) StatusesOf(ctx context.Context, hosts map[string]bool) []AgentStatus {
	var idx []int
	for i, ag := range a.list {
		if hosts[ag.Host] {
			idx = append(idx, i)
		}
	}
	return a.statusesAt(ctx, idx)
}

// SyncAll asks every agent to sync; it implements webhooks.Notifier.
func (a *Agents) SyncAll(ctx context.Context, reason string) error {
	return a.Sync(ctx, "", reason)
}

// Sync asks the agents of zone ("" for all) to sync, concurrently, and
// returns the failures joined.
func (a *Agents) Sync(ctx context.Context, zone, reason string) error {
	idx := a.indexes(zone)
	errs := make([]error, len(idx))
	var wg sync.WaitGroup
	for j, i := range idx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, a.timeout)
			defer cancel()
			if err := a.clients[i].Sync(cctx, reason); err != nil {
				errs[j] = fmt.Errorf("agent %s: %w", a.list[i].Host, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
