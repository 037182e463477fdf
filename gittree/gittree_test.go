package gittree_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/gittree"
)

// git runs the real git in dir with a fixed identity and returns its output.
func git(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "HOME="+dir,
		"GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.org",
		"GIT_COMMITTER_NAME=Bob", "GIT_COMMITTER_EMAIL=bob@example.org",
		"GIT_COMMITTER_DATE=2024-05-06T07:08:09Z", "GIT_AUTHOR_DATE=2024-05-06T07:08:09Z",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// writeFiles writes files (path -> contents; contents "->target" makes a
// symlink) under dir.
func writeFiles(tb testing.TB, dir string, files map[string]string) {
	tb.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			tb.Fatal(err)
		}
		if target, ok := strings.CutPrefix(c, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				tb.Fatal(err)
			}
			continue
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(c), mode); err != nil {
			tb.Fatal(err)
		}
	}
}

// newRepo makes a working repository with one commit of files on branch main.
func newRepo(tb testing.TB, files map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	git(tb, dir, "init", "-q", "-b", "main")
	writeFiles(tb, dir, files)
	git(tb, dir, "add", "-A")
	git(tb, dir, "commit", "-q", "-m", "first\n\nbody")
	return dir
}

var sample = map[string]string{
	"fleet.yaml":          "kind: Fleet\n",
	"zones/eu/zone.yaml":  "kind: Zone\nname: eu\n",
	"nodes/a.yaml":        "kind: Node\nname: a\n",
	"nodes/b.yaml":        "kind: Node\nname: b\n",
	"nodes/empty.yaml":    "",
	"scripts/check.sh":    "#!/bin/sh\nexit 0\n",
	"a-b/x":               "dash sorts before slash",
	"a/b/c/deep.txt":      "deep",
	"links/to-a":          "->../nodes/a.yaml",
	"links/to-nodes":      "->../nodes",
	"links/escape":        "->../../etc/passwd",
	"links/absolute":      "->/etc/passwd",
	"links/loop":          "->loop",
	"links/via-dir/a":     "x",
	"links/to-dir-file":   "->to-nodes/b.yaml",
	"dotdir/.hidden.yaml": "hidden",
}

