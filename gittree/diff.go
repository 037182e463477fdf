package gittree

import (
	"io/fs"
	"strings"
)

// DiffDir compares f with prev, an FS read from an earlier commit: ok
// reports that everything outside the top-level directory dir is
// identical in both (the same git objects, and no symbolic link anywhere,
// since a link elsewhere could point into dir), and changed lists the
// regular files under dir (in it or in its subdirectories) that are new or
// differ from prev's, removed those gone, as paths ("nodes/n-1.yaml",
// "nodes/3f/n-2.yaml"), in name order. It costs one comparison per entry of
// each directory that changed and reads no file: a subdirectory with the
// same git tree in both is skipped whole.
//
// It is not ok when either FS was not read from a commit (FromDir,
// FromFiles), dir is missing from either, or an entry under dir that
// changed is neither a regular file nor a directory in both (a link, a
// file that became a directory): such trees are loaded in full.
func (f *FS) DiffDir(prev fs.FS, dir string) (changed, removed []string, ok bool) {
	p, isFS := prev.(*FS)
	if !isFS || p == nil || f.symlinks || p.symlinks || f.root.hash.IsZero() || p.root.hash.IsZero() ||
		dir == "" || strings.Contains(dir, "/") {
		return nil, nil, false
	}
	if f.root.hash == p.root.hash {
		return nil, nil, true
	}
	// The root's entries: all the same but dir.
	if len(f.root.children) != len(p.root.children) {
		return nil, nil, false
	}
	var cur, old *node
	for i, n := range f.root.children {
		o := p.root.children[i]
		if n.name != o.name || n.mode != o.mode {
			return nil, nil, false
		}
		if n.name == dir {
			cur, old = n, o
			continue
		}
		if n.hash != o.hash || n.hash.IsZero() {
			return nil, nil, false
		}
	}
	if cur == nil || !cur.mode.IsDir() || !old.mode.IsDir() {
		return nil, nil, false
	}
	d := &dirDiff{}
	if !d.diff(dir, cur, old) {
		return nil, nil, false
	}
	return d.changed, d.removed, true
}

// dirDiff collects the files that differ between two versions of a
// directory.
type dirDiff struct{ changed, removed []string }

// diff merges the entries of a and b, both sorted by name, under prefix.
func (d *dirDiff) diff(prefix string, a, b *node) bool {
	x, y := a.children, b.children
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case j == len(y) || (i < len(x) && x[i].name < y[j].name):
			if !d.all(&d.changed, prefix+"/"+x[i].name, x[i]) {
				return false
			}
			i++
		case i == len(x) || y[j].name < x[i].name:
			if !d.all(&d.removed, prefix+"/"+y[j].name, y[j]) {
				return false
			}
			j++
		default: // the same name
			n, o := x[i], y[j]
			p := prefix + "/" + n.name
			switch {
			case n.hash.IsZero():
				return false
			case n.hash == o.hash && n.mode == o.mode:
			case n.mode.IsDir() && o.mode.IsDir():
				if !d.diff(p, n, o) {
					return false
				}
			case n.mode.IsRegular() && o.mode.IsRegular():
				d.changed = append(d.changed, p)
			default:
				return false
			}
			i++
			j++
		}
	}
	return true
}

// all adds the regular files of n (n itself, or those under it) at p to
// list.
func (d *dirDiff) all(list *[]string, p string, n *node) bool {
	switch {
	case n.hash.IsZero():
		return false
	case n.mode.IsRegular():
		*list = append(*list, p)
		return true
	case n.mode.IsDir():
		for _, c := range n.children {
			if !d.all(list, p+"/"+c.name, c) {
				return false
			}
		}
		return true
	}
	return false
}
