package gittree_test

import (
	"context"
	"io/fs"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/gittree"
)

// listing describes every entry of fsys: mode and contents (link target
// for symbolic links).
func listing(t *testing.T, fsys *gittree.FS) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := fsys.Lstat(p)
		if err != nil {
			return err
		}
		v := info.Mode().String()
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := fsys.ReadLink(p)
			if err != nil {
				return err
			}
			v += " -> " + target
		case info.Mode().IsRegular():
			b, err := fsys.ReadFile(p)
			if err != nil {
				return err
			}
			h, _ := fsys.BlobHash(p)
			v += " " + h + " " + string(b)
		}
		out[p] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFromCommitReusing: a tree read reusing an earlier commit's reads
// exactly as one read from scratch, and shares what did not change.
func TestFromCommitReusing(t *testing.T) {
	dir := newRepo(t, sample)
	first, _, err := gittree.Open(dir, "main")
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"nodes/a.yaml": "kind: Node\nname: a\nweight: 5\n", "nodes/c.yaml": "kind: Node\nname: c\n"})
	git(t, dir, "rm", "-q", "nodes/empty.yaml", "a/b/c/deep.txt")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "second")

	want, _, err := gittree.Open(dir, "main")
	if err != nil {
		t.Fatal(err)
	}
	repo, closer, err := gittree.OpenRepository(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	for _, tc := range []struct {
		rev  string
		prev *gittree.FS
		want *gittree.FS
	}{
		{"main", first, want},   // some files changed
		{"main", want, want},    // the same tree
		{"main~1", want, first}, // back again
		{"main", nil, want},     // nothing to reuse
	} {
		c, err := gittree.ResolveCommit(repo, tc.rev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := gittree.FromCommitReusing(repo.Storer, c, tc.prev)
		if err != nil {
			t.Fatal(err)
		}
		g, w := listing(t, got), listing(t, tc.want)
		if !maps.Equal(g, w) {
			t.Errorf("%s reusing %p: got\n%v\nwant\n%v", tc.rev, tc.prev, g, w)
		}
		if got.Len() != tc.want.Len() {
			t.Errorf("%s: Len %d, want %d", tc.rev, got.Len(), tc.want.Len())
		}
	}

	ha, _ := first.BlobHash("nodes/a.yaml")
	hb, _ := first.BlobHash("nodes/b.yaml")
	ha2, _ := want.BlobHash("nodes/a.yaml")
	hb2, _ := want.BlobHash("nodes/b.yaml")
	hl, _ := want.BlobHash("links/to-a") // a link to a file: the file's blob
	if ha == ha2 || hb != hb2 || len(ha) != 40 || hl != ha2 {
		t.Errorf("blob hashes: a %s -> %s, b %s -> %s, link to a %s", ha, ha2, hb, hb2, hl)
	}
	if h, ok := want.BlobHash("nodes"); ok || h != "" {
		t.Errorf("BlobHash of a directory: %q %v", h, ok)
	}
	if _, ok := want.BlobHash("nodes/empty.yaml"); ok {
		t.Error("BlobHash of a deleted file")
	}
	if !strings.HasPrefix(listing(t, want)["nodes/a.yaml"], "-rw-r--r--") {
		t.Error("mode of nodes/a.yaml")
	}
}

// TestBlobHashOnlyFromCommits: an FS not read from a commit has no blob
// hashes (a reader keyed by them must read every file).
func TestBlobHashOnlyFromCommits(t *testing.T) {
	f, err := gittree.FromFiles(map[string][]byte{"a.yaml": []byte("a"), "b.yaml": []byte("b")}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a.yaml", "b.yaml"} {
		if h, ok := f.BlobHash(p); ok || h != "" {
			t.Errorf("FromFiles %s: BlobHash %q %v", p, h, ok)
		}
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"x.yaml": "x"})
	d, err := gittree.FromDir(context.Background(), dir, gittree.DirLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := d.BlobHash("x.yaml"); ok || h != "" {
		t.Errorf("FromDir: BlobHash %q %v", h, ok)
	}
}
