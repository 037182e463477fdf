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
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"slices"
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
// earlier commit (nil for none), what did not change: an entry whose object
// (blob or tree) and mode are those prev holds at the same path is prev's
// node, shared whole (a directory's objects are not read again), and a
// file whose blob prev holds with another mode shares prev's contents. The
// result reads exactly as FromCommit's; the cost and the new memory are
// those of what changed, plus one pass over each changed tree's entries (a
// commit that changes one of 10,000 files in a directory allocates the new
// file and that directory's list of entries, not 10,000 entries).
func FromCommitReusing(s storer.EncodedObjectStorer, c *object.Commit, prev *FS) (*FS, error) {
	f := newFS(c.Committer.When)
	f.root.hash = c.TreeHash
	var old *node
	if prev != nil {
		old = prev.root
		if old.hash == c.TreeHash {
			f.root.children, f.root.size, f.symlinks = old.children, old.size, prev.symlinks
			return f, nil
		}
	}
	r := treeReader{s: s, fs: f, blobs: map[plumbing.Hash][]byte{}, prevLinks: prev != nil && prev.symlinks}
	if err := r.readTree(f.root, c.TreeHash, "", 0, old); err != nil {
		return nil, fmt.Errorf("reading tree of commit %s: %w", c.Hash, err)
	}
	return f, nil
}

// maxDepth bounds directory nesting, against malicious or corrupt trees.
const maxDepth = 256

type treeReader struct {
	s     storer.EncodedObjectStorer
	fs    *FS
	blobs map[plumbing.Hash][]byte // identical blobs share one slice
	// prevLinks: the previous FS has a symbolic link somewhere, so a
	// shared directory may bring one.
	prevLinks bool
}

// readTree fills dir from the tree object h, at path prefix; old is the
// directory at that path in the previous FS (nil when there is none), whose
// unchanged entries are shared.
func (r *treeReader) readTree(dir *node, h plumbing.Hash, prefix string, depth int, old *node) error {
	if depth > maxDepth {
		return fmt.Errorf("tree %q nested deeper than %d", prefix, maxDepth)
	}
	raw, err := r.treeBytes(h)
	if err != nil {
		return fmt.Errorf("reading tree %s (%q): %w", h, displayDir(prefix), err)
	}
	// The raw object is parsed in place (go-git's object.Tree would
	// allocate every entry's name): a name is copied out of it only for a
	// node that is not shared.
	entries := countEntries(raw)
	dir.children = make([]*node, 0, entries)
	var oldKids []*node
	if old != nil && old.mode.IsDir() {
		oldKids = old.children
	}
	hasDir := false
	sorted := true // in plain name order so far (git's order, for files)
	add := func(n *node) {
		if k := len(dir.children); k > 0 && dir.children[k-1].name >= n.name {
			sorted = false
		}
		dir.children = append(dir.children, n)
		dir.size += 1 + n.size
	}
	j := 0 // where the previous tree's entry for the next name likely is
	for rest := raw; len(rest) > 0; {
		mode, name, hash, next, err := parseEntry(rest)
		if err != nil {
			return fmt.Errorf("tree %q: %w", displayDir(prefix), err)
		}
		rest = next
		if mode == filemode.Submodule {
			continue // a commit of another repository: nothing to read here
		}
		var o *node
		if j < len(oldKids) && oldKids[j].name == string(name) {
			o = oldKids[j]
			j++
		} else if i, ok := slices.BinarySearchFunc(oldKids, name, compareName); ok {
			o, j = oldKids[i], i+1
		}
		if o != nil && o.hash == hash && o.mode == nodeMode(mode) {
			// The same object at the same path: share prev's node (for
			// a directory, its whole subtree).
			add(o)
			if o.mode&fs.ModeSymlink != 0 || (r.prevLinks && o.mode.IsDir() && hasLinks(o)) {
				r.fs.symlinks = true
			}
			hasDir = hasDir || o.mode.IsDir()
			continue
		}
		n := &node{name: string(name), hash: hash, mode: nodeMode(mode)}
		if err := validName(n.name); err != nil {
			return fmt.Errorf("tree %q: %w", displayDir(prefix), err)
		}
		p := n.name
		if prefix != "" {
			p = prefix + "/" + n.name
		}
		switch mode {
		case filemode.Dir:
			hasDir = true
			if err := r.readTree(n, hash, p, depth+1, o); err != nil {
				return err
			}
		case filemode.Regular, filemode.Deprecated, filemode.Executable:
		case filemode.Symlink:
			r.fs.symlinks = true
		default:
			return fmt.Errorf("entry %q has unsupported mode %s", p, mode)
		}
		if !n.mode.IsDir() {
			if o != nil && o.hash == hash && !o.mode.IsDir() {
				n.data, n.hexHash = o.data, o.hexHash
			} else if n.data, err = r.blob(hash, p); err != nil {
				return err
			}
			if n.hexHash == "" {
				n.hexHash = hash.String()
			}
		}
		add(n)
	}
	// git sorts tree entries with directories as if they ended in "/";
	// fs.ReadDir promises plain name order, which differs only around
	// directories (or in a tree git did not write).
	if hasDir || !sorted {
		sortNodes(dir.children)
		for k := 1; k < len(dir.children); k++ {
			if dir.children[k-1].name == dir.children[k].name {
				return fmt.Errorf("tree %q: entry %q is there twice", displayDir(prefix), dir.children[k].name)
			}
		}
	}
	return nil
}

