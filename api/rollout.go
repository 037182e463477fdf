package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
)

// Rollout states of one revision.
const (
	RolloutApplied  = "applied"   // every targeted host runs it (or a descendant)
	RolloutFailed   = "failed"    // some host stalled or failed on it
	RolloutPending  = "pending"   // some host has not applied it yet
	RolloutNoAgents = "no_agents" // no agent is registered for the target
)

// Host states within a rollout.
const (
	HostApplied     = "applied"
	HostFailed      = "failed"
	HostPending     = "pending"
	HostUnreachable = "unreachable"
)

// Rollout is how far one revision got on the hosts it targets.
type Rollout struct {
	Revision string `json:"revision"`
	// Zone is the targeted zone; "" targets every registered agent.
	Zone       string        `json:"zone,omitempty"`
	State      string        `json:"state"`
	Hosts      []HostRollout `json:"hosts"`
	NotApplied []string      `json:"not_applied,omitempty"`
	// TimedOut is set when ?wait=applied gave up before the end.
	TimedOut bool `json:"timed_out,omitempty"`
}

// HostRollout is one host's part in a rollout.
type HostRollout struct {
	Host            string `json:"host"`
	Zone            string `json:"zone"`
	State           string `json:"state"`
	AppliedRevision string `json:"applied_revision,omitempty"`
	FailedRevision  string `json:"failed_revision,omitempty"`
	LastResult      string `json:"last_result,omitempty"`
	LastError       string `json:"last_error,omitempty"`
	// Error says why the host's state is unknown.
	Error string `json:"error,omitempty"`
}

// rollout computes rev's rollout from the agents' statuses: a host applied
// rev when its applied revision is rev or a descendant; it failed when its
// failed revision is, and it has not applied it.
func rollout(ctx context.Context, st Store, rev, zone string, statuses []AgentStatus) *Rollout {
	ro := &Rollout{Revision: rev, Zone: zone, Hosts: []HostRollout{}}
	// Hosts mostly run the same few revisions: walk the history once each.
	memo := map[string]bool{}
	contains := func(have string) (bool, error) {
		if have == "" {
			return false, nil
		}
		if ok, seen := memo[have]; seen {
			return ok, nil
		}
		ok, err := st.IsAncestor(ctx, rev, have)
		if err == nil {
			memo[have] = ok
		}
		return ok, err
	}
	for _, as := range statuses {
		h := HostRollout{Host: as.Host, Zone: as.Zone, State: HostPending}
		if as.Err != nil {
			h.State, h.Error = HostUnreachable, as.Err.Error()
		} else {
			s := as.Status
			h.AppliedRevision, h.FailedRevision, h.LastResult, h.LastError = s.AppliedRevision, s.FailedRevision, s.LastResult, s.LastError
			applied, err := contains(s.AppliedRevision)
			if err == nil && !applied {
				var failed bool
				if failed, err = contains(s.FailedRevision); failed {
					h.State = HostFailed
				}
			}
			switch {
			case err != nil:
				h.Error = fmt.Sprintf("comparing revisions: %v", err)
			case applied:
				h.State = HostApplied
			}
		}
		if h.State != HostApplied {
			ro.NotApplied = append(ro.NotApplied, h.Host)
		}
		ro.Hosts = append(ro.Hosts, h)
	}
	ro.State = RolloutApplied
	for _, h := range ro.Hosts {
		switch {
		case h.State == HostFailed:
			ro.State = RolloutFailed
		case h.State != HostApplied && ro.State != RolloutFailed:
			ro.State = RolloutPending
		}
	}
	if len(ro.Hosts) == 0 {
		ro.State = RolloutNoAgents
	}
	return ro
}

// waitApplied polls the zone's agents until every one applied rev, one
// failed, or timeout passes; it returns the last rollout seen.
func (s *Server) waitApplied(ctx context.Context, rev, zone string, timeout time.Duration) (*Rollout, error) {
	// Polls run under the request's context (each agent call has its own
	// timeout), not the wait's deadline, so the last poll is never cut short.
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(s.cfg.WaitPoll)
	defer tick.Stop()
	for {
		ro := rollout(ctx, s.repo, rev, zone, s.agents.Statuses(ctx, zone))
		if ro.State != RolloutPending {
			return ro, nil
		}
		select {
		case <-ctx.Done():
			return nil, &APIError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the client went away while waiting", Err: ctx.Err()}
		case <-deadline.C:
			ro.TimedOut = true
			return ro, nil
		case <-tick.C:
		}
	}
}

