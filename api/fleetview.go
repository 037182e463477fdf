package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/gittree"
)

// FleetView is the answer of GET /api/v1/fleet: what the status page and
// `ddc-gitops status` show, read from every agent at once.
type FleetView struct {
	// Revision is the branch head.
	Revision    string       `json:"revision"`
	GeneratedAt time.Time    `json:"generated_at"`
	Summary     FleetSummary `json:"summary"`
	Zones       []ZoneView   `json:"zones"`
	// Commits are the last commits of the branch, newest first, with each
	// host's rollout state.
	Commits []CommitView `json:"commits"`
	// Proposals are the node-admission bot's open pull requests (nil when
	// no bot runs in this API).
	Proposals []ProposalView `json:"proposals"`
	// ProposalsError says why proposals could not be read.
	ProposalsError string `json:"proposals_error,omitempty"`
}

// FleetSummary counts hosts.
type FleetSummary struct {
	Hosts       int `json:"hosts"`
	UpToDate    int `json:"up_to_date"`
	Failing     int `json:"failing"`
	Stalled     int `json:"stalled"`
	Unreachable int `json:"unreachable"`
}

// ZoneView is one zone's hosts and backends.
type ZoneView struct {
	Name     string        `json:"name"`
	Hosts    []HostView    `json:"hosts"`
	Backends []BackendView `json:"backends"`
}

// HostView is one host as its agent reports it.
type HostView struct {
	Host      string `json:"host"`
	Zone      string `json:"zone"`
	Reachable bool   `json:"reachable"`
	// Error is why the agent could not be read.
	Error           string              `json:"error,omitempty"`
	AppliedRevision string              `json:"applied_revision,omitempty"`
	DesiredRevision string              `json:"desired_revision,omitempty"`
	FailedRevision  string              `json:"failed_revision,omitempty"`
	UpToDate        bool                `json:"up_to_date"`
	LastResult      string              `json:"last_result,omitempty"`
	LastError       string              `json:"last_error,omitempty"`
	LastReconcile   time.Time           `json:"last_reconcile,omitzero"`
	AppliedAt       time.Time           `json:"applied_at,omitzero"`
	Drift           []string            `json:"drift,omitempty"`
	Pending         []string            `json:"pending,omitempty"`
	Counts          agentapi.Counts     `json:"counts"`
	VIPs            []agentapi.VIPState `json:"vips"`
	// HostStateError is why the host's live state (servers, VIPs) could
	// not be read.
	HostStateError string `json:"host_state_error,omitempty"`
}

// Failed reports whether the host's last reconcile failed or it refuses
// the head (stalled): what `ddc-gitops status` exits 1 for.
func (h HostView) Failed() bool {
	return h.LastResult == agentapi.ResultFailed || h.LastResult == agentapi.ResultStalled
}

// BackendView is a backend's servers with each one's state per host.
type BackendView struct {
	Name    string            `json:"name"`
	Servers []FleetServerView `json:"servers"`
}

// FleetServerView is one server; States maps host -> state (UP, DOWN, DRAIN,
// MAINT, PENDING...).
type FleetServerView struct {
	Name   string            `json:"name"`
	Backup bool              `json:"backup,omitempty"`
	States map[string]string `json:"states"`
}

// CommitView is one commit with each host's rollout state: applied (the
// host runs it or a later commit), failed, or pending.
type CommitView struct {
	Revision string            `json:"revision"`
	Subject  string            `json:"subject"`
	Author   string            `json:"author"`
	Time     time.Time         `json:"time"`
	Hosts    map[string]string `json:"hosts"`
}

// ProposalView is an open node-admission proposal.
type ProposalView struct {
	Node   string `json:"node"`
	PubKey string `json:"pub_key"`
	Number int    `json:"number,omitempty"`
	URL    string `json:"url,omitempty"`
	Title  string `json:"title,omitempty"`
}

// fleetCommits is how many commits the view lists.
const fleetCommits = 10

