package gittree_test

import (
	"maps"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/ddc-gitops/ddc-gitops/gittree"
)

// changesOf turns files as writeFiles takes them into WriteTree changes.
func changesOf(files map[string]string) map[string]*gittree.Change {
	c := map[string]*gittree.Change{}
	for p, s := range files {
		switch target, link := strings.CutPrefix(s, "->"); {
		case link:
			c[p] = &gittree.Change{Data: []byte(target), Mode: filemode.Symlink}
		case strings.HasSuffix(p, ".sh"):
			c[p] = &gittree.Change{Data: []byte(s), Mode: filemode.Executable}
		default:
			c[p] = &gittree.Change{Data: []byte(s)}
		}
	}
	return c
}

// gitTree is the tree hash the real git computes for files.
func gitTree(t *testing.T, files map[string]string) plumbing.Hash {
	t.Helper()
	return plumbing.NewHash(git(t, newRepo(t, files), "rev-parse", "HEAD^{tree}"))
}

// TestWriteTreeMatchesGit writes trees from scratch and as edits of a base,
// and compares their hashes with the ones git computes for the same files.
func TestWriteTreeMatchesGit(t *testing.T) {
	s := memory.NewStorage()
	base, err := gittree.WriteTree(s, plumbing.ZeroHash, changesOf(sample))
	if err != nil {
		t.Fatal(err)
	}
	if want := gitTree(t, sample); base != want {
		t.Fatalf("tree of sample = %s, git says %s", base, want)
	}

	after := maps.Clone(sample)
	after["nodes/a.yaml"] = "kind: Node\nname: a\nchanged: true\n"
	delete(after, "nodes/b.yaml")
	for p := range after {
		if strings.HasPrefix(p, "links/") || strings.HasPrefix(p, "a/") {
			delete(after, p)
		}
	}
	after["new/deeper/file.yaml"] = "new"
	after["scripts/run.sh"] = "#!/bin/sh\n"
	edits := changesOf(map[string]string{
		"nodes/a.yaml":         after["nodes/a.yaml"],
		"new/deeper/file.yaml": "new",
		"scripts/run.sh":       "#!/bin/sh\n",
	})
	edits["nodes/b.yaml"] = nil
	edits["links"] = nil          // a whole directory
	edits["a/b/c/deep.txt"] = nil // its directories become empty and go
	edits["not/there"] = nil      // deleting what is not there is no error
	got, err := gittree.WriteTree(s, base, edits)
	if err != nil {
		t.Fatal(err)
	}
	if want := gitTree(t, after); got != want {
		t.Fatalf("edited tree = %s, git says %s", got, want)
	}

	all := map[string]*gittree.Change{}
	for p := range sample {
		all[p] = nil
	}
	empty, err := gittree.WriteTree(s, base, all)
	if err != nil {
		t.Fatal(err)
	}
	if empty.String() != "4b825dc642cb6eb9a060e54bf8d69288fbee4904" {
		t.Fatalf("deleting every file gave tree %s, want git's empty tree", empty)
	}
	if _, err := s.EncodedObject(plumbing.TreeObject, empty); err != nil {
		t.Fatalf("the empty tree is not stored: %v", err)
	}
}

func TestWriteTreeRefusals(t *testing.T) {
	s := memory.NewStorage()
	base, err := gittree.WriteTree(s, plumbing.ZeroHash, gittree.FileChanges(map[string][]byte{"dir/file": []byte("x"), "file": []byte("y")}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want string }{
		{"dir", "a directory of that name exists"},
		{"file/below", "a file of that name exists"},
		{"dir/file/below", "dir/cannot write under"},
		{"a//b", "invalid path"},
		{"../up", "invalid path"},
		{"trailing/", "invalid path"},
	} {
		_, err := gittree.WriteTree(s, base, gittree.FileChanges(map[string][]byte{tt.path: []byte("z")}))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("writing %q: %v, want an error containing %q", tt.path, err, tt.want)
		}
	}
}

func TestFromFiles(t *testing.T) {
	files := map[string][]byte{
		"fleet.yaml":         []byte("kind: Fleet\n"),
		"nodes/a.yaml":       []byte("a"),
		"nodes/b.yaml":       []byte("b"),
		"zones/eu/zone.yaml": []byte("eu"),
		"a-b":                []byte("dash"),
		"a/b/c":              nil, // an empty file
	}
	f, err := gittree.FromFiles(files, time.Unix(1e9, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(f, "fleet.yaml", "nodes/a.yaml", "nodes/b.yaml", "zones/eu/zone.yaml", "a-b", "a/b/c"); err != nil {
		t.Fatal(err)
	}
	if b, err := f.ReadFile("nodes/b.yaml"); err != nil || string(b) != "b" {
		t.Fatalf("ReadFile(nodes/b.yaml) = %q, %v", b, err)
	}
	for _, bad := range []map[string][]byte{
		{"x": nil, "x/y": nil},
		{"/abs": nil},
		{"a/../b": nil},
	} {
		if _, err := gittree.FromFiles(bad, time.Time{}); err == nil {
			t.Errorf("FromFiles(%v) accepted", bad)
		}
	}
}
