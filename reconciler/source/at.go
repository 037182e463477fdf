package source

import (
	"context"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ddc-gitops/ddc-gitops/gittree"
)

// At returns the snapshot of an older revision (a full commit hash) from the
// clone, without fetching: the health gate re-applies the last good
// revision with it. The commit must be in the clone (every revision the
// agent applied is, unless the clone was replaced since and the branch no
// longer leads to it).
func (s *Source) At(ctx context.Context, rev string) (*Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if last := s.last.Load(); last != nil && last.Revision.Hash == rev {
		return last, nil
	}
	if !plumbing.IsHash(rev) {
		return nil, fmt.Errorf("revision %q is not a full commit hash", rev)
	}
	if s.repo == nil {
		s.reopen(s.log())
		if s.repo == nil {
			return nil, fmt.Errorf("reading revision %s: no clone in %s", rev, s.Dir)
		}
	}
	c, err := s.repo.CommitObject(plumbing.NewHash(rev))
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", rev, err)
	}
	var prev *gittree.FS
	if last := s.last.Load(); last != nil {
		prev, _ = last.FS.(*gittree.FS)
	}
	fsys, err := gittree.FromCommitReusing(s.repo.Storer, c, prev)
	if err != nil {
		return nil, fmt.Errorf("reading the tree of %s: %w", rev, err)
	}
	return &Snapshot{Revision: *gittree.RevisionOf(c), FS: fsys}, nil
}
