// Package repo turns changes to the desired state into validated git
// commits, pushed to the remote: the API's write path and the bot's.
//
// A Repo is a bare clone (no working tree): each change is applied to the
// branch head in memory, the resulting tree is validated with the same code
// as `ddc-gitops validate`, and only then is a commit built (rewriting just
// the directories on the changed paths) and pushed. A push rejected as
// non-fast-forward (someone else pushed) is retried: fetch, re-apply the
// change on the new head, validate, commit, push.
package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"golang.org/x/crypto/ssh"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/gittree"
)

// Options configure a Repo.
type Options struct {
	// URL of the remote (https://, ssh://, file:// or a path).
	URL string
	// Branch is the branch changes are committed to (default main).
	Branch string
	// Dir holds the bare clone; it is reused across restarts.
	Dir  string
	Auth transport.AuthMethod
	// Retries bounds the attempts after a rejected push (default 20).
	Retries int
	// Validate checks a candidate tree; default desired.Load.
	Validate func(fs.FS) error
	Logger   *slog.Logger
	// Now is the clock for commit times (default time.Now).
	Now func() time.Time
	// Signer, when set, signs every commit (git's gpg.format=ssh format:
	// what the agents' --trust-policy verifies); nil writes unsigned
	// commits.
	Signer ssh.Signer
}

// Repo writes validated commits to one branch of a remote. It is safe for
// concurrent use: changes are applied one at a time.
type Repo struct {
	opts Options
	mu   sync.Mutex // guards r: go-git repositories are not safe for concurrent use
	r    *git.Repository

	qmu     sync.Mutex
	queue   []*pendingChange
	leading bool
}

// Errors returned by Commit.
var (
	// ErrConflict: IfMatch named a revision and the branch has since moved
	// in a way that touches the files the change edits.
	ErrConflict = errors.New("the branch moved since the given revision and the change touches what moved")
	// ErrUnknownRevision: IfMatch named a revision the repository does not have.
	ErrUnknownRevision = errors.New("unknown revision")
)

// ValidationError is returned when the change would make the desired state
// invalid; nothing was committed.
type ValidationError struct{ Errs desired.Errors }

func (e *ValidationError) Error() string {
	return fmt.Sprintf("the change makes the desired state invalid (%d error(s)):\n%s", len(e.Errs), e.Errs.Error())
}

// Open clones the remote into opts.Dir, or reuses the clone already there.
func Open(ctx context.Context, opts Options) (*Repo, error) {
	if opts.Branch == "" {
		opts.Branch = "main"
	}
	if opts.Retries <= 0 {
		opts.Retries = 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Validate == nil {
		// An override may end at most desired.MaxOverrideLife after the
		// commit, which is about to be made now.
		now := opts.Now
		opts.Validate = func(fsys fs.FS) error {
			f, err := desired.Load(fsys)
			if err != nil {
				return err
			}
			return desired.CheckOverrideBounds(f, now()).Err()
		}
	}
	r, err := git.PlainOpen(opts.Dir)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", opts.Dir, err)
		}
		r, err = git.PlainCloneContext(ctx, opts.Dir, true, &git.CloneOptions{
			URL:           opts.URL,
			Auth:          opts.Auth,
			ReferenceName: plumbing.NewBranchReferenceName(opts.Branch),
			SingleBranch:  true,
		})
		if err != nil {
			_ = os.RemoveAll(opts.Dir)
			return nil, fmt.Errorf("cloning %s (branch %s): %w", opts.URL, opts.Branch, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("opening clone in %s: %w", opts.Dir, err)
	}
	return &Repo{opts: opts, r: r}, nil
}

// Snapshot is the desired state at one revision of the branch.
type Snapshot struct {
	Revision *gittree.Revision
	FS       fs.FS
}

// Head fetches the branch and returns its head.
func (r *Repo) Head(ctx context.Context) (*Snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.fetchLocked(ctx)
	if err != nil {
		return nil, err
	}
	fsys, err := gittree.FromCommit(r.r.Storer, c)
	if err != nil {
		return nil, err
	}
	return &Snapshot{Revision: gittree.RevisionOf(c), FS: fsys}, nil
}

// remoteRef is where the fetched branch head is kept.
func (r *Repo) remoteRef() plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName("origin", r.opts.Branch)
}

