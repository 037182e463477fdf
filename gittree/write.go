package gittree

import (
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Change is the new state of one path for WriteTree; a nil *Change deletes
// the path (a file, or a directory with everything below it).
type Change struct {
	Data []byte
	// Mode is filemode.Regular when zero; Executable and Symlink (Data is
	// then the link's target) are the other file modes.
	Mode filemode.FileMode
}

// FileChanges turns path -> content (nil content deletes) into regular-file
// changes for WriteTree.
func FileChanges(files map[string][]byte) map[string]*Change {
	c := make(map[string]*Change, len(files))
	for p, b := range files {
		if b == nil {
			c[p] = nil
		} else {
			c[p] = &Change{Data: b}
		}
	}
	return c
}

// WriteTree stores in s the tree base (the zero hash: an empty tree) with
// changes applied (slash-separated paths relative to the tree's root) and
// returns the new tree's hash. Only the directories on changed paths are
// read and rewritten; every other subtree is reused by hash, so the cost is
// proportional to the change, not to the repository. Directories left
// empty disappear, as in git; when the whole tree ends up empty, the empty
// tree is stored and returned. Writing a file where a directory is, or
// below a file, is an error.
func WriteTree(s storer.EncodedObjectStorer, base plumbing.Hash, changes map[string]*Change) (plumbing.Hash, error) {
	h, err := editTree(s, base, changes)
	if err != nil || !h.IsZero() {
		return h, err
	}
	return storeTree(s, nil)
}

// editTree is WriteTree that returns the zero hash for an empty result.
func editTree(s storer.EncodedObjectStorer, base plumbing.Hash, changes map[string]*Change) (plumbing.Hash, error) {
	entries := map[string]object.TreeEntry{}
	if !base.IsZero() {
		t, err := object.GetTree(s, base)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("reading tree %s: %w", base, err)
		}
		for _, e := range t.Entries {
			entries[e.Name] = e
		}
	}
	nested := map[string]map[string]*Change{}
	for p, c := range changes {
		first, rest, deeper := strings.Cut(p, "/")
		if first == "" || first == "." || first == ".." || rest == "" && deeper {
			return plumbing.ZeroHash, fmt.Errorf("invalid path %q", p)
		}
		if deeper {
			if nested[first] == nil {
				nested[first] = map[string]*Change{}
			}
			nested[first][rest] = c
			continue
		}
		if c == nil {
			delete(entries, first)
			continue
		}
		if e, ok := entries[first]; ok && e.Mode == filemode.Dir {
			return plumbing.ZeroHash, fmt.Errorf("cannot write file %q: a directory of that name exists", first)
		}
		mode := c.Mode
		if mode == filemode.Empty {
			mode = filemode.Regular
		}
		h, err := storeBlob(s, c.Data)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries[first] = object.TreeEntry{Name: first, Mode: mode, Hash: h}
	}
	for name, sub := range nested {
		var subBase plumbing.Hash
		if e, ok := entries[name]; ok {
			if e.Mode != filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("cannot write under %q: a file of that name exists", name)
			}
			subBase = e.Hash
		}
		h, err := editTree(s, subBase, sub)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("%s/%w", name, err)
		}
		if h.IsZero() {
			delete(entries, name)
			continue
		}
		entries[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, nil
	}
	list := make([]object.TreeEntry, 0, len(entries))
	for _, e := range entries {
		list = append(list, e)
	}
	return storeTree(s, list)
}

func storeTree(s storer.EncodedObjectStorer, entries []object.TreeEntry) (plumbing.Hash, error) {
	sort.Sort(object.TreeEntrySorter(entries))
	t := &object.Tree{Entries: entries}
	o := s.NewEncodedObject()
	if err := t.Encode(o); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encoding tree: %w", err)
	}
	h, err := s.SetEncodedObject(o)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("storing tree: %w", err)
	}
	return h, nil
}

func storeBlob(s storer.EncodedObjectStorer, data []byte) (plumbing.Hash, error) {
	o := s.NewEncodedObject()
	o.SetType(plumbing.BlobObject)
	o.SetSize(int64(len(data)))
	w, err := o.Writer()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("storing blob: %w", err)
	}
	_, err = w.Write(data)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("storing blob: %w", err)
	}
	h, err := s.SetEncodedObject(o)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("storing blob: %w", err)
	}
	return h, nil
}
