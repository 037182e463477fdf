package gitserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"golang.org/x/crypto/ssh"

	"github.com/ddc-gitops/ddc-gitops/gittree"
)

// ErrEmptyCommit is returned (wrapped) when a change leaves the tree as it was.
var ErrEmptyCommit = git.ErrEmptyCommit

// Commit writes files (path -> contents, slash-separated paths relative to
// the repository root) and removes deletes (files, or whole directories) on
// top of the branch head, commits with msg and pushes to the served
// repository. It returns the new commit's hash. It works while the HTTP side
// is stopped: the clone pushes to the bare repository directly.
func (s *Server) Commit(files map[string][]byte, deletes []string, msg string) (string, error) {
	edits, err := fileEdits(files, deletes)
	if err != nil {
		return "", err
	}
	return s.commit(edits, false, "", msg)
}

// commit runs the clone's commit as a push (see Options.OnPush).
func (s *Server) commit(edits map[string]*gittree.Change, replace bool, parent, msg string) (h string, err error) {
	err = s.pushing(func() error {
		h, err = s.work.commit(context.Background(), edits, replace, parent, msg)
		return err
	})
	return h, err
}

// ForceCommit commits files and deletes on top of parent (a commit hash
// already on the branch, e.g. the head's parent) instead of the head and
// force-pushes the result: the branch's history is rewritten.
func (s *Server) ForceCommit(parent string, files map[string][]byte, deletes []string, msg string) (string, error) {
	if !plumbing.IsHash(parent) {
		return "", fmt.Errorf("force commit: parent %q is not a full commit hash", parent)
	}
	edits, err := fileEdits(files, deletes)
	if err != nil {
		return "", err
	}
	return s.commit(edits, false, parent, msg)
}

// Seed replaces the whole tree of the branch with the files under dir (for
// example examples/fleet; .git directories are skipped), commits with msg
// and pushes.
func (s *Server) Seed(dir, msg string) (string, error) {
	edits, err := dirEdits(os.DirFS(dir))
	if err != nil {
		return "", fmt.Errorf("seeding from %s: %w", dir, err)
	}
	return s.commit(edits, true, "", msg)
}

// Head returns the branch head of the served repository, "" when the
// repository has no commit yet.
func (s *Server) Head() (string, error) { return s.work.head(context.Background()) }

func fileEdits(files map[string][]byte, deletes []string) (map[string]*gittree.Change, error) {
	edits := make(map[string]*gittree.Change, len(files)+len(deletes))
	for _, p := range deletes {
		if err := checkPath(p); err != nil {
			return nil, err
		}
		edits[p] = nil
	}
	for p, b := range files {
		if err := checkPath(p); err != nil {
			return nil, err
		}
		if _, dup := edits[p]; dup {
			return nil, fmt.Errorf("path %q is both written and deleted", p)
		}
		edits[p] = &gittree.Change{Data: b}
	}
	return edits, nil
}

func checkPath(p string) error {
	if !fs.ValidPath(p) || p == "." {
		return fmt.Errorf("invalid repository path %q (want a clean, relative, slash-separated path)", p)
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".git" {
			return fmt.Errorf("invalid repository path %q: .git is reserved", p)
		}
	}
	return nil
}

// dirEdits reads every file of fsys, keeping executable bits and symlinks.
func dirEdits(fsys fs.FS) (map[string]*gittree.Change, error) {
	edits := map[string]*gittree.Change{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir() && d.Name() == ".git":
			return fs.SkipDir
		case d.IsDir():
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			target, err := fs.ReadLink(fsys, p)
			if err != nil {
				return err
			}
			edits[p] = &gittree.Change{Data: []byte(target), Mode: filemode.Symlink}
		case d.Type().IsRegular():
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			mode := filemode.Regular
			if info.Mode()&0o111 != 0 {
				mode = filemode.Executable
			}
			edits[p] = &gittree.Change{Data: b, Mode: mode}
		}
		return nil
	})
	return edits, err
}

