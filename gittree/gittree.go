// Package gittree reads the tree of one git commit as an fs.FS, so the
// desired-state loader reads a commit exactly as it reads a working directory:
//
//	fsys, rev, err := gittree.Open("/srv/fleet.git", "main")
//	fleet, err := desired.Load(fsys)
//
// The tree is read once, eagerly, into memory when the FS is built: every blob
// of the commit is decompressed and kept (identical blobs share one copy). The
// FS then no longer touches the go-git repository, so it is safe for
// concurrent reads, survives later fetches or even the removal of the
// repository, and reads cost no locking. A desired-state tree is small (10,000
// node files are about 5 MB); see BenchmarkLoad for figures.
package gittree

import (
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Revision identifies the commit an FS was read from.
type Revision struct {
	// Hash is the full hex commit hash.
	Hash string
	// Time is the committer time.
	Time time.Time
	// Author is "Name <email>".
	Author string
	// Message is the full commit message.
	Message string
}

// Short returns the first 12 characters of the hash.
func (r *Revision) Short() string {
	if len(r.Hash) > 12 {
		return r.Hash[:12]
	}
	return r.Hash
}

// RevisionOf describes commit c.
func RevisionOf(c *object.Commit) *Revision {
	return &Revision{
		Hash:    c.Hash.String(),
		Time:    c.Committer.When,
		Author:  fmt.Sprintf("%s <%s>", c.Author.Name, c.Author.Email),
		Message: c.Message,
	}
}

// Open opens the repository at repoPath (a bare repository, or a working
// directory containing .git), resolves rev (a branch, remote branch, tag,
// hash, or any revision go-git's ResolveRevision understands such as
// "main~1") to a commit and returns that commit's tree.
func Open(repoPath, rev string) (*FS, *Revision, error) {
	repo, closer, err := OpenRepository(repoPath)
	if err != nil {
		return nil, nil, fmt.Errorf("opening git repository %s: %w", repoPath, err)
	}
	defer closer.Close()
	c, err := ResolveCommit(repo, rev)
	if err != nil {
		return nil, nil, fmt.Errorf("in git repository %s: %w", repoPath, err)
	}
	fsys, err := FromCommit(repo.Storer, c)
	if err != nil {
		return nil, nil, fmt.Errorf("in git repository %s: %w", repoPath, err)
	}
	return fsys, RevisionOf(c), nil
}

// ResolveCommit resolves rev to a commit of repo, peeling annotated tags.
// The caller must hold whatever lock guards repo.
func ResolveCommit(repo *git.Repository, rev string) (*object.Commit, error) {
	if rev == "" {
		rev = "HEAD"
	}
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("resolving revision %q: %w", rev, err)
	}
	obj, err := repo.Object(plumbing.AnyObject, *h)
	if err != nil {
		return nil, fmt.Errorf("reading object %s of revision %q: %w", h, rev, err)
	}
	for range 10 { // tags of tags, bounded
		switch o := obj.(type) {
		case *object.Commit:
			return o, nil
		case *object.Tag:
			obj, err = o.Object()
			if err != nil {
				return nil, fmt.Errorf("peeling tag %s of revision %q: %w", o.Name, rev, err)
			}
		default:
			return nil, fmt.Errorf("revision %q is a %s, not a commit", rev, obj.Type())
		}
	}
	return nil, fmt.Errorf("revision %q: too many nested tags", rev)
}

// FromCommit reads the whole tree of commit c from s into memory. The caller
// must hold whatever lock guards the repository s belongs to; the returned FS
// does not use s again. Files get the commit's committer time as ModTime.
// Submodule entries are left out.
func FromCommit(s storer.EncodedObjectStorer, c *object.Commit) (*FS, error) {
	return FromCommitReusing(s, c, nil)
}

// FromCommitReusing is FromCommit that takes from prev, the FS of an
// earlier commit (nil for none), what did not change: a directory whose tree
// hash is the same at the same path is shared whole (its objects are not
// read again), and a file whose blob is the one prev holds at the same path
// shares prev's contents. The result reads exactly as FromCommit's; the cost
// and the new memory are those of what changed (plus the trees above it).
func FromCommitReusing(s storer.EncodedObjectStorer, c *object.Commit, prev *FS) (*FS, error) {
	f := newFS(c.Committer.When)
	f.root.hash = c.TreeHash
	if prev != nil && prev.root.hash == c.TreeHash {
		f.root.children = prev.root.children
		f.addSubtree(f.root, "")
		return f, nil
	}
	r := treeReader{s: s, fs: f, prev: prev, blobs: map[plumbing.Hash][]byte{}}
	if err := r.readTree(f.root, c.TreeHash, "", 0); err != nil {
		return nil, fmt.Errorf("reading tree of commit %s: %w", c.Hash, err)
	}
	return f, nil
}