// commitLog is implemented by stores that can list history (*repo.Repo).
type commitLog interface {
	Log(ctx context.Context, rev string, n int) ([]gittree.Revision, error)
}

func (s *Server) getFleet(w http.ResponseWriter, r *http.Request) error {
	v, err := s.fleetView(r.Context())
	if err != nil {
		return err
	}
	setETag(w, v.Revision)
	writeJSON(w, http.StatusOK, v)
	return nil
}

// fleetView reads the head, every agent's status and host state, the last
// commits and the bot's open proposals.
func (s *Server) fleetView(ctx context.Context) (*FleetView, error) {
	h, err := s.head(ctx)
	if err != nil {
		return nil, err
	}
	v := &FleetView{Revision: h.rev.Hash, GeneratedAt: s.auth.now().UTC(), Zones: []ZoneView{}, Commits: []CommitView{}}
	var statuses []AgentStatus
	var states []hostStateResult
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); statuses = s.agents.Statuses(ctx, "") }()
	go func() { defer wg.Done(); states = s.agents.hostStates(ctx) }()
	var commits []gittree.Revision
	if cl, ok := s.repo.(commitLog); ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if commits, err = cl.Log(ctx, h.rev.Hash, fleetCommits); err != nil {
				s.log.Warn("reading the branch history", "err", err)
			}
		}()
	}
	if s.chain != nil && s.chain.Nodes != nil {
		wg.Add(1)
		go func() { defer wg.Done(); v.Proposals, v.ProposalsError = s.proposals(ctx) }()
	}
	wg.Wait()

	zones := map[string]*ZoneView{}
	zoneOf := func(name string) *ZoneView {
		if z, ok := zones[name]; ok {
			return z
		}
		zones[name] = &ZoneView{Name: name, Hosts: []HostView{}, Backends: []BackendView{}}
		return zones[name]
	}
	if h.fleet != nil {
		for _, z := range h.fleet.Zones {
			zoneOf(z.Name)
		}
	}
	var hosts []HostView
	for i, as := range statuses {
		hv := HostView{Host: as.Host, Zone: as.Zone, VIPs: []agentapi.VIPState{}}
		v.Summary.Hosts++
		if as.Err != nil {
			hv.Error = as.Err.Error()
			v.Summary.Unreachable++
		} else {
			st := as.Status
			hv.Reachable = true
			hv.AppliedRevision, hv.DesiredRevision, hv.FailedRevision = st.AppliedRevision, st.DesiredRevision, st.FailedRevision
			hv.LastResult, hv.LastError, hv.LastReconcile, hv.AppliedAt = st.LastResult, st.LastError, st.LastReconcile, st.AppliedAt
			hv.Drift, hv.Pending, hv.Counts = st.Drift, st.Pending, st.Counts
			hv.UpToDate = st.AppliedRevision == h.rev.Hash
			if hv.UpToDate {
				v.Summary.UpToDate++
			}
			switch st.LastResult {
			case agentapi.ResultFailed:
				v.Summary.Failing++
			case agentapi.ResultStalled:
				v.Summary.Stalled++
			}
		}
		if i < len(states) {
			hs := states[i]
			switch {
			case errors.Is(hs.err, agentapi.ErrNoHostState): // a container host: no servers, no VIPs
			case hs.err != nil:
				hv.HostStateError = hs.err.Error()
			case hs.state != nil:
				hv.VIPs = append(hv.VIPs, hs.state.VIPs...)
				if hs.state.Error != "" {
					hv.HostStateError = hs.state.Error
				}
			}
		}
		hosts = append(hosts, hv)
		z := zoneOf(as.Zone)
		z.Hosts = append(z.Hosts, hv)
	}
	// Backends: per zone, each server's state on each of the zone's hosts.
	for i, hs := range states {
		if hs.state == nil {
			continue
		}
		z := zoneOf(statuses[i].Zone)
		for _, b := range hs.state.Backends {
			bi := -1
			for j := range z.Backends {
				if z.Backends[j].Name == b.Name {
					bi = j
				}
			}
			if bi < 0 {
				bi = len(z.Backends)
				z.Backends = append(z.Backends, BackendView{Name: b.Name, Servers: []FleetServerView{}})
			}
			bv := &z.Backends[bi]
			for _, sv := range b.Servers {
				si := -1
				for j := range bv.Servers {
					if bv.Servers[j].Name == sv.Name {
						si = j
					}
				}
				if si < 0 {
					si = len(bv.Servers)
					bv.Servers = append(bv.Servers, FleetServerView{Name: sv.Name, Backup: sv.Backup, States: map[string]string{}})
				}
				bv.Servers[si].States[statuses[i].Host] = sv.Status
			}
		}
	}
	for _, z := range zones {
		sort.Slice(z.Backends, func(i, j int) bool { return z.Backends[i].Name < z.Backends[j].Name })
		v.Zones = append(v.Zones, *z)
	}
	sort.Slice(v.Zones, func(i, j int) bool { return v.Zones[i].Name < v.Zones[j].Name })

	pos := map[string]int{} // commit -> position, newest first
	for i, c := range commits {
		pos[c.Hash] = i
	}
	for i, c := range commits {
		subject, _, _ := strings.Cut(c.Message, "\n")
		cv := CommitView{Revision: c.Hash, Subject: subject, Author: c.Author, Time: c.Time.UTC(), Hosts: map[string]string{}}
		for _, hv := range hosts {
			state := RolloutPending
			if p, ok := pos[hv.AppliedRevision]; ok && p <= i {
				state = RolloutApplied
			} else if hv.FailedRevision == c.Hash {
				state = RolloutFailed
			}
			cv.Hosts[hv.Host] = state
		}
		v.Commits = append(v.Commits, cv)
	}
	return v, nil
}

