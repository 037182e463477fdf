// Package source is the agent's view of the desired-state repository: a
// full, single-branch, bare clone kept in a state directory and updated by
// incremental fetches. Each Sync returns the branch head as a Snapshot whose
// FS is the commit's tree held in memory, so a snapshot stays readable while
// later syncs fetch, fail or even re-clone.
//
//	src := &source.Source{URL: "https://git.example/ops/fleet.git", Branch: "main",
//		Dir: "/var/lib/ddc-gitops/git", Auth: source.Auth{Token: tok}, Logger: log}
//	snap, err := src.Sync(ctx)
//	switch {
//	case source.IsTransient(err): // retry with backoff; src.Last() is still good
//	case source.IsPermanent(err): // report (bad token, missing branch)
//	}
//	fleet, err := desired.Load(snap.FS)
//
// The clone is never shallow (go-git cannot fetch into shallow clones
// reliably), force-pushed branches are followed, and a clone that go-git
// cannot read any more is replaced by a fresh one, cloned next to it and
// swapped in with one rename.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/ddc-gitops/ddc-gitops/gittree"
)

// Defaults.
const (
	DefaultBranch  = "main"
	DefaultTimeout = 2 * time.Minute
	// DefaultMaxPacks is the default for Source.MaxPacks.
	DefaultMaxPacks = 64
)

// objectCache bounds go-git's cache of decoded objects in the clone: the
// snapshots keep what they read, so the cache only has to hold delta bases
// (a 10,000-entry tree is about 0.4 MB).
const objectCache = 1 * cache.MiByte

const (
	remoteName = "origin"
	repoDir    = "repo"      // the clone, inside Dir
	tmpPrefix  = ".clone-"   // clones in progress
	oldPrefix  = ".retired-" // replaced clones being removed
)

// Snapshot is the desired state at one commit of the branch.
type Snapshot struct {
	Revision gittree.Revision
	// FS is the commit's tree (a *gittree.FS): in memory, read-only, safe
	// for concurrent use, independent of the clone.
	FS fs.FS
}

// Stats counts what Sync did, for metrics and tests.
type Stats struct {
	Clones     int // full clones, including recoveries
	Fetches    int // incremental fetches into an existing clone
	Recoveries int // clones that replaced an unusable, foreign or overgrown one
}

// Source fetches one branch of one repository. Set the exported fields
// before the first Sync and do not change them after. Methods are safe for
// concurrent use; Syncs run one at a time.
type Source struct {
	// URL of the repository: https://, http://, ssh://, git@host:path,
	// file:// or a plain path.
	URL string
	// Branch to follow. Default "main".
	Branch string
	// Dir is the state directory, owned by the Source: the clone lives in
	// Dir/repo. Created if missing.
	Dir string
	// Auth holds the credentials for URL's scheme.
	Auth Auth
	// CABundle, if set, is the PEM bundle trusted for https.
	CABundle []byte
	// Timeout bounds one Sync. Default DefaultTimeout.
	Timeout time.Duration
	// MaxPacks is the number of pack files in the clone (go-git adds about
	// one per fetch that brings new commits, and never repacks) above which
	// the clone is replaced by a fresh one, since every object lookup scans
	// every pack index. Default DefaultMaxPacks.
	MaxPacks int
	// Logger receives progress and recovery messages. Default: discard.
	Logger *slog.Logger

	mu     sync.Mutex // serialises Syncs; guards the go-git repository and unknownFails
	repo   *git.Repository
	closer io.Closer
	last   atomic.Pointer[Snapshot] // readable while a Sync runs
	smu    sync.Mutex               // guards stats
	stats  Stats
	// unknownFails counts consecutive fetch failures that were neither
	// network nor remote errors; a few in a row suggest a broken clone.
	unknownFails int
}