// waitAfterApplied polls fn until it reports done or timeout passes.
func (s *Server) waitAfterApplied(ctx context.Context, rev string, timeout time.Duration, fn func(ctx context.Context, rev string) (any, bool)) (any, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(s.cfg.WaitPoll)
	defer tick.Stop()
	for {
		report, done := fn(ctx, rev)
		if done {
			return report, true
		}
		select {
		case <-ctx.Done():
			return report, false
		case <-deadline.C:
			return report, false
		case <-tick.C:
		}
	}
}

func (s *Server) getRevision(w http.ResponseWriter, r *http.Request) error {
	rev := chi.URLParam(r, "sha")
	if len(rev) != 40 || strings.Trim(rev, "0123456789abcdef") != "" {
		return fieldErr("sha (path)", "%q: want a full 40-character commit hash", rev)
	}
	zone, err := explicitZone(r) // the default zone does not narrow a rollout
	if err != nil {
		return err
	}
	h, err := s.headWithZone(r.Context(), zone)
	if err != nil {
		return err
	}
	on, err := s.repo.IsAncestor(r.Context(), rev, h.rev.Hash)
	if err != nil {
		return fmt.Errorf("looking up %s: %w", rev, err)
	}
	if !on {
		return apiErr(http.StatusNotFound, CodeNotFound, "revision %s is not on branch %s (head %s)", rev, s.cfg.Branch, h.rev.Short())
	}
	writeJSON(w, http.StatusOK, rollout(r.Context(), s.repo, rev, zone, s.agents.Statuses(r.Context(), zone)))
	return nil
}

// StatsResponse is the answer of GET /stats: the fleet as its agents see it.
type StatsResponse struct {
	// Revision is the branch head.
	Revision string      `json:"revision"`
	Zone     string      `json:"zone,omitempty"`
	Summary  StatsCount  `json:"summary"`
	Agents   []AgentView `json:"agents"`
}

// StatsCount sums up the agents.
type StatsCount struct {
	Agents      int `json:"agents"`
	Reachable   int `json:"reachable"`
	UpToDate    int `json:"up_to_date"`
	Failing     int `json:"failing"`
	WithDrift   int `json:"with_drift"`
	Unreachable int `json:"unreachable"`
}

// AgentView is one agent's status as /stats shows it.
type AgentView struct {
	Host            string     `json:"host"`
	Zone            string     `json:"zone"`
	URL             string     `json:"url"`
	Reachable       bool       `json:"reachable"`
	Error           string     `json:"error,omitempty"`
	AppliedRevision string     `json:"applied_revision,omitempty"`
	DesiredRevision string     `json:"desired_revision,omitempty"`
	FailedRevision  string     `json:"failed_revision,omitempty"`
	AppliedAt       *time.Time `json:"applied_at,omitempty"`
	UpToDate        bool       `json:"up_to_date"`
	LastResult      string     `json:"last_result,omitempty"`
	LastError       string     `json:"last_error,omitempty"`
	Drift           []string   `json:"drift,omitempty"`
	Pending         []string   `json:"pending,omitempty"`
}

func (s *Server) getStats(w http.ResponseWriter, r *http.Request) error {
	zone, err := explicitZone(r) // the whole fleet unless a zone is asked for
	if err != nil {
		return err
	}
	h, err := s.headWithZone(r.Context(), zone)
	if err != nil {
		return err
	}
	out := StatsResponse{Revision: h.rev.Hash, Zone: zone, Agents: []AgentView{}}
	for _, as := range s.agents.Statuses(r.Context(), zone) {
		v := AgentView{Host: as.Host, Zone: as.Zone, URL: as.URL}
		out.Summary.Agents++
		if as.Err != nil {
			v.Error = as.Err.Error()
			out.Summary.Unreachable++
		} else {
			st := as.Status
			v.Reachable = true
			v.AppliedRevision, v.DesiredRevision, v.FailedRevision = st.AppliedRevision, st.DesiredRevision, st.FailedRevision
			v.LastResult, v.LastError, v.Drift, v.Pending = st.LastResult, st.LastError, st.Drift, st.Pending
			if !st.AppliedAt.IsZero() {
				at := st.AppliedAt
				v.AppliedAt = &at
			}
			v.UpToDate = st.AppliedRevision == h.rev.Hash
			out.Summary.Reachable++
			if v.UpToDate {
				out.Summary.UpToDate++
			}
			if st.LastError != "" || st.LastResult == agentapi.ResultFailed || st.LastResult == agentapi.ResultStalled {
				out.Summary.Failing++
			}
			if len(st.Drift) > 0 {
				out.Summary.WithDrift++
			}
		}
		out.Agents = append(out.Agents, v)
	}
	setETag(w, h.rev.Hash)
	writeJSON(w, http.StatusOK, out)
	return nil
}
