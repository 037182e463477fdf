package gittree

import (
	"io/fs"
	"strings"
)

// DiffDir compares f with prev, an FS read from an earlier commit: ok
// reports that everything outside the top-level directory dir is
// identical in both (the same git objects, and no symbolic link anywhere,
// since a link elsewhere could point into dir), and changed lists the
// regular files directly in dir that are new or differ from prev's,
// removed those gone, as paths ("nodes/n-1.yaml"), in name order. It
// costs one comparison per entry of dir and reads no file.
//
// It is not ok when either FS was not read from a commit (FromDir,
// FromFiles), dir is missing from either, or an entry of dir that changed
// is not a regular file (a subdirectory, a link): such trees are loaded
// in full.
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
	// dir's entries, both sorted by name: a merge.
	a, b := cur.children, old.children
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].name < b[j].name):
			if !a[i].mode.IsRegular() || a[i].hash.IsZero() {
				return nil, nil, false
			}
			changed = append(changed, dir+"/"+a[i].name)
			i++
		case i == len(a) || b[j].name < a[i].name:
			if !b[j].mode.IsRegular() {
				return nil, nil, false
			}
			removed = append(removed, dir+"/"+b[j].name)
			j++
		default: // the same name
			if a[i].hash != b[j].hash || a[i].mode != b[j].mode {
				if !a[i].mode.IsRegular() || !b[j].mode.IsRegular() || a[i].hash.IsZero() {
					return nil, nil, false
				}
				changed = append(changed, dir+"/"+a[i].name)
			}
			i++
			j++
		}
	}
	return changed, removed, true
}