// Sync brings the clone up to date with the branch on the remote and returns
// the branch head. The first call clones, or reopens the clone a previous
// process left in Dir; later calls fetch. On error the previous snapshot
// (Last) is unchanged. Errors are *Error, Transient or Permanent.
func (s *Source) Sync(ctx context.Context) (*Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	log := s.log()
	auth, err := s.check()
	if err != nil {
		return nil, &Error{Kind: Permanent, Op: "configure", URL: s.URL, Err: err}
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	recovering := false
	if s.repo == nil {
		recovering = s.reopen(log)
	}
	if s.repo != nil {
		start := time.Now()
		err := s.fetch(ctx, s.repo, auth)
		if err == nil {
			s.count(func(st *Stats) { st.Fetches++ })
			s.unknownFails = 0
			snap, rerr := s.read(s.repo)
			if rerr == nil {
				s.logHead(log, "fetched", snap, start)
				if n := packCount(s.repo); n > s.maxPacks() {
					log.Info("git clone has too many pack files, replacing it with a fresh clone", "packs", n)
					if _, cerr := s.reclone(ctx, auth, log); cerr != nil {
						log.Warn("replacing the git clone failed, keeping the old one", "err", cerr)
					} else {
						s.count(func(st *Stats) { st.Recoveries++ })
					}
				}
				return snap, nil
			}
			log.Warn("git clone unreadable after fetch, re-cloning", "err", rerr)
		} else {
			cls, werr := classify(err)
			if cls != unknown {
				return nil, &Error{Kind: kindOf(cls), Op: "fetch", URL: s.URL, Err: werr}
			}
			s.unknownFails++
			if s.healthy() && s.unknownFails < 3 {
				return nil, &Error{Kind: Transient, Op: "fetch", URL: s.URL, Err: err}
			}
			log.Warn("git fetch failed and the clone looks broken, re-cloning", "err", err, "failures", s.unknownFails)
		}
		recovering = true
	}
	start := time.Now()
	snap, err := s.reclone(ctx, auth, log)
	if err != nil {
		cls, werr := classify(err)
		return nil, &Error{Kind: kindOf(cls), Op: "clone", URL: s.URL, Err: werr}
	}
	s.unknownFails = 0
	if recovering {
		s.count(func(st *Stats) { st.Recoveries++ })
	}
	s.logHead(log, "cloned", snap, start)
	return snap, nil
}

// Last returns the snapshot of the last successful Sync, nil before one. It
// does not wait for a running Sync.
func (s *Source) Last() *Snapshot { return s.last.Load() }

// Stats returns what Sync has done so far.
func (s *Source) Stats() Stats {
	s.smu.Lock()
	defer s.smu.Unlock()
	return s.stats
}

func (s *Source) count(f func(*Stats)) {
	s.smu.Lock()
	defer s.smu.Unlock()
	f(&s.stats)
}

// Close releases the clone's open files. Snapshots stay readable; a later
// Sync reopens the clone.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeRepo()
}

func (s *Source) closeRepo() error {
	var err error
	if s.closer != nil {
		err = s.closer.Close()
	}
	s.repo, s.closer = nil, nil
	return err
}

func (s *Source) log() *slog.Logger {
	l := s.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return l.With("component", "git-source", "url", redact(s.URL), "branch", s.branch())
}

func (s *Source) maxPacks() int {
	if s.MaxPacks <= 0 {
		return DefaultMaxPacks
	}
	return s.MaxPacks
}

func (s *Source) branch() string {
	if s.Branch == "" {
		return DefaultBranch
	}
	return s.Branch
}

func (s *Source) remoteRef() plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName(remoteName, s.branch())
}

func (s *Source) refSpec() config.RefSpec {
	return config.RefSpec(fmt.Sprintf("+%s:%s", plumbing.NewBranchReferenceName(s.branch()), s.remoteRef()))
}

// check validates the configuration and builds the auth method.
func (s *Source) check() (transport.AuthMethod, error) {
	if s.URL == "" {
		return nil, fmt.Errorf("%w: no URL", ErrConfig)
	}
	if s.Dir == "" {
		return nil, fmt.Errorf("%w: no state directory", ErrConfig)
	}
	if err := plumbing.NewBranchReferenceName(s.branch()).Validate(); err != nil || strings.ContainsAny(s.branch(), "*:") {
		return nil, fmt.Errorf("%w: invalid branch name %q", ErrConfig, s.branch())
	}
	ep, err := transport.NewEndpoint(s.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: parsing URL: %w", ErrConfig, err)
	}
	return s.Auth.method(ep)
}

// reopen opens the clone a previous Sync or process left in Dir, if it is
// usable for this URL. Otherwise it leaves s.repo nil (Sync then clones) and
// reports whether there was a clone it had to give up on.
func (s *Source) reopen(log *slog.Logger) (unusable bool) {
	s.removeLeftovers(log)
	path := filepath.Join(s.Dir, repoDir)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return false
	}
	repo, closer, err := gittree.OpenRepositoryCache(path, objectCache)
	if err != nil {
		log.Warn("existing git clone is unusable, cloning again", "dir", path, "err", err)
		return true
	}
	rem, err := repo.Remote(remoteName)
	if err != nil || len(rem.Config().URLs) != 1 || rem.Config().URLs[0] != s.URL {
		log.Info("existing git clone is of another repository or unreadable, cloning again", "dir", path, "err", err)
		_ = closer.Close()
		return true
	}
	s.repo, s.closer = repo, closer
	log.Debug("reusing existing git clone", "dir", path)
	return false
}

// removeLeftovers deletes temporary clones a crash left behind.
func (s *Source) removeLeftovers(log *slog.Logger) {
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) || strings.HasPrefix(e.Name(), oldPrefix) {
			p := filepath.Join(s.Dir, e.Name())
			if err := os.RemoveAll(p); err != nil {
				log.Warn("removing leftover git directory", "dir", p, "err", err)
			}
		}
	}
}