// clone is a bare go-git repository that builds commits and pushes them to
// the served repository. go-git repositories are not safe for concurrent
// use: mu guards repo.
type clone struct {
	mu     sync.Mutex
	repo   *git.Repository
	branch string
	signer ssh.Signer // signs every commit when set
}

const remoteName = "origin"

func newClone(dir, remote, branch string, signer ssh.Signer) (*clone, error) {
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		Bare:        true,
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(branch)},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the git server's working clone: %w", err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{
		Name:  remoteName,
		URLs:  []string{remote},
		Fetch: []config.RefSpec{config.RefSpec("+refs/heads/*:refs/remotes/" + remoteName + "/*")},
	}); err != nil {
		return nil, fmt.Errorf("configuring the git server's working clone: %w", err)
	}
	return &clone{repo: repo, branch: branch, signer: signer}, nil
}

func (c *clone) remoteRef() plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName(remoteName, c.branch)
}

// fetch updates the clone from the served repository and returns the
// branch head, zero when the branch does not exist yet.
func (c *clone) fetch(ctx context.Context) (plumbing.Hash, error) {
	err := c.repo.FetchContext(ctx, &git.FetchOptions{RemoteName: remoteName, Tags: git.NoTags, Force: true})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return plumbing.ZeroHash, nil
	default:
		return plumbing.ZeroHash, fmt.Errorf("fetching from the served repository: %w", err)
	}
	ref, err := c.repo.Reference(c.remoteRef(), true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading %s: %w", c.remoteRef(), err)
	}
	return ref.Hash(), nil
}

func (c *clone) head(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, err := c.fetch(ctx)
	if err != nil || h.IsZero() {
		return "", err
	}
	return h.String(), nil
}

// commit applies edits on top of parent (the branch head when parent is
// empty; an empty tree when replace is set), commits and pushes. A push
// that loses a race with another pusher is retried on the new head.
func (c *clone) commit(ctx context.Context, edits map[string]*gittree.Change, replace bool, parent, msg string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	force := parent != ""
	for attempt := 1; ; attempt++ {
		head, err := c.fetch(ctx)
		if err != nil {
			return "", err
		}
		base := head
		if force {
			base = plumbing.NewHash(parent)
		}
		h, err := c.commitOn(base, edits, replace, msg)
		if err != nil {
			return "", err
		}
		local := plumbing.NewBranchReferenceName(c.branch)
		if err := c.repo.Storer.SetReference(plumbing.NewHashReference(local, h)); err != nil {
			return "", fmt.Errorf("updating %s in the working clone: %w", local, err)
		}
		spec := config.RefSpec(local.String() + ":" + local.String())
		if force {
			spec = "+" + spec
		}
		err = c.repo.PushContext(ctx, &git.PushOptions{RemoteName: remoteName, RefSpecs: []config.RefSpec{spec}, Force: force})
		switch {
		case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
			return h.String(), nil
		case strings.Contains(err.Error(), "non-fast-forward") && attempt < 5:
			continue // someone else pushed: rebuild on the new head
		default:
			return "", fmt.Errorf("pushing %s: %w", h, err)
		}
	}
}

func (c *clone) commitOn(parent plumbing.Hash, edits map[string]*gittree.Change, replace bool, msg string) (plumbing.Hash, error) {
	var parents []plumbing.Hash
	var baseTree plumbing.Hash
	if !parent.IsZero() {
		pc, err := c.repo.CommitObject(parent)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("reading parent commit %s: %w", parent, err)
		}
		parents = []plumbing.Hash{parent}
		baseTree = pc.TreeHash
	}
	start := baseTree
	if replace {
		start = plumbing.ZeroHash
	}
	tree, err := gittree.WriteTree(c.repo.Storer, start, edits)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if !parent.IsZero() && tree == baseTree {
		return plumbing.ZeroHash, fmt.Errorf("committing %q: %w", msg, ErrEmptyCommit)
	}
	sig := object.Signature{Name: "gitserver", Email: "gitserver@example.invalid", When: time.Now()}
	commit := &object.Commit{Author: sig, Committer: sig, Message: msg, TreeHash: tree, ParentHashes: parents}
	return gittree.WriteCommit(c.repo.Storer, commit, c.signer)
}