// hasLinks reports whether a symbolic link is anywhere below dir.
func hasLinks(dir *node) bool {
	for _, c := range dir.children {
		if c.mode&fs.ModeSymlink != 0 || (c.mode.IsDir() && hasLinks(c)) {
			return true
		}
	}
	return false
}

// nodeMode is the fs.FileMode of a git tree entry's mode (0 for a mode
// trees do not hold).
func nodeMode(m filemode.FileMode) fs.FileMode {
	switch m {
	case filemode.Dir:
		return fs.ModeDir | 0o755
	case filemode.Regular, filemode.Deprecated:
		return 0o644
	case filemode.Executable:
		return 0o755
	case filemode.Symlink:
		return fs.ModeSymlink | 0o777
	}
	return 0
}

// compareName orders a node against a name read from a tree object.
func compareName(n *node, name []byte) int {
	return strings.Compare(n.name, string(name))
}

// treeBytes reads the raw tree object h.
func (r *treeReader) treeBytes(h plumbing.Hash) ([]byte, error) {
	o, err := r.s.EncodedObject(plumbing.TreeObject, h)
	if err != nil {
		return nil, err
	}
	rd, err := o.Reader()
	if err != nil {
		return nil, err
	}
	// Subtrees are read while this one is parsed: each tree has a buffer
	// of its own, garbage once its entries are built.
	b := make([]byte, o.Size())
	_, err = io.ReadFull(rd, b)
	if cerr := rd.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

// countEntries counts the entries of a raw tree object (each ends with a
// NUL and a 20-byte hash), for sizing; a malformed object is caught by
// parseEntry.
func countEntries(raw []byte) int {
	n := 0
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, 0)
		if i < 0 || len(raw) < i+1+hashLen {
			break
		}
		raw = raw[i+1+hashLen:]
		n++
	}
	return n
}

const hashLen = 20

// parseEntry reads one entry of a raw tree object: "MODE NAME\0" and the
// 20-byte object hash. name aliases raw.
func parseEntry(raw []byte) (mode filemode.FileMode, name []byte, h plumbing.Hash, rest []byte, err error) {
	sp := bytes.IndexByte(raw, ' ')
	if sp <= 0 || sp > 7 {
		return 0, nil, h, nil, fmt.Errorf("malformed tree entry (mode)")
	}
	var m uint32
	for _, c := range raw[:sp] {
		if c < '0' || c > '7' {
			return 0, nil, h, nil, fmt.Errorf("malformed tree entry mode %q", raw[:sp])
		}
		m = m<<3 | uint32(c-'0')
	}
	raw = raw[sp+1:]
	nul := bytes.IndexByte(raw, 0)
	if nul < 0 || len(raw) < nul+1+hashLen {
		return 0, nil, h, nil, fmt.Errorf("malformed tree entry (name or hash)")
	}
	name = raw[:nul]
	copy(h[:], raw[nul+1:nul+1+hashLen])
	return filemode.FileMode(m), name, h, raw[nul+1+hashLen:], nil
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
