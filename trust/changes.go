package trust

import (
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Change is one file a commit adds, modifies (content, mode or type) or
// deletes. A file that becomes a directory is deleted and its files added.
type Change struct {
	Path string
	Kind string // Add, Modify or Delete
}

// malformedError is a tree git would not write (fsck rejects it): the
// commit holding it is refused.
type malformedError struct{ msg string }

func (e *malformedError) Error() string { return e.msg }

// maxTrees bounds the decoded trees kept between diffs.
const maxTrees = 8192

// trees reads and caches tree objects; each is checked to be in git's
// canonical order with no duplicate names, so a diff cannot be made to
// show a modification as something else.
type trees struct {
	st    storer.EncodedObjectStorer
	cache map[plumbing.Hash][]object.TreeEntry
}

func (t *trees) get(h plumbing.Hash) ([]object.TreeEntry, error) {
	if h.IsZero() {
		return nil, nil
	}
	if es, ok := t.cache[h]; ok {
		return es, nil
	}
	tr, err := object.GetTree(t.st, h)
	if err != nil {
		return nil, fmt.Errorf("reading tree %s: %w", h, err)
	}
	for i := 1; i < len(tr.Entries); i++ {
		if entryKey(tr.Entries[i-1]) >= entryKey(tr.Entries[i]) {
			return nil, &malformedError{fmt.Sprintf("tree %s is malformed: entries %q and %q are out of order or duplicated", h, tr.Entries[i-1].Name, tr.Entries[i].Name)}
		}
	}
	for _, e := range tr.Entries {
		if e.Name == "" || e.Name == "." || e.Name == ".." || strings.ContainsAny(e.Name, "/\x00") {
			return nil, &malformedError{fmt.Sprintf("tree %s is malformed: entry name %q", h, e.Name)}
		}
	}
	if len(t.cache) >= maxTrees {
		clear(t.cache)
	}
	t.cache[h] = tr.Entries
	return tr.Entries, nil
}

// entryKey orders tree entries as git does: a directory sorts as if its
// name ended in '/'.
func entryKey(e object.TreeEntry) string {
	if e.Mode == filemode.Dir {
		return e.Name + "/"
	}
	return e.Name
}

// diff returns the file changes from tree a to tree b (zero hash: empty).
func (t *trees) diff(a, b plumbing.Hash) ([]Change, error) {
	var out []Change
	err := t.diffInto(&out, "", a, b)
	return out, err
}

func (t *trees) diffInto(out *[]Change, prefix string, a, b plumbing.Hash) error {
	if a == b {
		return nil
	}
	ea, err := t.get(a)
	if err != nil {
		return err
	}
	eb, err := t.get(b)
	if err != nil {
		return err
	}
	i, j := 0, 0
	for i < len(ea) || j < len(eb) {
		switch {
		case j == len(eb) || (i < len(ea) && entryKey(ea[i]) < entryKey(eb[j])):
			if err := t.side(out, prefix, ea[i], Delete); err != nil {
				return err
			}
			i++
		case i == len(ea) || entryKey(ea[i]) > entryKey(eb[j]):
			if err := t.side(out, prefix, eb[j], Add); err != nil {
				return err
			}
			j++
		default: // same name, same kind (file or directory)
			x, y := ea[i], eb[j]
			i++
			j++
			if x.Hash == y.Hash && x.Mode == y.Mode {
				continue
			}
			if x.Mode == filemode.Dir {
				if err := t.diffInto(out, prefix+x.Name+"/", x.Hash, y.Hash); err != nil {
					return err
				}
				continue
			}
			*out = append(*out, Change{Path: prefix + x.Name, Kind: Modify})
		}
	}
	return nil
}

// side records e (and everything under it) as added or deleted. A file
// named like a directory on the other side sorts apart from it (git
// order), so a type change is a delete and adds.
func (t *trees) side(out *[]Change, prefix string, e object.TreeEntry, kind string) error {
	if e.Mode != filemode.Dir {
		*out = append(*out, Change{Path: prefix + e.Name, Kind: kind})
		return nil
	}
	if kind == Add {
		return t.diffInto(out, prefix+e.Name+"/", plumbing.ZeroHash, e.Hash)
	}
	return t.diffInto(out, prefix+e.Name+"/", e.Hash, plumbing.ZeroHash)
}

// entry returns the entry at path p in tree root, and whether there is one.
func (t *trees) entry(root plumbing.Hash, p string) (object.TreeEntry, bool, error) {
	segs := strings.Split(p, "/")
	h := root
	for i, s := range segs {
		es, err := t.get(h)
		if err != nil {
			return object.TreeEntry{}, false, err
		}
		var found *object.TreeEntry
		for k := range es {
			if es[k].Name == s {
				found = &es[k]
				break
			}
		}
		if found == nil {
			return object.TreeEntry{}, false, nil
		}
		if i == len(segs)-1 {
			if found.Mode == filemode.Dir {
				return object.TreeEntry{}, false, nil
			}
			return *found, true, nil
		}
		if found.Mode != filemode.Dir {
			return object.TreeEntry{}, false, nil
		}
		h = found.Hash
	}
	return object.TreeEntry{}, false, nil
}
