package gittree

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// DirLimits bound what FromDir reads.
type DirLimits struct {
	// MaxFileBytes bounds one file (default 1 MiB).
	MaxFileBytes int64
	// MaxTotalBytes bounds all files together (default 256 MiB).
	MaxTotalBytes int64
	// MaxEntries bounds files, directories and links (default 200,000).
	MaxEntries int
}

// Defaults for DirLimits.
const (
	DefaultDirMaxFileBytes  = 1 << 20
	DefaultDirMaxTotalBytes = 256 << 20
	DefaultDirMaxEntries    = 200_000
)

// FromDir reads the directory tree at dir into memory as a git commit of it
// would hold it, so that reading a working directory gives exactly what
// reading the commit of that directory would:
//
//   - regular files are read (opened without following a symbolic link and
//     without blocking, then checked to still be regular files), up to the
//     size limits;
//   - a symbolic link is kept as a link, as git stores it, and resolves (or
//     not) by FS's rules: only relative targets that stay inside the tree,
//     whatever is at the target on this machine;
//   - named pipes, sockets and devices, which git cannot hold, are an error
//     naming the path;
//   - the .git directory at the root is left out.
//
// Files get the newest modification time in the tree as their ModTime.
// FromDir stops when ctx is done.
func FromDir(ctx context.Context, dir string, lim DirLimits) (*FS, error) {
	if lim.MaxFileBytes <= 0 {
		lim.MaxFileBytes = DefaultDirMaxFileBytes
	}
	if lim.MaxTotalBytes <= 0 {
		lim.MaxTotalBytes = DefaultDirMaxTotalBytes
	}
	if lim.MaxEntries <= 0 {
		lim.MaxEntries = DefaultDirMaxEntries
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	r := dirReader{ctx: ctx, root: dir, lim: lim, fs: newFS(time.Time{})}
	if err := r.readDir(r.fs.root, "", 0); err != nil {
		return nil, err
	}
	r.fs.modTime = r.newest
	return r.fs, nil
}

type dirReader struct {
	ctx     context.Context
	root    string
	lim     DirLimits
	fs      *FS
	total   int64
	entries int
	newest  time.Time
}

func (r *dirReader) readDir(dir *node, prefix string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%s: nested deeper than %d directories", displayDir(prefix), maxDepth)
	}
	entries, err := os.ReadDir(filepath.Join(r.root, filepath.FromSlash(prefix)))
	if err != nil {
		return fmt.Errorf("reading directory %s: %w", displayDir(prefix), err)
	}
	dir.children = make([]*node, 0, len(entries))
	for _, e := range entries {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if prefix == "" && e.Name() == ".git" {
			continue
		}
		if err := validName(e.Name()); err != nil {
			return fmt.Errorf("directory %s: %w", displayDir(prefix), err)
		}
		r.entries++
		if r.entries > r.lim.MaxEntries {
			return fmt.Errorf("the tree has more than %d files, directories and links", r.lim.MaxEntries)
		}
		p := e.Name()
		if prefix != "" {
			p = prefix + "/" + e.Name()
		}
		n := &node{name: e.Name()}
		full := filepath.Join(r.root, filepath.FromSlash(p))
		switch t := e.Type(); {
		case t.IsDir():
			n.mode = fs.ModeDir | 0o755
			if err := r.readDir(n, p, depth+1); err != nil {
				return err
			}
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(full)
			if err != nil {
				return fmt.Errorf("reading symbolic link %s: %w", p, err)
			}
			n.mode = fs.ModeSymlink | 0o777
			n.data = []byte(target)
			r.fs.symlinks = true
		case t.IsRegular():
			if n.data, n.mode, err = r.readFile(full, p); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s is %s: a fleet holds regular files, directories and symbolic links only (as git does)", p, typeName(t))
		}
		dir.children = append(dir.children, n)
		dir.size += 1 + n.size
	}
	sortNodes(dir.children)
	return nil
}

// readFile reads the regular file at full (p inside the tree). It opens the
// file without following a link and without blocking (a file replaced by a
// pipe after ReadDir must not hang the reader), then checks what it opened.
func (r *dirReader) readFile(full, p string) ([]byte, fs.FileMode, error) {
	f, err := os.OpenFile(full, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("opening %s: %w", p, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", p, err)
	}
	if !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s is %s: a fleet holds regular files, directories and symbolic links only (as git does)", p, typeName(st.Mode().Type()))
	}
	if st.Size() > r.lim.MaxFileBytes {
		return nil, 0, fmt.Errorf("%s is %d bytes, more than the limit of %d bytes for one file", p, st.Size(), r.lim.MaxFileBytes)
	}
	// The size may change while reading: read at most one byte past the limit.
	data, err := io.ReadAll(io.LimitReader(f, r.lim.MaxFileBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", p, err)
	}
	if int64(len(data)) > r.lim.MaxFileBytes {
		return nil, 0, fmt.Errorf("%s is more than the limit of %d bytes for one file", p, r.lim.MaxFileBytes)
	}
	r.total += int64(len(data))
	if r.total > r.lim.MaxTotalBytes {
		return nil, 0, fmt.Errorf("the tree holds more than %d bytes (at %s)", r.lim.MaxTotalBytes, p)
	}
	if st.ModTime().After(r.newest) {
		r.newest = st.ModTime()
	}
	mode := fs.FileMode(0o644)
	if st.Mode()&0o111 != 0 {
		mode = 0o755 // as git's executable bit
	}
	return data, mode, nil
}

func typeName(t fs.FileMode) string {
	switch {
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeCharDevice != 0:
		return "a character device"
	case t&fs.ModeDevice != 0:
		return "a device"
	case t&fs.ModeIrregular != 0:
		return "an irregular file"
	}
	return "not a regular file"
}

// ErrLinkOutside is the error for a symbolic link whose target is absolute
// or leaves the tree: git stores such a link, but nothing reads through it.
var ErrLinkOutside = errors.New("symbolic link leads outside the tree")
