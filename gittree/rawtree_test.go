package gittree_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/ddc-gitops/ddc-gitops/gittree"
)

// storeObject stores an object of type typ with contents data in s.
func storeObject(t testing.TB, s *memory.Storage, typ plumbing.ObjectType, data []byte) plumbing.Hash {
	t.Helper()
	o := s.NewEncodedObject()
	o.SetType(typ)
	w, _ := o.Writer()
	_, _ = w.Write(data)
	_ = w.Close()
	h, err := s.SetEncodedObject(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// rawCommit stores a commit whose root tree object is raw, as given.
func rawCommit(t testing.TB, s *memory.Storage, raw []byte) *object.Commit {
	t.Helper()
	return commitOf(t, s, storeObject(t, s, plumbing.TreeObject, raw))
}

// commitOf stores a commit of the tree th and returns it.
func commitOf(t testing.TB, s *memory.Storage, th plumbing.Hash) *object.Commit {
	t.Helper()
	sig := object.Signature{Name: "x", Email: "x@example.org", When: time.Unix(1700000000, 0)}
	co := s.NewEncodedObject()
	if err := (&object.Commit{Author: sig, Committer: sig, Message: "m", TreeHash: th}).Encode(co); err != nil {
		t.Fatal(err)
	}
	ch, err := s.SetEncodedObject(co)
	if err != nil {
		t.Fatal(err)
	}
	c, err := object.GetCommit(s, ch)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFromCommitMalformedTrees: tree objects are parsed in place, so a
// corrupt or hostile one is an error naming what is wrong, never a panic
// or a half-read tree.
func TestFromCommitMalformedTrees(t *testing.T) {
	data := []byte("data")
	h := blobHash(data)
	entry := func(mode, name string) string { return mode + " " + name + "\x00" + string(h[:]) }
	tests := []struct {
		name, raw, wantErr string
	}{
		{"no space after the mode", "100644", "malformed tree entry (mode)"},
		{"mode too long", "10064400 f\x00" + string(h[:]), "malformed tree entry (mode)"},
		{"mode not octal", entry("10064x", "f"), "malformed tree entry mode"},
		{"name without its end", "100644 f", "malformed tree entry (name or hash)"},
		{"hash cut short", "100644 f\x00" + string(h[:10]), "malformed tree entry (name or hash)"},
		{"unsupported mode", entry("100600", "f"), "unsupported mode"},
		{"dotdot", entry("100644", ".."), "invalid entry name"},
		{"empty name", entry("100644", ""), "invalid entry name"},
		{"good then bad", entry("100644", "a") + "x", "malformed tree entry"},
		{"a name twice", entry("100644", "a") + entry("100644", "a"), `entry "a" is there twice`},
		{"a name twice, out of order", entry("100644", "b") + entry("100644", "a") + entry("100644", "b"), `entry "b" is there twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := memory.NewStorage()
			storeObject(t, s, plumbing.BlobObject, data)
			_, err := gittree.FromCommit(s, rawCommit(t, s, []byte(tc.raw)))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestFromCommitUnsortedTree: a tree git did not write (entries out of
// order) still reads by name, through ReadDir and lookups alike.
func TestFromCommitUnsortedTree(t *testing.T) {
	s := memory.NewStorage()
	var raw []byte
	for _, name := range []string{"c", "a", "b"} {
		h := storeObject(t, s, plumbing.BlobObject, []byte(name))
		raw = append(append(raw, "100644 "+name+"\x00"...), h[:]...)
	}
	fsys, err := gittree.FromCommit(s, rawCommit(t, s, raw))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	es, _ := fsys.ReadDir(".")
	for _, e := range es {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Errorf("ReadDir: %v, want a, b, c", names)
	}
	for _, name := range []string{"a", "b", "c"} {
		if b, err := fsys.ReadFile(name); err != nil || string(b) != name {
			t.Errorf("ReadFile(%s) = %q, %v", name, b, err)
		}
	}
}

// TestFromCommitReusingCostsWhatChanged: reading a commit that changed one
// file of a 10,000-file directory against the previous commit's FS
// allocates that directory's tree object and list of entries and the new
// file, not a node per file (before, about 6 MB per commit at this size).
func TestFromCommitReusingCostsWhatChanged(t *testing.T) {
	const n = 10000
	s := memory.NewStorage()
	blob := func(b []byte) plumbing.Hash { return storeObject(t, s, plumbing.BlobObject, b) }
	tree := func(es []object.TreeEntry) plumbing.Hash {
		o := s.NewEncodedObject()
		if err := (&object.Tree{Entries: es}).Encode(o); err != nil {
			t.Fatal(err)
		}
		h, err := s.SetEncodedObject(o)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	nodes := make([]object.TreeEntry, n)
	for i := range nodes {
		name := fmt.Sprintf("n-%05d.yaml", i)
		nodes[i] = object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: blob([]byte("kind: Node\nname: " + name + "\n"))}
	}
	other := tree([]object.TreeEntry{{Name: "fleet.yaml", Mode: filemode.Regular, Hash: blob([]byte("name: f\n"))}})
	commit := func() *object.Commit {
		return commitOf(t, s, tree([]object.TreeEntry{{Name: "nodes", Mode: filemode.Dir, Hash: tree(nodes)}, {Name: "zones", Mode: filemode.Dir, Hash: other}}))
	}
	first, err := gittree.FromCommit(s, commit())
	if err != nil {
		t.Fatal(err)
	}
	nodes[4242].Hash = blob([]byte("kind: Node\nname: n-04242.yaml\nweight: 5\n"))
	c := commit()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	next, err := gittree.FromCommitReusing(s, c, first)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	// The nodes/ tree object (~0.4 MB), its entry list (80 kB) and what
	// go-git allocates to find and inflate the object.
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("reading a one-file change of %d files allocated %d bytes", n, got)
	if got > 1<<20 {
		t.Errorf("reading a one-file change allocated %d bytes, want at most 1 MiB", got)
	}
	if next.Len() != first.Len() || next.Len() != n+3 {
		t.Errorf("Len %d, want %d (the first read: %d)", next.Len(), n+3, first.Len())
	}
	b, err := next.ReadFile("nodes/n-04242.yaml")
	if err != nil || !strings.Contains(string(b), "weight: 5") {
		t.Errorf("the changed file: %q, %v", b, err)
	}
	b, err = next.ReadFile("nodes/n-04241.yaml")
	if err != nil || string(b) != "kind: Node\nname: n-04241.yaml\n" {
		t.Errorf("an unchanged file: %q, %v", b, err)
	}
	changed, removed, ok := next.DiffDir(first, "nodes")
	if !ok || len(changed) != 1 || changed[0] != "nodes/n-04242.yaml" || len(removed) != 0 {
		t.Errorf("DiffDir: %v %v %v", changed, removed, ok)
	}
}
