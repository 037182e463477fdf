package api

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

// Rollout waves through the API (docs/rollouts.md, "Waves"): a person's
// promote or hold of one revision, and each host's wave and state.
//
//	POST /api/v1/rollout/{rev}/promote   admin: later waves stop waiting for earlier ones for rev
//	POST /api/v1/rollout/{rev}/hold      admin: no host applies rev beyond those that did
//	GET  /api/v1/rollout                 viewer: every host's wave, last good revision and hold

// rolloutDecider records decisions; *repo.Repo implements it.
type rolloutDecider interface {
	SetRolloutDecision(ctx context.Context, rev, decision string) error
}

var _ rolloutDecider = (*repo.Repo)(nil)

// rolloutRoutes mounts the waves routes on the authenticated router.
func (s *Server) rolloutRoutes(r chi.Router) {
	r.With(s.require(RoleViewer)).Get("/rollout", s.handle(s.getWaves))
	admin := r.With(s.require(RoleAdmin))
	admin.Post("/rollout/{rev}/promote", s.handle(s.postRolloutDecision(agentapi.DecisionPromote)))
	admin.Post("/rollout/{rev}/hold", s.handle(s.postRolloutDecision(agentapi.DecisionHold)))
}

// RolloutDecisionResponse is the answer of POST /rollout/{rev}/promote|hold.
type RolloutDecisionResponse struct {
	Revision string `json:"revision"`
	Decision string `json:"decision"`
	// Ref is the git ref that records it (refs/ddc-rollout/<decision>/<rev>).
	Ref string `json:"ref"`
}

func (s *Server) postRolloutDecision(decision string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		rev := chi.URLParam(r, "rev")
		if !plumbing.IsHash(rev) || rev != plumbing.NewHash(rev).String() {
			return apiErr(http.StatusBadRequest, CodeInvalidField, "rev %q: want a full lowercase commit hash (40 hex digits)", rev)
		}
		d, ok := s.repo.(rolloutDecider)
		if !ok {
			return apiErr(http.StatusNotFound, CodeNotConfigured, "this API server's repository cannot record rollout decisions")
		}
		if err := d.SetRolloutDecision(r.Context(), rev, decision); err != nil {
			switch {
			case errors.Is(err, repo.ErrUnknownRevision), errors.Is(err, repo.ErrNotOnBranch):
				return &APIError{Status: http.StatusNotFound, Code: CodeUnknownRevision, Message: "revision " + rev + " is not on the branch", Err: err}
			default:
				return &APIError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "recording the decision in git failed", Err: err}
			}
		}
		user := ""
		if p := principalOf(r.Context()); p != nil {
			user = p.User
		}
		s.log.Info("rollout decision recorded", "revision", rev, "decision", decision, "user", user, "request_id", requestID(r.Context()))
		// The agents read decisions when they reconcile: ask them now
		// (those that cannot be reached read it at their next poll).
		if err := s.agents.SyncAll(r.Context(), "rollout "+decision+" "+rev[:12]); err != nil {
			s.log.Warn("asking the agents to sync after a rollout decision", "err", err)
		}
		writeJSON(w, http.StatusOK, RolloutDecisionResponse{Revision: rev, Decision: decision, Ref: agentapi.RolloutRef(decision, rev)})
		return nil
	}
}

// WavesResponse is the answer of GET /rollout.
type WavesResponse struct {
	Revision string     `json:"revision"`
	Hosts    []HostWave `json:"hosts"`
}

// HostWave is one host's place in the rollout.
type HostWave struct {
	Host      string `json:"host"`
	Zone      string `json:"zone"`
	Wave      int    `json:"wave"`
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
	// State is up_to_date (runs the head), holding, applying, failed or unreachable.
	State            string    `json:"state"`
	AppliedRevision  string    `json:"applied_revision,omitempty"`
	AppliedAt        time.Time `json:"applied_at,omitzero"`
	LastGoodRevision string    `json:"last_good_revision,omitempty"`
	Holding          string    `json:"holding,omitempty"`
	WaitingFor       []string  `json:"waiting_for,omitempty"`
	HoldingSince     time.Time `json:"holding_since,omitzero"`
	Decision         string    `json:"decision,omitempty"`
}

// Host wave states.
const (
	WaveUpToDate    = "up_to_date"
	WaveHolding     = "holding"
	WaveApplying    = "applying"
	WaveFailed      = "failed"
	WaveUnreachable = "unreachable"
)

