package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ddc-gitops/ddc-gitops/gittree"
)

// Log returns up to n commits of the first-parent history ending at rev (a
// full hash the clone has, such as a head Head returned), newest first. It
// does not fetch.
func (r *Repo) Log(ctx context.Context, rev string, n int) ([]gittree.Revision, error) {
	if !plumbing.IsHash(rev) {
		return nil, fmt.Errorf("%w: want a full commit hash, got %q", ErrUnknownRevision, rev)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.r.CommitObject(plumbing.NewHash(rev))
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", short(rev), err)
	}
	var out []gittree.Revision
	for len(out) < n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out = append(out, *gittree.RevisionOf(c))
		if c.NumParents() == 0 {
			break
		}
		c, err = c.Parent(0)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			break // a shallow clone ends here
		}
		if err != nil {
			return nil, fmt.Errorf("walking the history of %s: %w", short(rev), err)
		}
	}
	return out, nil
}
