package gittree_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/gittree"
)

// TestDiffDir: what changed in one top-level directory between two
// commits, and when the answer is "load it all".
func TestDiffDir(t *testing.T) {
	base := map[string]string{
		"fleet.yaml":         "kind: Fleet\n",
		"zones/eu/zone.yaml": "kind: Zone\nname: eu\n",
		"nodes/a.yaml":       "kind: Node\nname: a\n",
		"nodes/b.yaml":       "kind: Node\nname: b\n",
		"nodes/d.yaml":       "kind: Node\nname: d\n",
	}
	dir := newRepo(t, base)
	open := func() *gittree.FS {
		t.Helper()
		f, _, err := gittree.Open(dir, "main")
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	commit := func(files map[string]string, remove ...string) *gittree.FS {
		t.Helper()
		for _, p := range remove {
			if err := os.RemoveAll(filepath.Join(dir, filepath.FromSlash(p))); err != nil {
				t.Fatal(err)
			}
		}
		writeFiles(t, dir, files)
		git(t, dir, "add", "-A")
		git(t, dir, "commit", "-q", "--allow-empty", "-m", "change")
		return open()
	}
	first := open()

	type want struct {
		changed, removed []string
		ok               bool
	}
	check := func(name string, cur, prev *gittree.FS, w want) {
		t.Helper()
		changed, removed, ok := cur.DiffDir(prev, "nodes")
		if ok != w.ok || !slices.Equal(changed, w.changed) || !slices.Equal(removed, w.removed) {
			t.Errorf("%s: DiffDir = %q, %q, %v; want %q, %q, %v", name, changed, removed, ok, w.changed, w.removed, w.ok)
		}
	}

	same := commit(nil)
	check("same tree", same, first, want{nil, nil, true})
	nodes := commit(map[string]string{"nodes/a.yaml": "kind: Node\nname: a\nweight: 5\n", "nodes/c.yaml": "kind: Node\nname: c\n"}, "nodes/b.yaml")
	check("nodes changed, added, removed", nodes, first, want{[]string{"nodes/a.yaml", "nodes/c.yaml"}, []string{"nodes/b.yaml"}, true})
	check("and back", first, nodes, want{[]string{"nodes/a.yaml", "nodes/b.yaml"}, []string{"nodes/c.yaml"}, true})
	fleet := commit(map[string]string{"fleet.yaml": "kind: Fleet\nname: x\n", "nodes/d.yaml": "kind: Node\nname: d\nweight: 1\n"})
	check("fleet.yaml changed too", fleet, nodes, want{nil, nil, false})
	zone := commit(map[string]string{"zones/us/zone.yaml": "kind: Zone\nname: us\n"})
	check("a new zone", zone, fleet, want{nil, nil, false})
	// Subdirectories (the sharded node layout) are compared entry by
	// entry too; one whose tree did not change is skipped.
	sub := commit(map[string]string{"nodes/sub/x.yaml": "kind: Node\n", "nodes/sub/deep/y.yaml": "kind: Node\n", "nodes/other/z.yaml": "kind: Node\n"})
	check("new subdirectories in nodes/", sub, zone, want{[]string{"nodes/other/z.yaml", "nodes/sub/deep/y.yaml", "nodes/sub/x.yaml"}, nil, true})
	inSub := commit(map[string]string{"nodes/sub/x.yaml": "kind: Node\nweight: 1\n", "nodes/sub/w.yaml": "kind: Node\n"}, "nodes/sub/deep/y.yaml")
	check("files changed, added and removed in a subdirectory", inSub, sub, want{[]string{"nodes/sub/w.yaml", "nodes/sub/x.yaml"}, []string{"nodes/sub/deep/y.yaml"}, true})
	unsub := commit(nil, "nodes/sub")
	check("a subdirectory removed", unsub, inSub, want{nil, []string{"nodes/sub/w.yaml", "nodes/sub/x.yaml"}, true})
	fileToDir := commit(map[string]string{"nodes/a.yaml/x.yaml": "kind: Node\n"}, "nodes/a.yaml")
	check("a file replaced by a directory", fileToDir, unsub, want{nil, nil, false})
	newTop := commit(map[string]string{"README": "x"})
	check("a new top-level file", newTop, fileToDir, want{nil, nil, false})
	link := commit(map[string]string{"links/a": "->../nodes/a.yaml"})
	check("a symbolic link elsewhere", link, newTop, want{nil, nil, false})
	if _, _, ok := first.DiffDir(first, "zones/eu"); ok {
		t.Error("a nested directory was diffed")
	}
	files, err := gittree.FromFiles(map[string][]byte{"nodes/a.yaml": []byte("x")}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := files.DiffDir(files, "nodes"); ok {
		t.Error("an FS not read from a commit was diffed")
	}
	if _, _, ok := first.DiffDir(files, "nodes"); ok {
		t.Error("diffed against an FS not read from a commit")
	}
}