func (s *Server) getWaves(w http.ResponseWriter, r *http.Request) error {
	h, err := s.head(r.Context())
	if err != nil {
		return err
	}
	out := WavesResponse{Revision: h.rev.Hash, Hosts: []HostWave{}}
	for _, as := range s.agents.Statuses(r.Context(), "") {
		hw := HostWave{Host: as.Host, Zone: as.Zone, Wave: -1}
		if h.fleet != nil {
			if _, fh := h.fleet.Host(as.Host); fh != nil {
				hw.Wave = fh.HostWave()
			}
		}
		if as.Err != nil {
			hw.Error, hw.State = as.Err.Error(), WaveUnreachable
			out.Hosts = append(out.Hosts, hw)
			continue
		}
		st := as.Status
		hw.Reachable = true
		hw.AppliedRevision, hw.AppliedAt, hw.LastGoodRevision = st.AppliedRevision, st.AppliedAt, st.LastGoodRevision
		if st.Wave != nil {
			hw.Wave, hw.Holding, hw.WaitingFor, hw.HoldingSince, hw.Decision = st.Wave.Wave, st.Wave.Holding, st.Wave.WaitingFor, st.Wave.Since, st.Wave.Decision
		}
		switch {
		case st.AppliedRevision == h.rev.Hash:
			hw.State = WaveUpToDate
		case hw.Holding != "":
			hw.State = WaveHolding
		case st.LastResult == agentapi.ResultFailed || st.LastResult == agentapi.ResultStalled:
			hw.State = WaveFailed
		default:
			hw.State = WaveApplying
		}
		out.Hosts = append(out.Hosts, hw)
	}
	sort.SliceStable(out.Hosts, func(i, j int) bool {
		a, b := out.Hosts[i], out.Hosts[j]
		if a.Wave != b.Wave {
			return a.Wave < b.Wave
		}
		return a.Host < b.Host
	})
	writeJSON(w, http.StatusOK, out)
	return nil
}

// addRolloutPaths documents the waves routes.
func addRolloutPaths(paths, schemas obj) {
	rev := pathParam("rev", "full commit hash on the branch")
	decision := func(d, summary string) obj {
		return obj{"post": obj{"tags": []string{"rollout"}, "summary": summary, "operationId": "rollout" + d, "security": bearer, "parameters": []obj{rev},
			"responses": obj{"200": resp("Recorded (as a git ref next to the branch)", ref("RolloutDecision")), "400": errResp("Not a full commit hash"),
				"401": errResp("Unauthenticated"), "403": errResp("Not an admin"), "404": errResp("Not on the branch, or decisions not supported"),
				"503": errResp("The decision could not be pushed")}}}
	}
	paths["/api/v1/rollout/{rev}/promote"] = decision("Promote", "Promote a revision (admin): hosts of later waves apply it without waiting for earlier waves")
	paths["/api/v1/rollout/{rev}/hold"] = decision("Hold", "Hold a revision (admin): no host applies it, beyond those that already did")
	paths["/api/v1/rollout"] = obj{"get": obj{"tags": []string{"rollout"}, "summary": "Every registered host's rollout wave and state (up to date, holding and why, applying, failed, unreachable)",
		"operationId": "waves", "security": bearer,
		"responses": obj{"200": resp("The hosts by wave", ref("Waves")), "401": errResp("Unauthenticated")}}}
	schemas["RolloutDecision"] = objSchema([]string{"revision", "decision", "ref"}, obj{"revision": str(""),
		"decision": obj{"type": "string", "enum": []string{agentapi.DecisionPromote, agentapi.DecisionHold}}, "ref": str("the git ref recording it")})
	schemas["Waves"] = objSchema([]string{"revision", "hosts"}, obj{"revision": str("branch head"), "hosts": array(objSchema([]string{"host", "zone", "wave", "reachable", "state"}, obj{
		"host": str(""), "zone": str(""), "wave": integer("-1 when unknown"), "reachable": obj{"type": "boolean"}, "error": str(""),
		"state":            obj{"type": "string", "enum": []string{WaveUpToDate, WaveHolding, WaveApplying, WaveFailed, WaveUnreachable}},
		"applied_revision": str(""), "applied_at": obj{"type": "string", "format": "date-time"}, "last_good_revision": str(""),
		"holding": str("the revision the host waits to apply"), "waiting_for": array(obj{"type": "string"}),
		"holding_since": obj{"type": "string", "format": "date-time"}, "decision": str("a person's promote or hold of the held revision")}))})
}
