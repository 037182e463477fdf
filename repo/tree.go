package repo

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// writeTree stores a new tree: base (may be nil for an empty tree) with the
// files in changes written (nil content deletes the file). Only the
// directories on the changed paths are rewritten; every other subtree is
// reused by hash, so the cost is proportional to the change, not the repo.
// It returns the new tree's hash; empty directories disappear, as in git.
func writeTree(s storer.EncodedObjectStorer, base *object.Tree, changes map[string][]byte) (plumbing.Hash, bool, error) {
	type dirChange struct {
		files map[string][]byte // direct children; nil value deletes
		dirs  map[string]map[string][]byte
	}
	dc := dirChange{files: map[string][]byte{}, dirs: map[string]map[string][]byte{}}
	for p, content := range changes {
		first, rest, nested := strings.Cut(p, "/")
		if nested {
			if dc.dirs[first] == nil {
				dc.dirs[first] = map[string][]byte{}
			}
			dc.dirs[first][rest] = content
		} else {
			dc.files[first] = content
		}
	}

	var entries []object.TreeEntry
	if base != nil {
		entries = append(entries, base.Entries...)
	}
	index := map[string]int{}
	for i, e := range entries {
		index[e.Name] = i
	}
	removed := map[string]bool{}

	for name, content := range dc.files {
		i, exists := index[name]
		if content == nil {
			if exists {
				removed[name] = true
			}
			continue
		}
		h, err := writeBlob(s, content)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		e := object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h}
		if exists {
			if entries[i].Mode == filemode.Dir {
				return plumbing.ZeroHash, false, fmt.Errorf("cannot write file %q: a directory of that name exists", name)
			}
			entries[i] = e
		} else {
			index[name] = len(entries)
			entries = append(entries, e)
		}
	}
	for name, sub := range dc.dirs {
		var subBase *object.Tree
		i, exists := index[name]
		if exists {
			if entries[i].Mode != filemode.Dir {
				return plumbing.ZeroHash, false, fmt.Errorf("cannot write under %q: a file of that name exists", name)
			}
			t, err := object.GetTree(s, entries[i].Hash)
			if err != nil {
				return plumbing.ZeroHash, false, fmt.Errorf("reading tree %s: %w", name, err)
			}
			subBase = t
		}
		h, empty, err := writeTree(s, subBase, sub)
		if err != nil {
			return plumbing.ZeroHash, false, fmt.Errorf("%s/%w", name, err)
		}
		switch {
		case empty && exists:
			removed[name] = true
		case empty:
		case exists:
			entries[i].Hash = h
		default:
			index[name] = len(entries)
			entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
		}
	}

	kept := entries[:0]
	for _, e := range entries {
		if !removed[e.Name] {
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 {
		return plumbing.ZeroHash, true, nil
	}
	sort.Sort(object.TreeEntrySorter(kept))
	t := &object.Tree{Entries: kept}
	o := s.NewEncodedObject()
	if err := t.Encode(o); err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("encoding tree: %w", err)
	}
	h, err := s.SetEncodedObject(o)
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("storing tree: %w", err)
	}
	return h, false, nil
}

func writeBlob(s storer.EncodedObjectStorer, content []byte) (plumbing.Hash, error) {
	o := s.NewEncodedObject()
	o.SetType(plumbing.BlobObject)
	o.SetSize(int64(len(content)))
	w, err := o.Writer()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("storing blob: %w", err)
	}
	if _, err := w.Write(content); err != nil {
		_ = w.Close()
		return plumbing.ZeroHash, fmt.Errorf("storing blob: %w", err)
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("storing blob: %w", err)
	}
	return s.SetEncodedObject(o)
}

// cleanPath checks a repository-relative path a change writes: slash
// separated, no "." or ".." segments, not inside .git.
func cleanPath(p string) error {
	if p == "" || path.IsAbs(p) || path.Clean(p) != p || strings.HasPrefix(p, "../") || p == ".." {
		return fmt.Errorf("invalid path %q", p)
	}
	if p == ".git" || strings.HasPrefix(p, ".git/") {
		return fmt.Errorf("invalid path %q: inside .git", p)
	}
	return nil
}
