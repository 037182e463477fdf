package gittree

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// FS is the read-only, in-memory tree of one commit. It implements fs.FS,
// fs.ReadDirFS, fs.ReadFileFS, fs.StatFS and fs.ReadLinkFS, and is safe for
// concurrent use: nothing in it changes after it is built.
//
// Symbolic links are followed by Open, Stat, ReadFile and ReadDir when their
// target is a relative path that stays inside the tree; other links (absolute
// targets, targets above the root) do not resolve (fs.ErrNotExist).
//
// Paths are found by walking the tree (a binary search in each directory),
// not through an index of every path: a tree read from a commit shares
// every unchanged node, directory or file, with the tree it was read
// against (FromCommitReusing), so a new commit costs what changed.
type FS struct {
	root     *node
	modTime  time.Time
	symlinks bool
}

// node is a file, link or directory. Nodes never change once built, which
// lets trees share them.
type node struct {
	name     string
	mode     fs.FileMode
	hash     plumbing.Hash // the git object: blob for files and links, tree for directories
	hexHash  string        // hash in hex, for files (BlobHash); shared with the node it was reused from
	data     []byte        // file contents or symlink target; shared, never written
	children []*node       // sorted by name, for directories; shared, never written
	size     int           // for directories: how many nodes are below it
}

func newFS(modTime time.Time) *FS {
	return &FS{root: &node{name: ".", mode: fs.ModeDir | 0o755}, modTime: modTime}
}

// setSizes fills in the size of dir and of every directory below it, for
// trees built without counting (FromFiles).
func setSizes(dir *node) int {
	dir.size = 0
	for _, c := range dir.children {
		dir.size++
		if c.mode.IsDir() {
			dir.size += setSizes(c)
		}
	}
	return dir.size
}

func sortNodes(ns []*node) {
	slices.SortFunc(ns, func(a, b *node) int { return strings.Compare(a.name, b.name) })
}

// BlobHash returns the git blob hash of the file name (following symbolic
// links like ReadFile): two files with the same hash have the same
// contents, so a reader can keep what it derived from a file for as long as
// its hash does not change. Only an FS read from a commit knows its
// hashes: for one built by FromDir or FromFiles it reports false.
func (f *FS) BlobHash(name string) (string, bool) {
	n, err := f.lookup("blobhash", name, true)
	if err != nil || !n.mode.IsRegular() || n.hash.IsZero() {
		return "", false
	}
	if n.hexHash == "" { // not set on nodes built before it existed
		return n.hash.String(), true
	}
	return n.hexHash, true
}

// Len returns the number of files, directories and links in the tree, root excluded.
func (f *FS) Len() int { return f.root.size }

// maxLinks bounds symbolic link resolution, like Linux's ELOOP limit.
const maxLinks = 40

// lookup finds name, following symbolic links in every component and, when
// follow is set, in the last one.
func (f *FS) lookup(op, name string, follow bool) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if !f.symlinks {
		if n := f.find(name); n != nil {
			return n, nil
		}
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	n, err := f.walk(name, follow)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return n, nil
}

// find resolves a valid path in a tree without symbolic links; nil when
// there is nothing at name.
func (f *FS) find(name string) *node {
	cur := f.root
	for rest := name; rest != "." && rest != ""; {
		var comp string
		comp, rest, _ = strings.Cut(rest, "/")
		if !cur.mode.IsDir() {
			return nil
		}
		if cur = cur.child(comp); cur == nil {
			return nil
		}
	}
	return cur
}

// walk resolves name component by component.
func (f *FS) walk(name string, follow bool) (*node, error) {
	links := 0
	var done []string // resolved components
	rest := strings.Split(name, "/")
	if name == "." {
		rest = nil
	}
	cur := f.root
	for len(rest) > 0 {
		comp := rest[0]
		rest = rest[1:]
		if !cur.mode.IsDir() {
			return nil, fs.ErrNotExist
		}
		next := cur.child(comp)
		if next == nil {
			return nil, fs.ErrNotExist
		}
		if next.mode&fs.ModeSymlink != 0 && (len(rest) > 0 || follow) {
			links++
			if links > maxLinks {
				return nil, errors.New("too many levels of symbolic links")
			}
			target := string(next.data)
			if path.IsAbs(target) {
				return nil, &linkError{link: path.Join(append(done, comp)...), target: target}
			}
			full := path.Join(path.Join(done...), target)
			if full == ".." || strings.HasPrefix(full, "../") {
				return nil, &linkError{link: path.Join(append(done, comp)...), target: target}
			}
			// Restart from the root with the link's target in front.
			if full != "." {
				rest = append(strings.Split(full, "/"), rest...)
			}
			done = done[:0]
			cur = f.root
			continue
		}
		done = append(done, comp)
		cur = next
	}
	return cur, nil
}

func (n *node) child(name string) *node {
	i, ok := slices.BinarySearchFunc(n.children, name, func(c *node, name string) int {
		return strings.Compare(c.name, name)
	})
	if !ok {
		return nil
	}
	return n.children[i]
}

// Open opens the named file or directory.
func (f *FS) Open(name string) (fs.File, error) {
	n, err := f.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	return &file{path: name, info: f.info(n, name), n: n, r: bytes.NewReader(n.data)}, nil
}

