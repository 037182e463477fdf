package repo

import (
	"context"
	"errors"
	"fmt"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
)

// ErrNotOnBranch: a rollout decision names a commit the branch does not have.
var ErrNotOnBranch = errors.New("the commit is not on the branch")

// SetRolloutDecision records a person's decision (agentapi.DecisionPromote
// or DecisionHold) about rev, a full commit hash on the branch: it pushes
// the ref refs/ddc-rollout/<decision>/<rev> and deletes the opposite one,
// without moving the branch (agentapi/decision.go). Recording the same
// decision twice changes nothing.
func (r *Repo) SetRolloutDecision(ctx context.Context, rev, decision string) error {
	if decision != agentapi.DecisionPromote && decision != agentapi.DecisionHold {
		return fmt.Errorf("unknown rollout decision %q", decision)
	}
	if !plumbing.IsHash(rev) {
		return fmt.Errorf("%w: want a full commit hash, got %q", ErrUnknownRevision, rev)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	head, err := r.fetchLocked(ctx)
	if err != nil {
		return err
	}
	c, err := r.r.CommitObject(plumbing.NewHash(rev))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return fmt.Errorf("%w: %s", ErrUnknownRevision, rev)
	}
	if err != nil {
		return fmt.Errorf("reading commit %s: %w", short(rev), err)
	}
	if ok, err := c.IsAncestor(head); err != nil {
		return fmt.Errorf("walking the history of %s: %w", short(head.Hash.String()), err)
	} else if !ok && c.Hash != head.Hash {
		return fmt.Errorf("%w: %s is not %s or one of its ancestors", ErrNotOnBranch, short(rev), r.opts.Branch)
	}
	other := agentapi.DecisionHold
	if decision == agentapi.DecisionHold {
		other = agentapi.DecisionPromote
	}
	name := plumbing.ReferenceName(agentapi.RolloutRef(decision, rev))
	if err := r.r.Storer.SetReference(plumbing.NewHashReference(name, c.Hash)); err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	specs := []config.RefSpec{
		config.RefSpec("+" + name.String() + ":" + name.String()),
		config.RefSpec(":" + agentapi.RolloutRef(other, rev)),
	}
	err = r.r.PushContext(ctx, &git.PushOptions{RemoteName: "origin", Auth: r.opts.Auth, RefSpecs: specs})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("pushing %s to %s: %w", name, r.opts.URL, err)
	}
	return nil
}