func TestFSConformance(t *testing.T) {
	// fstest.TestFS opens every entry, so no dangling links here.
	files := map[string]string{}
	for p, c := range sample {
		if !strings.HasPrefix(p, "links/") || p == "links/to-a" || p == "links/to-nodes" || p == "links/to-dir-file" {
			files[p] = c
		}
	}
	repo := newRepo(t, files)
	fsys, rev, err := gittree.Open(repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(fsys,
		"fleet.yaml", "zones/eu/zone.yaml", "nodes/a.yaml", "nodes/b.yaml", "nodes/empty.yaml",
		"scripts/check.sh", "a-b/x", "a/b/c/deep.txt", "links/to-a", "links/to-dir-file",
		"dotdir/.hidden.yaml",
	); err != nil {
		t.Fatal(err)
	}
	// The same checks through the generic fs helpers only (Open alone).
	if err := fstest.TestFS(struct{ fs.FS }{fsys}, "nodes/a.yaml", "links/to-a"); err != nil {
		t.Fatal(err)
	}
	want := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	if !rev.Time.Equal(want) {
		t.Errorf("revision time = %v, want committer time %v", rev.Time, want)
	}
	st, err := fs.Stat(fsys, "nodes/a.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !st.ModTime().Equal(want) || st.Size() != int64(len(sample["nodes/a.yaml"])) || st.Mode() != 0o644 {
		t.Errorf("stat nodes/a.yaml = %v %d %v", st.ModTime(), st.Size(), st.Mode())
	}
	if st, _ := fs.Stat(fsys, "scripts/check.sh"); st.Mode() != 0o755 {
		t.Errorf("executable mode = %v, want 0755", st.Mode())
	}
}

func TestFSLookups(t *testing.T) {
	repo := newRepo(t, sample)
	fsys, _, err := gittree.Open(repo, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		op      func() (string, error)
		want    string
		wantErr error
	}{
		{"read file", func() (string, error) { b, err := fs.ReadFile(fsys, "nodes/b.yaml"); return string(b), err }, "kind: Node\nname: b\n", nil},
		{"read empty", func() (string, error) { b, err := fs.ReadFile(fsys, "nodes/empty.yaml"); return string(b), err }, "", nil},
		{"read missing", func() (string, error) { b, err := fs.ReadFile(fsys, "nodes/c.yaml"); return string(b), err }, "", fs.ErrNotExist},
		{"read dir", func() (string, error) { b, err := fs.ReadFile(fsys, "nodes"); return string(b), err }, "", nil},
		{"invalid path", func() (string, error) { b, err := fs.ReadFile(fsys, "/fleet.yaml"); return string(b), err }, "", fs.ErrInvalid},
		{"dotdot path", func() (string, error) { b, err := fs.ReadFile(fsys, "nodes/../fleet.yaml"); return string(b), err }, "", fs.ErrInvalid},
		{"through file", func() (string, error) { b, err := fs.ReadFile(fsys, "fleet.yaml/x"); return string(b), err }, "", fs.ErrNotExist},
		{"link to file", func() (string, error) { b, err := fs.ReadFile(fsys, "links/to-a"); return string(b), err }, "kind: Node\nname: a\n", nil},
		{"through dir link", func() (string, error) { b, err := fs.ReadFile(fsys, "links/to-nodes/b.yaml"); return string(b), err }, "kind: Node\nname: b\n", nil},
		{"escaping link", func() (string, error) { b, err := fs.ReadFile(fsys, "links/escape"); return string(b), err }, "", fs.ErrNotExist},
		{"absolute link", func() (string, error) { b, err := fs.ReadFile(fsys, "links/absolute"); return string(b), err }, "", fs.ErrNotExist},
		{"readlink", func() (string, error) { return fsys.ReadLink("links/escape") }, "../../etc/passwd", nil},
		{"readlink not a link", func() (string, error) { return fsys.ReadLink("fleet.yaml") }, "", fs.ErrInvalid},
		{"dir entries", func() (string, error) {
			es, err := fs.ReadDir(fsys, "links/to-nodes")
			var names []string
			for _, e := range es {
				names = append(names, e.Name())
			}
			return strings.Join(names, ","), err
		}, "a.yaml,b.yaml,empty.yaml", nil},
		{"root order", func() (string, error) {
			es, err := fs.ReadDir(fsys, ".")
			var names []string
			for _, e := range es {
				names = append(names, e.Name())
			}
			return strings.Join(names, ","), err
		}, "a,a-b,dotdir,fleet.yaml,links,nodes,scripts,zones", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.op()
			if tc.name == "read dir" {
				if err == nil {
					t.Fatal("reading a directory succeeded")
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := fs.Stat(fsys, "links/loop"); err == nil || !strings.Contains(err.Error(), "symbolic links") {
		t.Errorf("stat of a link loop = %v, want too many links", err)
	}
	st, err := fsys.Lstat("links/to-a")
	if err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("lstat of a link = %v, %v", st, err)
	}
}

func TestOpenRevisions(t *testing.T) {
	repo := newRepo(t, map[string]string{"f": "one"})
	first := git(t, repo, "rev-parse", "HEAD")
	git(t, repo, "tag", "light")
	git(t, repo, "tag", "-a", "-m", "annotated", "v1")
	writeFiles(t, repo, map[string]string{"f": "two", "g": "new"})
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-q", "-m", "second")
	second := git(t, repo, "rev-parse", "HEAD")
	git(t, repo, "checkout", "-q", "-b", "other")
	if err := os.Remove(filepath.Join(repo, "g")); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "commit", "-q", "-am", "third on other")
	third := git(t, repo, "rev-parse", "HEAD")
	git(t, repo, "checkout", "-q", "main")
	treeHash := git(t, repo, "rev-parse", "HEAD^{tree}")

	tests := []struct {
		rev, wantHash, wantF, wantMsg string
		wantErr                       bool
	}{
		{rev: "main", wantHash: second, wantF: "two", wantMsg: "second\n"},
		{rev: "refs/heads/main", wantHash: second, wantF: "two", wantMsg: "second\n"},
		{rev: "other", wantHash: third, wantF: "two", wantMsg: "third on other\n"},
		{rev: "light", wantHash: first, wantF: "one", wantMsg: "first\n\nbody\n"},
		{rev: "v1", wantHash: first, wantF: "one"},
		{rev: first, wantHash: first, wantF: "one"},
		{rev: first[:10], wantHash: first, wantF: "one"},
		{rev: "main~1", wantHash: first, wantF: "one"},
		{rev: "", wantHash: second, wantF: "two"},
		{rev: "nope", wantErr: true},
		{rev: treeHash, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.rev, func(t *testing.T) {
			fsys, rev, err := gittree.Open(repo, tc.rev)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Open(%q) succeeded", tc.rev)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rev.Hash != tc.wantHash {
				t.Errorf("hash = %s, want %s", rev.Hash, tc.wantHash)
			}
			if tc.wantMsg != "" && rev.Message != tc.wantMsg {
				t.Errorf("message = %q, want %q", rev.Message, tc.wantMsg)
			}
			if rev.Author != "Ada <ada@example.org>" {
				t.Errorf("author = %q", rev.Author)
			}
			if b, err := fs.ReadFile(fsys, "f"); err != nil || string(b) != tc.wantF {
				t.Errorf("f = %q, %v; want %q", b, err, tc.wantF)
			}
			_, errG := fs.Stat(fsys, "g")
			if wantG := tc.wantHash == second; wantG != (errG == nil) {
				t.Errorf("g exists = %v, want %v", errG == nil, wantG)
			}
		})
	}
	if _, _, err := gittree.Open(t.TempDir(), "main"); err == nil {
		t.Error("Open of a directory that is no repository succeeded")
	}
	// A bare clone reads the same.
	bare := filepath.Join(t.TempDir(), "bare.git")
	git(t, repo, "clone", "-q", "--bare", repo, bare)
	if _, rev, err := gittree.Open(bare, "main"); err != nil || rev.Hash != second {
		t.Errorf("bare clone: %v, %v", rev, err)
	}
}

// memCommit builds a commit in memory whose root tree holds entries, for
// trees git itself would refuse to make.
func memCommit(t *testing.T, entries []object.TreeEntry, blobs map[plumbing.Hash][]byte) (*memory.Storage, *object.Commit) {
	t.Helper()
	s := memory.NewStorage()
	for _, b := range blobs {
		storeObject(t, s, plumbing.BlobObject, b)
	}
	tree := &object.Tree{Entries: entries}
	to := s.NewEncodedObject()
	if err := tree.Encode(to); err != nil {
		t.Fatal(err)
	}
	th, err := s.SetEncodedObject(to)
	if err != nil {
		t.Fatal(err)
	}
	return s, commitOf(t, s, th)
}

func blobHash(b []byte) plumbing.Hash { return plumbing.ComputeHash(plumbing.BlobObject, b) }

func TestFromCommitOddTrees(t *testing.T) {
	data := []byte("data")
	h := blobHash(data)
	blobs := map[plumbing.Hash][]byte{h: data}
	tests := []struct {
		name    string
		entries []object.TreeEntry
		wantErr string
		want    []string
	}{
		{name: "submodule skipped", entries: []object.TreeEntry{
			{Name: "file", Mode: filemode.Regular, Hash: h},
			{Name: "sub", Mode: filemode.Submodule, Hash: plumbing.NewHash("1111111111111111111111111111111111111111")},
		}, want: []string{"file"}},
		{name: "dotdot name", entries: []object.TreeEntry{{Name: "..", Mode: filemode.Regular, Hash: h}}, wantErr: "invalid entry name"},
		{name: "slash name", entries: []object.TreeEntry{{Name: "a/b", Mode: filemode.Regular, Hash: h}}, wantErr: "invalid entry name"},
		{name: "missing blob", entries: []object.TreeEntry{{Name: "f", Mode: filemode.Regular, Hash: plumbing.NewHash("2222222222222222222222222222222222222222")}}, wantErr: "reading blob"},
		{name: "missing subtree", entries: []object.TreeEntry{{Name: "d", Mode: filemode.Dir, Hash: plumbing.NewHash("3333333333333333333333333333333333333333")}}, wantErr: "reading tree"},
		{name: "deprecated mode", entries: []object.TreeEntry{{Name: "f", Mode: filemode.Deprecated, Hash: h}}, want: []string{"f"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := memCommit(t, tc.entries, blobs)
			fsys, err := gittree.FromCommit(s, c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			es, _ := fsys.ReadDir(".")
			for _, e := range es {
				got = append(got, e.Name())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("entries = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestConcurrentReads(t *testing.T) {
	files := map[string]string{}
	for i := range 200 {
		files[fmt.Sprintf("nodes/n%03d.yaml", i)] = strings.Repeat(fmt.Sprint(i), 100)
	}
	fsys, _, err := gittree.Open(newRepo(t, files), "main")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for p, want := range files {
				f, err := fsys.Open(p)
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(f)
				_ = f.Close()
				if err != nil || string(b) != want {
					errs <- fmt.Errorf("%s: %q, %v", p, b, err)
					return
				}
				// A caller scribbling on ReadFile's result must not change the tree.
				b, _ = fsys.ReadFile(p)
				b[0] = 'X'
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestLoadExampleFleetLikeDirFS(t *testing.T) {
	src, err := filepath.Abs("../examples/fleet")
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	if err := os.CopyFS(repo, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "init", "-q", "-b", "main")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-q", "-m", "fleet")
	fromGit, _, err := gittree.Open(repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	want, errDir := desired.Load(os.DirFS(src))
	got, errGit := desired.Load(fromGit)
	if fmt.Sprint(errDir) != fmt.Sprint(errGit) {
		t.Fatalf("errors differ: dir %v, git %v", errDir, errGit)
	}
	if got == nil || len(got.Nodes) == 0 {
		t.Fatalf("no nodes loaded from git: %+v", got)
	}
	if !reflect.DeepEqual(got.Nodes, want.Nodes) || !reflect.DeepEqual(got.Zones, want.Zones) ||
		!reflect.DeepEqual(got.Backends, want.Backends) || got.HAProxy.Maxconn != want.HAProxy.Maxconn {
		t.Error("fleet loaded from git differs from the one loaded from the directory")
	}
	cert, _ := fs.ReadFile(fromGit, "secrets/ddc-example.pem.age")
	wantCert, _ := os.ReadFile(filepath.Join(src, "secrets/ddc-example.pem.age"))
	if !bytes.Equal(cert, wantCert) || len(cert) == 0 {
		t.Error("certificate differs")
	}
}
