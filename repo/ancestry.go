package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// IsAncestor reports whether commit a is commit b or one of its ancestors:
// whether a host that runs b also runs the change a introduced. Both are
// full commit hashes. A commit the clone does not have yet is fetched
// first; one the branch does not have either makes IsAncestor false
// (b may be a revision of another branch).
func (r *Repo) IsAncestor(ctx context.Context, a, b string) (bool, error) {
	if !plumbing.IsHash(a) || !plumbing.IsHash(b) {
		return false, fmt.Errorf("%w: want full commit hashes, got %q and %q", ErrUnknownRevision, a, b)
	}
	if a == b {
		return true, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ca, cb, err := r.commitsLocked(a, b)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		if _, ferr := r.fetchLocked(ctx); ferr != nil {
			return false, ferr
		}
		ca, cb, err = r.commitsLocked(a, b)
	}
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	ok, err := ca.IsAncestor(cb)
	if err != nil {
		return false, fmt.Errorf("walking the history of %s: %w", short(b), err)
	}
	return ok, nil
}

func (r *Repo) commitsLocked(a, b string) (*object.Commit, *object.Commit, error) {
	ca, err := r.r.CommitObject(plumbing.NewHash(a))
	if err != nil {
		return nil, nil, fmt.Errorf("reading commit %s: %w", short(a), err)
	}
	cb, err := r.r.CommitObject(plumbing.NewHash(b))
	if err != nil {
		return nil, nil, fmt.Errorf("reading commit %s: %w", short(b), err)
	}
	return ca, cb, nil
}
