package repo

import (
	"context"
	"errors"
	"fmt"
	"io"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// CommitDiff is what one commit changed against its first parent: what a
// revert undoes.
type CommitDiff struct {
	Hash string
	// Parent is the first parent ("" for a root commit).
	Parent  string
	Author  object.Signature
	Message string
	// Files are the paths the commit changed, sorted.
	Files []FileDiff
}

// FileDiff is one path's content in the parent (Before) and in the commit
// (After); a nil side means the file does not exist there.
type FileDiff struct {
	Path          string
	Before, After []byte
}

// CommitDiff reads commit sha (a full hash; the branch is fetched first
// when the clone does not have it) and what it changed against its first
// parent.
func (r *Repo) CommitDiff(ctx context.Context, sha string) (*CommitDiff, error) {
	if !plumbing.IsHash(sha) {
		return nil, fmt.Errorf("%w: want a full commit hash, got %q", ErrUnknownRevision, sha)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.r.CommitObject(plumbing.NewHash(sha))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		if _, ferr := r.fetchLocked(ctx); ferr != nil {
			return nil, ferr
		}
		c, err = r.r.CommitObject(plumbing.NewHash(sha))
	}
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w %s", ErrUnknownRevision, short(sha))
	}
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", short(sha), err)
	}
	d := &CommitDiff{Hash: c.Hash.String(), Author: c.Author, Message: c.Message}
	to, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("reading the tree of %s: %w", short(sha), err)
	}
	var from *object.Tree
	if c.NumParents() > 0 {
		p, err := c.Parent(0)
		if err != nil {
			return nil, fmt.Errorf("reading the parent of %s: %w", short(sha), err)
		}
		d.Parent = p.Hash.String()
		if from, err = p.Tree(); err != nil {
			return nil, fmt.Errorf("reading the tree of %s: %w", short(d.Parent), err)
		}
	}
	changes, err := object.DiffTreeWithOptions(ctx, from, to, &object.DiffTreeOptions{})
	if err != nil {
		return nil, fmt.Errorf("diffing %s against its parent: %w", short(sha), err)
	}
	for _, ch := range changes {
		fd := FileDiff{Path: ch.To.Name}
		if fd.Path == "" {
			fd.Path = ch.From.Name
		}
		fromFile, toFile, err := ch.Files()
		if err != nil {
			return nil, fmt.Errorf("reading %s in %s: %w", fd.Path, short(sha), err)
		}
		if fd.Before, err = fileBytes(fromFile); err != nil {
			return nil, err
		}
		if fd.After, err = fileBytes(toFile); err != nil {
			return nil, err
		}
		d.Files = append(d.Files, fd)
	}
	return d, nil
}

// fileBytes is f's content, nil for no file (a present empty file is a
// non-nil empty slice).
func fileBytes(f *object.File) ([]byte, error) {
	if f == nil {
		return nil, nil
	}
	rd, err := f.Reader()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", f.Name, err)
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", f.Name, err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// BranchHead is the head commit of a branch of the remote.
type BranchHead struct {
	Hash string
	// Parent is the head's first parent ("" for a root commit).
	Parent            string
	Author, Committer object.Signature
	Message           string
}

// RemoteBranch reads the head of branch (another branch than the one the
// Repo follows, such as a pull request's) from the remote; nil and no error
// when the remote has no such branch.
func (r *Repo) RemoteBranch(ctx context.Context, branch string) (*BranchHead, error) {
	ref := plumbing.NewBranchReferenceName(branch)
	if err := ref.Validate(); err != nil || branch == "" {
		return nil, fmt.Errorf("invalid branch name %q", branch)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rem, err := r.r.Remote("origin")
	if err != nil {
		return nil, fmt.Errorf("reading the remote: %w", err)
	}
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: r.opts.Auth})
	if err != nil {
		return nil, fmt.Errorf("listing the branches of %s: %w", r.opts.URL, err)
	}
	var head plumbing.Hash
	for _, rf := range refs {
		if rf.Name() == ref && rf.Type() == plumbing.HashReference {
			head = rf.Hash()
		}
	}
	if head.IsZero() {
		return nil, nil
	}
	c, err := r.r.CommitObject(head)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		spec := config.RefSpec(fmt.Sprintf("+%s:%s", ref, plumbing.NewRemoteReferenceName("origin", branch)))
		err = r.r.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", RefSpecs: []config.RefSpec{spec}, Auth: r.opts.Auth, Force: true})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return nil, fmt.Errorf("fetching %s from %s: %w", branch, r.opts.URL, err)
		}
		c, err = r.r.CommitObject(head)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the head of %s: %w", branch, err)
	}
	bh := &BranchHead{Hash: c.Hash.String(), Author: c.Author, Committer: c.Committer, Message: c.Message}
	if c.NumParents() > 0 {
		bh.Parent = c.ParentHashes[0].String()
	}
	return bh, nil
}