// hostStateResult is one agent's host state, or why there is none.
type hostStateResult struct {
	state *agentapi.HostState
	err   error
}

// hostStates asks every agent for its host state, concurrently, in the
// registry's order.
func (a *Agents) hostStates(ctx context.Context) []hostStateResult {
	out := make([]hostStateResult, len(a.list))
	var wg sync.WaitGroup
	for i := range a.list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, a.timeout)
			defer cancel()
			out[i].state, out[i].err = a.clients[i].HostState(cctx)
		}()
	}
	wg.Wait()
	return out
}

// proposals asks the bot's nodes handler (GET /blockchain/nodes) for the
// nodes whose proposal is open.
func (s *Server) proposals(ctx context.Context) ([]ProposalView, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/api/v1/blockchain/nodes", nil)
	if err != nil {
		return nil, err.Error()
	}
	rec := &bufferWriter{header: http.Header{}, code: http.StatusOK}
	s.chain.Nodes.ServeHTTP(rec, req)
	if rec.code != http.StatusOK {
		return nil, strings.TrimSpace(rec.body.String())
	}
	var rep struct {
		Nodes []struct {
			PubKey      string `json:"pubKey"`
			Name        string `json:"name"`
			Status      string `json:"status"`
			PullRequest *struct {
				Number int    `json:"number"`
				URL    string `json:"url"`
				State  string `json:"state"`
				Title  string `json:"title"`
			} `json:"pullRequest"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(rec.body.Bytes(), &rep); err != nil {
		return nil, "decoding the bot's nodes report: " + err.Error()
	}
	out := []ProposalView{}
	for _, n := range rep.Nodes {
		if n.PullRequest == nil || n.PullRequest.State != "open" {
			continue
		}
		out = append(out, ProposalView{Node: n.Name, PubKey: n.PubKey, Number: n.PullRequest.Number, URL: n.PullRequest.URL, Title: n.PullRequest.Title})
	}
	return out, ""
}

// bufferWriter keeps a handler's answer in memory.
type bufferWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header         { return b.header }
func (b *bufferWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferWriter) WriteHeader(code int)        { b.code = code }
