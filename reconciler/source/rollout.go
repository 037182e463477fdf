package source

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
)

// What rollout waves need from the clone (reconciler/waves.go): whether one
// commit descends from another, and people's promote/hold decisions, which
// are refs next to the branch (agentapi/decision.go).

// IsAncestor reports whether commit a is commit b or one of its ancestors
// in the clone: whether a host that runs b also runs a's change. A commit
// the clone does not have (yet) makes it false.
func (s *Source) IsAncestor(_ context.Context, a, b string) (bool, error) {
	if a == b {
		return true, nil
	}
	if !plumbing.IsHash(a) || !plumbing.IsHash(b) {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repo == nil {
		return false, errors.New("no clone yet")
	}
	ca, err := s.repo.CommitObject(plumbing.NewHash(a))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading commit %s: %w", a, err)
	}
	cb, err := s.repo.CommitObject(plumbing.NewHash(b))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading commit %s: %w", b, err)
	}
	ok, err := ca.IsAncestor(cb)
	if err != nil {
		return false, fmt.Errorf("walking the history of %s: %w", b, err)
	}
	return ok, nil
}

// rolloutRefSpec mirrors the remote's decision refs, pruned so that a
// withdrawn decision disappears.
var rolloutRefSpec = config.RefSpec("+" + agentapi.RolloutRefPrefix + "*:" + agentapi.RolloutRefPrefix + "*")

// RolloutDecisions returns the decision refs as of the last Sync, which
// fetches them with the branch. When a fetch fails the clone keeps the
// decisions it had: a hold seen once is not forgotten because the remote
// is down.
func (s *Source) RolloutDecisions(_ context.Context) (agentapi.Decisions, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repo == nil {
		return agentapi.Decisions{}, errors.New("no clone yet")
	}
	d := agentapi.Decisions{}
	refs, err := s.repo.References()
	if err != nil {
		return d, fmt.Errorf("listing rollout decisions: %w", err)
	}
	_ = refs.ForEach(func(r *plumbing.Reference) error {
		if !strings.HasPrefix(r.Name().String(), agentapi.RolloutRefPrefix) {
			return nil
		}
		if decision, rev, ok := agentapi.ParseRolloutRef(r.Name().String()); ok {
			d.Add(decision, rev)
		}
		return nil
	})
	return d, nil
}
