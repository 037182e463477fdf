package gitserver

import (
	"fmt"
	"sort"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// pushing runs push, and, when Options.OnPush is set, calls it for every
// ref whose value push changed. Pushes are serialized then, so a diff of
// the refs before and after shows one push's updates alone.
func (s *Server) pushing(push func() error) error {
	if s.opts.OnPush == nil {
		return push()
	}
	s.pushMu.Lock()
	defer s.pushMu.Unlock()
	before, err := s.refs()
	if err != nil {
		s.log.Warn("reading refs before a push; its webhook is skipped", "err", err)
		return push()
	}
	perr := push()
	after, err := s.refs()
	if err != nil {
		s.log.Warn("reading refs after a push; its webhook is skipped", "err", err)
		return perr
	}
	for _, u := range diffRefs(before, after) {
		s.opts.OnPush(u)
	}
	return perr
}

// refs reads every branch and tag of the bare repository.
func (s *Server) refs() (map[string]string, error) {
	r, err := git.PlainOpen(s.bare)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", s.bare, err)
	}
	it, err := r.References()
	if err != nil {
		return nil, fmt.Errorf("listing the refs of %s: %w", s.bare, err)
	}
	out := map[string]string{}
	err = it.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() == plumbing.HashReference && (ref.Name().IsBranch() || ref.Name().IsTag()) {
			out[ref.Name().String()] = ref.Hash().String()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the refs of %s: %w", s.bare, err)
	}
	return out, nil
}

// diffRefs returns the refs created, moved or deleted between before and
// after, sorted by name.
func diffRefs(before, after map[string]string) []RefUpdate {
	var out []RefUpdate
	for name, h := range after {
		if before[name] != h {
			out = append(out, RefUpdate{Ref: name, Before: before[name], After: h})
		}
	}
	for name, h := range before {
		if _, ok := after[name]; !ok {
			out = append(out, RefUpdate{Ref: name, Before: h})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out
}