// fetchLocked fetches the branch and returns the remote head commit.
func (r *Repo) fetchLocked(ctx context.Context) (*object.Commit, error) {
	spec := config.RefSpec(fmt.Sprintf("+refs/heads/%s:%s", r.opts.Branch, r.remoteRef()))
	err := r.r.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", RefSpecs: []config.RefSpec{spec}, Auth: r.opts.Auth, Force: true})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil, fmt.Errorf("fetching %s from %s: %w", r.opts.Branch, r.opts.URL, err)
	}
	ref, err := r.r.Reference(r.remoteRef(), true)
	if err != nil {
		// A fresh bare clone has the branch under refs/heads only.
		ref, err = r.r.Reference(plumbing.NewBranchReferenceName(r.opts.Branch), true)
		if err != nil {
			return nil, fmt.Errorf("reading the head of %s: %w", r.opts.Branch, err)
		}
	}
	c, err := r.r.CommitObject(ref.Hash())
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", ref.Hash(), err)
	}
	return c, nil
}

// Change is one edit of the desired state, committed as one commit.
type Change struct {
	Author  object.Signature // Name and Email; When is set at commit time
	Subject string
	Body    string
	// Trailers are appended to the message as "Key: value" lines.
	Trailers [][2]string
	// Edit applies the change. It runs once per attempt, each time on the
	// current branch head, so it must derive everything from t.
	Edit func(t *Tree) error
	// IfMatch, when set, is the revision the caller based the change on:
	// if the branch has moved since and any path the change touches
	// differs between IfMatch and the head, Commit returns ErrConflict.
	IfMatch string
	// Branch, when set, commits onto this branch instead (created from the
	// main branch head, force-updated): for pull requests.
	Branch string
}

// Result describes a committed (or no-op) change.
type Result struct {
	// Revision is the new commit, or the unchanged head when Changed is false.
	Revision string
	Parent   string
	Changed  bool
	Attempts int
	// Touched lists the paths the change wrote or removed.
	Touched []string
}

// Commit applies ch on the branch head, validates, commits and pushes,
// retrying on a rejected push. A change that alters nothing returns
// Changed=false and makes no commit.
func (r *Repo) Commit(ctx context.Context, ch Change) (Result, error) {
	if ch.Branch == "" {
		return r.groupCommit(ctx, ch)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var last error
	for attempt := 1; attempt <= r.opts.Retries; attempt++ {
		res, err := r.attemptLocked(ctx, ch, attempt)
		if err == nil || !isRejectedPush(err) {
			res.Attempts = attempt
			return res, err
		}
		last = err
		r.opts.Logger.Debug("push rejected, retrying on the new head", "attempt", attempt, "err", err)
		// Jittered backoff so competing writers do not retry in lockstep.
		d := min(time.Duration(attempt)*time.Duration(5+rand.IntN(20))*time.Millisecond, 250*time.Millisecond)
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-time.After(d):
		}
	}
	return Result{}, fmt.Errorf("giving up after %d rejected pushes: %w", r.opts.Retries, last)
}

func isRejectedPush(err error) bool {
	s := err.Error()
	return strings.Contains(s, "non-fast-forward") || strings.Contains(s, "reference has changed concurrently") || strings.Contains(s, "failed to update ref")
}

func (r *Repo) attemptLocked(ctx context.Context, ch Change, attempt int) (Result, error) {
	// Always the branch as it is now: a head remembered from an earlier
	// write may have been reset or reverted since.
	head, err := r.fetchLocked(ctx)
	if err != nil {
		return Result{}, err
	}
	res, c, err := r.buildLocked(ch, head)
	if err != nil || c == nil {
		return res, err
	}
	if err := r.pushLocked(ctx, c.Hash, head.Hash, ch.Branch, attempt); err != nil {
		return Result{}, err
	}
	res.Revision, res.Changed = c.Hash.String(), true
	return res, nil
}

// buildLocked applies ch on head and stores the commit, without pushing; c
// is nil when the change alters nothing.
func (r *Repo) buildLocked(ch Change, head *object.Commit) (Result, *object.Commit, error) {
	base, err := gittree.FromCommit(r.r.Storer, head)
	if err != nil {
		return Result{}, nil, err
	}
	t, err := newTree(base)
	if err != nil {
		return Result{}, nil, err
	}
	if err := ch.Edit(t); err != nil {
		return Result{}, nil, err
	}
	res := Result{Revision: head.Hash.String(), Parent: head.Hash.String(), Touched: t.Touched()}
	if ch.IfMatch != "" && ch.IfMatch != head.Hash.String() {
		if err := r.checkConflictLocked(ch.IfMatch, head, res.Touched); err != nil {
			return Result{}, nil, err
		}
	}
	changes := t.effective()
	if len(changes) == 0 {
		return res, nil, nil
	}
	if err := r.opts.Validate(t.FS()); err != nil {
		var errs desired.Errors
		if errors.As(err, &errs) {
			return Result{}, nil, &ValidationError{Errs: errs}
		}
		return Result{}, nil, fmt.Errorf("validating the changed desired state: %w", err)
	}
	treeHash, err := gittree.WriteTree(r.r.Storer, head.TreeHash, gittree.FileChanges(changes))
	if err != nil {
		return Result{}, nil, fmt.Errorf("building the new tree: %w", err)
	}
	sig := ch.Author
	sig.When = r.opts.Now()
	commit := &object.Commit{Author: sig, Committer: sig, Message: message(ch), TreeHash: treeHash, ParentHashes: []plumbing.Hash{head.Hash}}
	h, err := gittree.WriteCommit(r.r.Storer, commit, r.opts.Signer)
	if err != nil {
		return Result{}, nil, err
	}
	c, err := r.r.CommitObject(h)
	if err != nil {
		return Result{}, nil, err
	}
	return res, c, nil
}

