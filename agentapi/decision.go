package agentapi

import "strings"

// A person's rollout decision about one revision (`ddc-gitops rollout
// promote|hold REV`, docs/rollouts.md "Waves") is a git ref next to the
// branch, refs/ddc-rollout/<decision>/<full sha>, pointing at that commit.
// The API writes it through its repository layer; agents fetch
// refs/ddc-rollout/* and read it. A ref does not move the branch, so the
// decision is about exactly that revision and outlives later commits.

// Decisions.
const (
	// DecisionPromote: later waves stop waiting for earlier waves for the revision.
	DecisionPromote = "promote"
	// DecisionHold: no host applies the revision (beyond those that already did).
	DecisionHold = "hold"
)

// RolloutRefPrefix is the namespace of decision refs.
const RolloutRefPrefix = "refs/ddc-rollout/"

// RolloutRef is the ref that records decision about rev.
func RolloutRef(decision, rev string) string { return RolloutRefPrefix + decision + "/" + rev }

// ParseRolloutRef returns the decision and revision a ref records, false
// for any other ref.
func ParseRolloutRef(name string) (decision, rev string, ok bool) {
	rest, ok := strings.CutPrefix(name, RolloutRefPrefix)
	if !ok {
		return "", "", false
	}
	decision, rev, ok = strings.Cut(rest, "/")
	if !ok || (decision != DecisionPromote && decision != DecisionHold) || len(rev) != 40 || strings.Trim(rev, "0123456789abcdef") != "" {
		return "", "", false
	}
	return decision, rev, true
}

// Decisions maps revisions to a person's decision about them. Hold wins
// when both were recorded.
type Decisions map[string]string

// Add records decision about rev.
func (d Decisions) Add(decision, rev string) {
	if d[rev] != DecisionHold {
		d[rev] = decision
	}
}