// maxDepth bounds directory nesting, against malicious or corrupt trees.
const maxDepth = 256

type treeReader struct {
	s     storer.EncodedObjectStorer
	fs    *FS
	prev  *FS                      // an earlier commit's tree to reuse, or nil
	blobs map[plumbing.Hash][]byte // identical blobs share one slice
}

func (r *treeReader) readTree(dir *node, h plumbing.Hash, prefix string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("tree %q nested deeper than %d", prefix, maxDepth)
	}
	t, err := object.GetTree(r.s, h)
	if err != nil {
		return fmt.Errorf("reading tree %s (%q): %w", h, displayDir(prefix), err)
	}
	dir.children = make([]*node, 0, len(t.Entries))
	for _, e := range t.Entries {
		if err := validName(e.Name); err != nil {
			return fmt.Errorf("tree %q: %w", displayDir(prefix), err)
		}
		p := e.Name
		if prefix != "" {
			p = prefix + "/" + e.Name
		}
		n := &node{name: e.Name, hash: e.Hash}
		var old *node
		if r.prev != nil {
			old = r.prev.nodes[p]
		}
		switch e.Mode {
		case filemode.Dir:
			n.mode = fs.ModeDir | 0o755
			if old != nil && old.hash == e.Hash && old.mode.IsDir() {
				// The same tree: share prev's subtree, read nothing.
				n.children = old.children
				r.fs.addSubtree(n, p)
				break
			}
			if err := r.readTree(n, e.Hash, p, depth+1); err != nil {
				return err
			}
		case filemode.Regular, filemode.Deprecated:
			n.mode = 0o644
		case filemode.Executable:
			n.mode = 0o755
		case filemode.Symlink:
			n.mode = fs.ModeSymlink | 0o777
			r.fs.symlinks = true
		case filemode.Submodule:
			continue // a commit of another repository: nothing to read here
		default:
			return fmt.Errorf("entry %q has unsupported mode %s", p, e.Mode)
		}
		if !n.mode.IsDir() {
			if old != nil && old.hash == e.Hash && !old.mode.IsDir() {
				n.data, n.hexHash = old.data, old.hexHash
			} else if n.data, err = r.blob(e.Hash, p); err != nil {
				return err
			}
			if n.hexHash == "" {
				n.hexHash = e.Hash.String()
			}
		}
		dir.children = append(dir.children, n)
		r.fs.nodes[p] = n
	}
	// git sorts tree entries with directories as if they ended in "/";
	// fs.ReadDir promises plain name order.
	sortNodes(dir.children)
	return nil
}

func (r *treeReader) blob(h plumbing.Hash, p string) ([]byte, error) {
	if b, ok := r.blobs[h]; ok {
		return b, nil
	}
	o, err := r.s.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return nil, fmt.Errorf("reading blob %s (%q): %w", h, p, err)
	}
	rd, err := o.Reader()
	if err != nil {
		return nil, fmt.Errorf("reading blob %s (%q): %w", h, p, err)
	}
	b := make([]byte, o.Size())
	_, err = io.ReadFull(rd, b)
	if cerr := rd.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("reading blob %s (%q): %w", h, p, err)
	}
	r.blobs[h] = b
	return b, nil
}

func validName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("invalid entry name %q", name)
	}
	return nil
}

func displayDir(prefix string) string {
	if prefix == "" {
		return "."
	}
	return prefix
}

// addSubtree registers the paths under dir (at path p, "" for the root),
// whose children come from an earlier FS, in f.
func (f *FS) addSubtree(dir *node, p string) {
	for _, c := range dir.children {
		cp := c.name
		if p != "" {
			cp = p + "/" + c.name
		}
		f.nodes[cp] = c
		if c.mode&fs.ModeSymlink != 0 {
			f.symlinks = true
		}
		if c.mode.IsDir() {
			f.addSubtree(c, cp)
		}
	}
}