// pushLocked pushes commit h. To the main branch it pushes only if the
// remote branch is still at base, the head h was built on (a lease checked
// by the server when it updates the ref): whatever else happened to the
// branch since the fetch (a push, a reset, a revert), the push is rejected
// and the change is rebuilt on the new head, so nothing the branch no
// longer has is pushed back. A pull-request branch is force-updated.
func (r *Repo) pushLocked(ctx context.Context, h, base plumbing.Hash, toBranch string, attempt int) error {
	branch := r.opts.Branch
	force := false
	if toBranch != "" {
		branch, force = toBranch, true
	}
	local := plumbing.NewBranchReferenceName(branch)
	if err := r.r.Storer.SetReference(plumbing.NewHashReference(local, h)); err != nil {
		return fmt.Errorf("updating %s: %w", local, err)
	}
	spec := fmt.Sprintf("%s:refs/heads/%s", local, branch)
	opts := &git.PushOptions{RemoteName: "origin", Auth: r.opts.Auth}
	if force {
		spec = "+" + spec
	} else {
		opts.ForceWithLease = &git.ForceWithLease{RefName: plumbing.NewBranchReferenceName(branch), Hash: base}
	}
	opts.RefSpecs = []config.RefSpec{config.RefSpec(spec)}
	err := r.r.PushContext(ctx, opts)
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("pushing %s to %s (attempt %d): %w", branch, r.opts.URL, attempt, err)
	}
	if toBranch == "" {
		_ = r.r.Storer.SetReference(plumbing.NewHashReference(r.remoteRef(), h))
	}
	return nil
}

// checkConflictLocked returns ErrConflict when any touched path differs
// between the IfMatch revision and head.
func (r *Repo) checkConflictLocked(ifMatch string, head *object.Commit, touched []string) error {
	h, err := r.r.ResolveRevision(plumbing.Revision(ifMatch))
	if err != nil {
		return fmt.Errorf("%w %q", ErrUnknownRevision, ifMatch)
	}
	old, err := r.r.CommitObject(*h)
	if err != nil {
		return fmt.Errorf("%w %q", ErrUnknownRevision, ifMatch)
	}
	oldTree, err := old.Tree()
	if err != nil {
		return fmt.Errorf("reading tree of %s: %w", ifMatch, err)
	}
	headTree, err := head.Tree()
	if err != nil {
		return fmt.Errorf("reading tree of %s: %w", head.Hash, err)
	}
	for _, p := range touched {
		a, aerr := oldTree.FindEntry(p)
		b, berr := headTree.FindEntry(p)
		if (aerr == nil) != (berr == nil) || (aerr == nil && a.Hash != b.Hash) {
			return fmt.Errorf("%w: %s changed between %s and %s", ErrConflict, p, short(ifMatch), short(head.Hash.String()))
		}
	}
	return nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func message(ch Change) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(ch.Subject))
	b.WriteString("\n")
	if body := strings.TrimSpace(ch.Body); body != "" {
		b.WriteString("\n")
		b.WriteString(body)
		b.WriteString("\n")
	}
	if len(ch.Trailers) > 0 {
		b.WriteString("\n")
		for _, t := range ch.Trailers {
			fmt.Fprintf(&b, "%s: %s\n", t[0], strings.ReplaceAll(t[1], "\n", " "))
		}
	}
	return b.String()
}

type pendingChange struct {
	ctx  context.Context
	ch   Change
	res  Result
	err  error
	done chan struct{}
}

// groupCommit queues ch; the first caller to find no batch running leads:
// it takes every queued change, commits each on top of the previous (each
// validated on its own), and pushes them all at once.
func (r *Repo) groupCommit(ctx context.Context, ch Change) (Result, error) {
	p := &pendingChange{ctx: ctx, ch: ch, done: make(chan struct{})}
	r.qmu.Lock()
	r.queue = append(r.queue, p)
	lead := !r.leading
	r.leading = true
	r.qmu.Unlock()
	if lead {
		r.lead()
	}
	select {
	case <-p.done:
		return p.res, p.err
	case <-ctx.Done():
		<-p.done // the batch finishes or skips it
		return p.res, p.err
	}
}

