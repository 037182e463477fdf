package source

import (
	"context"
	"fmt"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
)

// RemoteHead asks the remote for the branch's head commit with the same
// credentials Sync uses, without cloning: reachability and credentials in
// one round trip (`ddc-gitops doctor`).
func (s *Source) RemoteHead(ctx context.Context) (string, error) {
	ep, err := transport.NewEndpoint(s.URL)
	if err != nil {
		return "", fmt.Errorf("%w: parsing URL: %w", ErrConfig, err)
	}
	auth, err := s.Auth.method(ep)
	if err != nil {
		return "", err
	}
	rem := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{s.URL}})
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil {
		return "", fmt.Errorf("listing %s: %w", s.URL, err)
	}
	want := plumbing.NewBranchReferenceName(s.branch())
	for _, r := range refs {
		if r.Name() == want {
			return r.Hash().String(), nil
		}
	}
	return "", fmt.Errorf("%s has no branch %s", s.URL, s.branch())
}