// ReadFile returns a copy of the named file's contents.
func (f *FS) ReadFile(name string) ([]byte, error) {
	n, err := f.lookup("readfile", name, true)
	if err != nil {
		return nil, err
	}
	if n.mode.IsDir() {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errIsDir}
	}
	return bytes.Clone(n.data), nil
}

// ReadFileShared returns the named file's contents without copying them:
// the snapshot's own bytes, which nothing ever writes. The caller must not
// write them either; in exchange it may keep them, or strings made from
// them without a copy (unsafe.String), as long as it likes. The fleet
// loader does, so a decoded node and the snapshot hold its file once.
func (f *FS) ReadFileShared(name string) ([]byte, error) {
	n, err := f.lookup("readfile", name, true)
	if err != nil {
		return nil, err
	}
	if n.mode.IsDir() {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errIsDir}
	}
	return n.data[:len(n.data):len(n.data)], nil
}

// ReadDir returns the named directory's entries sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.lookup("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !n.mode.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	return f.entries(n.children), nil
}

// Stat describes the named file, following symbolic links.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	n, err := f.lookup("stat", name, true)
	if err != nil {
		return nil, err
	}
	return f.info(n, name), nil
}

// Lstat describes the named file without following a final symbolic link.
func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	n, err := f.lookup("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return f.info(n, name), nil
}

// ReadLink returns the target of the named symbolic link.
func (f *FS) ReadLink(name string) (string, error) {
	n, err := f.lookup("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return string(n.data), nil
}

var (
	errIsDir  = errors.New("is a directory")
	errNotDir = errors.New("not a directory")
)

func (f *FS) entries(ns []*node) []fs.DirEntry {
	out := make([]fs.DirEntry, len(ns))
	for i, c := range ns {
		out[i] = fs.FileInfoToDirEntry(f.info(c, c.name))
	}
	return out
}

func (f *FS) info(n *node, name string) *fileInfo {
	return &fileInfo{name: path.Base(name), n: n, modTime: f.modTime, fs: f}
}

type fileInfo struct {
	name    string
	n       *node
	modTime time.Time
	fs      *FS
}

func (i *fileInfo) Name() string       { return i.name }
func (i *fileInfo) Size() int64        { return int64(len(i.n.data)) }
func (i *fileInfo) Mode() fs.FileMode  { return i.n.mode }
func (i *fileInfo) ModTime() time.Time { return i.modTime }
func (i *fileInfo) IsDir() bool        { return i.n.mode.IsDir() }
func (i *fileInfo) Sys() any           { return nil }

// file is an open file or directory. It is used by one goroutine at a time,
// as fs.File requires; the node it reads is shared and immutable.
type file struct {
	path   string
	info   *fileInfo
	n      *node
	r      *bytes.Reader
	dirPos int
	closed bool
}

var (
	_ io.ReaderAt       = (*file)(nil)
	_ io.Seeker         = (*file)(nil)
	_ fs.ReadDirFile    = (*file)(nil)
	_ fs.ReadDirFS      = (*FS)(nil)
	_ fs.ReadFileFS     = (*FS)(nil)
	_ fs.StatFS         = (*FS)(nil)
	_ fs.ReadLinkFS     = (*FS)(nil)
	_ fs.FileInfo       = (*fileInfo)(nil)
	_ io.ReadSeekCloser = (*file)(nil)
)

func (f *file) Stat() (fs.FileInfo, error) {
	if f.closed {
		return nil, f.err("stat", fs.ErrClosed)
	}
	return f.info, nil
}

func (f *file) Read(p []byte) (int, error) {
	if f.closed {
		return 0, f.err("read", fs.ErrClosed)
	}
	if f.n.mode.IsDir() {
		return 0, f.err("read", errIsDir)
	}
	return f.r.Read(p)
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if f.closed {
		return 0, f.err("read", fs.ErrClosed)
	}
	if f.n.mode.IsDir() {
		return 0, f.err("read", errIsDir)
	}
	return f.r.ReadAt(p, off)
}

func (f *file) Seek(off int64, whence int) (int64, error) {
	if f.closed {
		return 0, f.err("seek", fs.ErrClosed)
	}
	if f.n.mode.IsDir() {
		return 0, f.err("seek", errIsDir)
	}
	return f.r.Seek(off, whence)
}

func (f *file) ReadDir(count int) ([]fs.DirEntry, error) {
	if f.closed {
		return nil, f.err("readdir", fs.ErrClosed)
	}
	if !f.n.mode.IsDir() {
		return nil, f.err("readdir", errNotDir)
	}
	rest := f.n.children[f.dirPos:]
	if count > 0 {
		if len(rest) == 0 {
			return nil, io.EOF
		}
		rest = rest[:min(count, len(rest))]
	}
	f.dirPos += len(rest)
	return f.info.fs.entries(rest), nil
}

func (f *file) Close() error {
	if f.closed {
		return f.err("close", fs.ErrClosed)
	}
	f.closed = true
	return nil
}

func (f *file) err(op string, err error) error {
	return &fs.PathError{Op: op, Path: f.path, Err: err}
}

// linkError is a symbolic link that leads outside the tree: it is both
// fs.ErrNotExist (nothing is there to read) and ErrLinkOutside.
type linkError struct{ link, target string }

func (e *linkError) Error() string {
	return fmt.Sprintf("%s is a symbolic link to %q, which leads outside the tree", e.link, e.target)
}

func (e *linkError) Is(target error) bool {
	return target == fs.ErrNotExist || target == ErrLinkOutside
}
