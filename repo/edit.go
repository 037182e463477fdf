package repo

import (
	"bytes"
	"fmt"
	"io/fs"
	"sort"
	"testing/fstest"
)

// Tree is the desired state being edited by a Change: the branch head plus
// the edits made so far.
type Tree struct {
	files   fstest.MapFS      // head with edits applied
	base    map[string][]byte // head contents, for telling real changes apart
	touched map[string][]byte // path -> new content; nil = removed
}

func newTree(base fs.FS) (*Tree, error) {
	t := &Tree{files: fstest.MapFS{}, base: map[string][]byte{}, touched: map[string][]byte{}}
	err := fs.WalkDir(base, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(base, p)
		if err != nil {
			return err
		}
		t.files[p] = &fstest.MapFile{Data: b, Mode: 0o644}
		t.base[p] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the branch head: %w", err)
	}
	return t, nil
}

// ReadFile returns the current content of path (with edits applied).
func (t *Tree) ReadFile(path string) ([]byte, error) {
	f, ok := t.files[path]
	if !ok {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fs.ErrNotExist}
	}
	return bytes.Clone(f.Data), nil
}

// Exists reports whether path is a file in the tree.
func (t *Tree) Exists(path string) bool {
	_, ok := t.files[path]
	return ok
}

// WriteFile creates or replaces path.
func (t *Tree) WriteFile(path string, data []byte) error {
	if err := cleanPath(path); err != nil {
		return err
	}
	t.files[path] = &fstest.MapFile{Data: bytes.Clone(data), Mode: 0o644}
	t.touched[path] = bytes.Clone(data)
	return nil
}

// Remove deletes path; removing a missing file is an error wrapping fs.ErrNotExist.
func (t *Tree) Remove(path string) error {
	if _, ok := t.files[path]; !ok {
		return &fs.PathError{Op: "remove", Path: path, Err: fs.ErrNotExist}
	}
	delete(t.files, path)
	t.touched[path] = nil
	return nil
}

// FS is the tree with the edits applied, for validation and reads.
func (t *Tree) FS() fs.FS { return t.files }

// Glob lists files matching pattern (path.Match syntax).
func (t *Tree) Glob(pattern string) ([]string, error) { return fs.Glob(t.files, pattern) }

// Touched lists the paths written or removed, sorted.
func (t *Tree) Touched() []string {
	out := make([]string, 0, len(t.touched))
	for p := range t.touched {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// effective returns the touched paths whose content really differs from
// the head (a rewrite with equal bytes is no change).
func (t *Tree) effective() map[string][]byte {
	out := map[string][]byte{}
	for p, content := range t.touched {
		old, existed := t.base[p]
		switch {
		case content == nil && !existed:
		case content != nil && existed && bytes.Equal(old, content):
		default:
			out[p] = content
		}
	}
	return out
}