// fetch updates the remote-tracking ref of the branch, forced so that a
// rewritten branch is followed.
func (s *Source) fetch(ctx context.Context, repo *git.Repository, auth transport.AuthMethod) error {
	// The rollout decisions come in the same request as the branch
	// (pruned, so a withdrawn one disappears): waves read them at every
	// new revision, and a fetch of their own cost one more round trip to
	// the git server (rollout.go).
	err := repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: remoteName,
		RefSpecs:   []config.RefSpec{s.refSpec(), rolloutRefSpec},
		Auth:       auth,
		Tags:       git.NoTags,
		Force:      true,
		Prune:      true,
		CABundle:   s.CABundle,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return err
	}
	return nil
}

// read returns the snapshot of the fetched branch head, reusing the last
// one when the head has not moved.
func (s *Source) read(repo *git.Repository) (*Snapshot, error) {
	ref, err := repo.Reference(s.remoteRef(), true)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.remoteRef(), err)
	}
	if last := s.last.Load(); last != nil && last.Revision.Hash == ref.Hash().String() {
		return last, nil
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", ref.Hash(), err)
	}
	// What did not change since the last snapshot is shared with it, not
	// read and decompressed again.
	var prev *gittree.FS
	if last := s.last.Load(); last != nil {
		prev, _ = last.FS.(*gittree.FS)
	}
	fsys, err := gittree.FromCommitReusing(repo.Storer, c, prev)
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{Revision: *gittree.RevisionOf(c), FS: fsys}
	s.last.Store(snap)
	return snap, nil
}

// healthy reports whether the clone's branch head and its tree can be read.
func (s *Source) healthy() bool {
	ref, err := s.repo.Reference(s.remoteRef(), true)
	if err != nil {
		return false
	}
	c, err := s.repo.CommitObject(ref.Hash())
	if err != nil {
		return false
	}
	_, err = c.Tree()
	return err == nil
}

// reclone makes a fresh clone next to the current one, reads the branch
// head from it and only then swaps it in: a failed clone leaves the current
// clone (and Last) untouched.
func (s *Source) reclone(ctx context.Context, auth transport.AuthMethod, log *slog.Logger) (*Snapshot, error) {
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("%w: creating state directory: %w", ErrConfig, err)
	}
	tmp, err := os.MkdirTemp(s.Dir, tmpPrefix)
	if err != nil {
		return nil, fmt.Errorf("creating temporary clone directory: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			_ = os.RemoveAll(tmp)
		}
	}()
	st := filesystem.NewStorageWithOptions(osfs.New(tmp), cache.NewObjectLRU(objectCache), filesystem.Options{KeepDescriptors: true})
	repo, err := git.Init(st, nil)
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("initialising clone: %w", err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: remoteName, URLs: []string{s.URL}, Fetch: []config.RefSpec{s.refSpec()}}); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("configuring clone: %w", err)
	}
	head := plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName(s.branch()))
	if err := repo.Storer.SetReference(head); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("configuring clone: %w", err)
	}
	if err := s.fetch(ctx, repo, auth); err != nil {
		_ = st.Close()
		return nil, err
	}
	snap, err := s.read(repo)
	_ = st.Close() // reopened at its final path below
	if err != nil {
		return nil, fmt.Errorf("reading fresh clone: %w", err)
	}
	s.count(func(st *Stats) { st.Clones++ })
	if err := s.closeRepo(); err != nil {
		log.Warn("closing the old git clone", "err", err)
	}
	final := filepath.Join(s.Dir, repoDir)
	old, err := swapDir(tmp, final)
	if err != nil {
		return nil, fmt.Errorf("moving fresh clone into place: %w", err)
	}
	keep = true
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			log.Warn("removing the replaced git clone", "dir", old, "err", err)
		}
	}
	repo, closer, err := gittree.OpenRepositoryCache(final, objectCache)
	if err != nil {
		return nil, fmt.Errorf("reopening fresh clone: %w", err)
	}
	s.repo, s.closer = repo, closer
	return snap, nil
}

func packCount(repo *git.Repository) int {
	pos, ok := repo.Storer.(storer.PackedObjectStorer)
	if !ok {
		return 0
	}
	packs, err := pos.ObjectPacks()
	if err != nil {
		return 0
	}
	return len(packs)
}

func (s *Source) logHead(log *slog.Logger, what string, snap *Snapshot, start time.Time) {
	log.Debug("git "+what, "revision", snap.Revision.Short(), "commit_time", snap.Revision.Time,
		"took", time.Since(start).Round(time.Millisecond))
}

func kindOf(c class) Kind {
	if c == permanent {
		return Permanent
	}
	return Transient
}

// redact hides a password in a URL for logs.
func redact(u string) string {
	ep, err := transport.NewEndpoint(u)
	if err != nil || ep.Password == "" {
		return u
	}
	return strings.Replace(u, ep.Password, "xxxxx", 1)
}
