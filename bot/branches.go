package bot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// maxBranchWalk bounds the commits inspected on a proposal branch; a branch
// with more commits of its own is treated as a person's.
const maxBranchWalk = 100

// branchInspector reads proposal branches from the remote, in a bare clone
// of its own (repo.Repo follows only the main branch), to tell whether a
// person committed to a branch before the bot force-pushes it.
type branchInspector struct {
	url    string
	main   string
	auth   transport.AuthMethod
	dir    string
	author Identity

	mu sync.Mutex // guards r: go-git repositories are not safe for concurrent use
	r  *git.Repository
}

// branchInfo is what inspect found.
type branchInfo struct {
	Exists bool
	Head   string
	// Parent is the head's first parent.
	Parent string
	// Foreign is the first commit on the branch (not on main) whose author
	// or committer is not the bot; empty when there is none.
	Foreign, ForeignAuthor string
	// File is the content of the inspected path at the head; HasFile says
	// whether the path exists there.
	File    []byte
	HasFile bool
}

func newBranchInspector(url, main, dir string, auth transport.AuthMethod, author Identity) *branchInspector {
	return &branchInspector{url: url, main: main, auth: auth, dir: dir, author: author}
}

func (bi *branchInspector) openLocked() (*git.Repository, error) {
	if bi.r != nil {
		return bi.r, nil
	}
	r, err := git.PlainOpen(bi.dir)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		if err := os.MkdirAll(bi.dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", bi.dir, err)
		}
		r, err = git.PlainInit(bi.dir, true)
		if err == nil {
			_, err = r.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{bi.url}})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("opening the branch clone in %s: %w", bi.dir, err)
	}
	bi.r = r
	return r, nil
}

// heads lists the remote's branch heads (one ls-remote).
func (bi *branchInspector) heads(ctx context.Context) (map[string]string, error) {
	bi.mu.Lock()
	defer bi.mu.Unlock()
	return bi.headsLocked(ctx)
}

func (bi *branchInspector) headsLocked(ctx context.Context) (map[string]string, error) {
	r, err := bi.openLocked()
	if err != nil {
		return nil, err
	}
	rem, err := r.Remote("origin")
	if err != nil {
		return nil, fmt.Errorf("branch clone: %w", err)
	}
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: bi.auth})
	if err != nil {
		return nil, fmt.Errorf("listing the branches of %s: %w", bi.url, err)
	}
	out := make(map[string]string, len(refs))
	for _, ref := range refs {
		if ref.Name().IsBranch() && ref.Type() == plumbing.HashReference {
			out[ref.Name().Short()] = ref.Hash().String()
		}
	}
	return out, nil
}

// inspect reads branch from the remote. When the remote head is known (the
// bot's own last push), nothing is fetched and the caller's record is
// trusted; otherwise the branch and main are fetched and every commit on
// the branch that main does not have is checked for a foreign author.
func (bi *branchInspector) inspect(ctx context.Context, branch, file string, known *pushedBranch) (*branchInfo, error) {
	bi.mu.Lock()
	defer bi.mu.Unlock()
	heads, err := bi.headsLocked(ctx)
	if err != nil {
		return nil, err
	}
	head, ok := heads[branch]
	if !ok {
		return &branchInfo{}, nil
	}
	info := &branchInfo{Exists: true, Head: head}
	if known != nil && known.Head == head {
		info.Parent = known.Base
		return info, nil
	}
	r := bi.r
	specs := []config.RefSpec{
		config.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/remotes/origin/%s", branch, branch)),
	}
	if _, ok := heads[bi.main]; ok {
		specs = append(specs, config.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/remotes/origin/%s", bi.main, bi.main)))
	}
	err = r.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", RefSpecs: specs, Auth: bi.auth, Force: true})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil, fmt.Errorf("fetching %s from %s: %w", branch, bi.url, err)
	}
	c, err := r.CommitObject(plumbing.NewHash(head))
	if err != nil {
		return nil, fmt.Errorf("reading the head of %s: %w", branch, err)
	}
	if len(c.ParentHashes) > 0 {
		info.Parent = c.ParentHashes[0].String()
	}
	if t, err := c.Tree(); err == nil {
		if f, err := t.File(file); err == nil {
			if s, err := f.Contents(); err == nil {
				info.File, info.HasFile = []byte(s), true
			}
		}
	}
	stop := map[plumbing.Hash]bool{}
	if mh, ok := heads[bi.main]; ok {
		if mc, err := r.CommitObject(plumbing.NewHash(mh)); err == nil {
			bases, err := c.MergeBase(mc)
			if err != nil {
				return nil, fmt.Errorf("finding where %s left %s: %w", branch, bi.main, err)
			}
			for _, b := range bases {
				stop[b.Hash] = true
			}
		}
	}
	info.Foreign, info.ForeignAuthor, err = bi.foreignCommit(r, c, stop)
	if err != nil {
		return nil, fmt.Errorf("inspecting %s: %w", branch, err)
	}
	return info, nil
}

// foreignCommit walks from head to the stop commits and returns the first
// commit not authored and committed by the bot.
func (bi *branchInspector) foreignCommit(r *git.Repository, head *object.Commit, stop map[plumbing.Hash]bool) (string, string, error) {
	queue := []*object.Commit{head}
	seen := map[plumbing.Hash]bool{head.Hash: true}
	for n := 0; len(queue) > 0; n++ {
		c := queue[0]
		queue = queue[1:]
		if stop[c.Hash] {
			continue
		}
		if n == maxBranchWalk {
			return c.Hash.String(), "(more than 100 commits on the branch)", nil
		}
		if c.Author.Email != bi.author.Email || c.Committer.Email != bi.author.Email {
			return c.Hash.String(), fmt.Sprintf("%s <%s>", c.Author.Name, c.Author.Email), nil
		}
		for _, p := range c.ParentHashes {
			if seen[p] || stop[p] {
				continue
			}
			seen[p] = true
			pc, err := r.CommitObject(p)
			if err != nil {
				return "", "", fmt.Errorf("reading commit %s: %w", p, err)
			}
			queue = append(queue, pc)
		}
	}
	return "", "", nil
}
