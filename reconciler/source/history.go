package source

import (
	"errors"

	"github.com/go-git/go-git/v5/plumbing/storer"
)

// ErrNoClone: History was called before a Sync made the clone.
var ErrNoClone = errors.New("no clone yet: Sync first")

// History runs fn with read access to the clone's objects: every commit
// the last Sync fetched and everything fetched before it (a fetch never
// drops objects; a re-clone holds what the branch reaches). It holds the
// Source's lock, so no Sync runs meanwhile; fn must not keep st.
func (s *Source) History(fn func(st storer.EncodedObjectStorer) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repo == nil {
		return ErrNoClone
	}
	return fn(s.repo.Storer)
}