func (r *Repo) lead() {
	r.qmu.Lock()
	batch := r.queue
	r.queue = nil
	r.qmu.Unlock()
	ctx, cancel := batchContext(batch)
	r.mu.Lock()
	r.commitBatchLocked(ctx, batch)
	r.mu.Unlock()
	cancel()
	r.qmu.Lock()
	if len(r.queue) > 0 {
		go r.lead()
	} else {
		r.leading = false
	}
	r.qmu.Unlock()
}

// buildBatchLocked builds the batch's changes one on top of the other,
// starting at head, and returns the last commit (head when nothing
// changed) and whether any change failed (other than by its caller
// leaving).
func (r *Repo) buildBatchLocked(batch []*pendingChange, head *object.Commit, attempt int) (*object.Commit, bool) {
	parent, failed := head, false
	for _, p := range batch {
		p.res, p.err = Result{}, nil
		if err := p.ctx.Err(); err != nil {
			p.err = err
			continue
		}
		res, c, err := r.buildLocked(p.ch, parent)
		p.res, p.err = res, err
		failed = failed || err != nil
		if c != nil {
			p.res.Revision, p.res.Changed, p.res.Attempts = c.Hash.String(), true, attempt
			parent = c
		}
	}
	return parent, failed
}

// localHeadLocked is the last known remote head, without fetching; nil if unknown.
func (r *Repo) localHeadLocked() (*object.Commit, error) {
	ref, err := r.r.Reference(r.remoteRef(), true)
	if err != nil {
		return nil, nil
	}
	c, err := r.r.CommitObject(ref.Hash())
	if err != nil {
		return nil, nil
	}
	return c, nil
}

// batchContext is the context a batch runs under: it carries the first
// caller's values and ends when every caller's context has ended (nobody
// waits for the batch any more) or when cancel is called.
func batchContext(batch []*pendingChange) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(batch[0].ctx))
	left := int64(len(batch))
	var mu sync.Mutex
	stops := make([]func() bool, 0, len(batch))
	for _, p := range batch {
		stops = append(stops, context.AfterFunc(p.ctx, func() {
			mu.Lock()
			left--
			if left == 0 {
				cancel()
			}
			mu.Unlock()
		}))
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

func (r *Repo) commitBatchLocked(ctx context.Context, batch []*pendingChange) {
	defer func() {
		for _, p := range batch {
			close(p.done)
		}
	}()
	var last error
	for attempt := 1; attempt <= r.opts.Retries; attempt++ {
		// The first attempt builds on the head this clone last saw, without
		// a round trip: the push's lease on that head makes the server
		// refuse it if the branch has moved since (a push, a reset, a
		// revert), and a refused push is retried on a fetched head, so
		// nothing the branch no longer has is pushed back. A change that
		// fails on the remembered head is built again on a fetched one: a
		// write is always judged against the branch as it is now.
		var head *object.Commit
		var err error
		cached := false
		if attempt == 1 {
			head, _ = r.localHeadLocked()
			cached = head != nil
		}
		if head == nil {
			if head, err = r.fetchLocked(ctx); err != nil {
				for _, p := range batch {
					p.err = err
				}
				return
			}
		}
		parent, failed := r.buildBatchLocked(batch, head, attempt)
		if cached && failed {
			fresh, err := r.fetchLocked(ctx)
			if err != nil {
				for _, p := range batch {
					p.res, p.err = Result{}, err
				}
				return
			}
			if fresh.Hash != head.Hash {
				head = fresh
				parent, _ = r.buildBatchLocked(batch, head, attempt)
			}
		}
		if parent == head {
			return
		}
		err = r.pushLocked(ctx, parent.Hash, head.Hash, "", attempt)
		if err == nil {
			return
		}
		if !isRejectedPush(err) {
			for _, p := range batch {
				if p.res.Changed {
					p.res, p.err = Result{}, err
				}
			}
			return
		}
		last = err
		d := min(time.Duration(attempt)*time.Duration(5+rand.IntN(20))*time.Millisecond, 250*time.Millisecond)
		select {
		case <-ctx.Done():
			for _, p := range batch {
				p.res, p.err = Result{}, ctx.Err()
			}
			return
		case <-time.After(d):
		}
	}
	for _, p := range batch {
		if p.err == nil {
			p.res, p.err = Result{}, fmt.Errorf("giving up after %d rejected pushes: %w", r.opts.Retries, last)
		}
	}
}
