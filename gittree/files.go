package gittree

import (
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// FromFiles builds an FS of regular files (mode 0644) from path -> content,
// with the directories they need: the in-memory tree of a change that is
// not committed yet (a proposal to validate, a directory read into memory).
// Paths are slash-separated and valid in the sense of fs.ValidPath; a path
// that is also a directory of another path is an error. Contents are
// shared, not copied: the caller must not change them afterwards.
func FromFiles(files map[string][]byte, modTime time.Time) (*FS, error) {
	f := newFS(modTime)
	dirs := map[string]bool{}
	nodes := map[string]*node{}
	for p, data := range files {
		if !fs.ValidPath(p) || p == "." {
			return nil, fmt.Errorf("building a tree: invalid path %q", p)
		}
		dir := f.root
		parts := strings.Split(p, "/")
		for i, name := range parts {
			sub := strings.Join(parts[:i+1], "/")
			n, ok := nodes[sub]
			last := sub == p
			switch {
			case ok && (last || !n.mode.IsDir()):
				return nil, fmt.Errorf("building a tree: %q is both a file and a directory", sub)
			case ok:
				dir = n
				continue
			}
			n = &node{name: name, mode: 0o644, data: data}
			if !last {
				n.mode, n.data = fs.ModeDir|0o755, nil
				dirs[sub] = true
			}
			dir.children = append(dir.children, n)
			nodes[sub] = n
			dir = n
		}
	}
	sortNodes(f.root.children)
	for d := range dirs {
		sortNodes(nodes[d].children)
	}
	setSizes(f.root)
	return f, nil
}
