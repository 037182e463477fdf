package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/object"
)

// newRemote makes a bare repository seeded with the example fleet, using
// the real git command line, and returns its path.
func newRemote(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	bare := filepath.Join(root, "fleet.git")
	work := filepath.Join(root, "work")
	gitRun(t, "", "init", "-q", "--bare", "-b", "main", bare)
	gitRun(t, "", "clone", "-q", bare, work)
	if err := os.CopyFS(work, os.DirFS("../examples/fleet")); err != nil {
		t.Fatal(err)
	}
	gitRun(t, work, "add", "-A")
	gitRun(t, work, "-c", "user.name=seed", "-c", "user.email=seed@example.org", "commit", "-q", "-m", "seed")
	gitRun(t, work, "push", "-q", "origin", "HEAD:main")
	return bare
}

func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func openRepo(t *testing.T, remote string) *Repo {
	t.Helper()
	r, err := Open(context.Background(), Options{URL: remote, Dir: filepath.Join(t.TempDir(), "clone")})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var author = object.Signature{Name: "Ada Operator", Email: "ada@example.org"}

func addServer(name string) func(*Tree) error {
	return func(t *Tree) error {
		b, err := t.ReadFile("backends/ddc_nodes_http.yaml")
		if err != nil {
			return err
		}
		s := string(b)
		if !strings.Contains(s, "\nservers:\n") {
			s += "servers:\n"
		}
		s += fmt.Sprintf("  - name: %s\n    address: 198.18.1.50\n    port: %d\n    zone: eu\n", name, 10000+len(s)%50000)
		return t.WriteFile("backends/ddc_nodes_http.yaml", []byte(s))
	}
}

func TestCommitWritesAuthorTrailersAndValidTree(t *testing.T) {
	remote := newRemote(t)
	r := openRepo(t, remote)
	before := gitRun(t, remote, "rev-parse", "main")
	res, err := r.Commit(context.Background(), Change{
		Author:   author,
		Subject:  "Add server static-1 to ddc_nodes_http",
		Trailers: [][2]string{{"Request-Id", "req-1"}, {"Api-Endpoint", "POST /api/v1/backends/ddc_nodes_http/servers"}},
		Edit:     addServer("static-1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Parent != before {
		t.Fatalf("result %+v, want a change on top of %s", res, before)
	}
	if got := gitRun(t, remote, "rev-parse", "main"); got != res.Revision {
		t.Fatalf("remote main = %s, want %s", got, res.Revision)
	}
	msg := gitRun(t, remote, "log", "-1", "--format=%an <%ae>%n%B", "main")
	for _, want := range []string{"Ada Operator <ada@example.org>", "Add server static-1", "Request-Id: req-1", "Api-Endpoint: POST /api/v1/backends/ddc_nodes_http/servers"} {
		if !strings.Contains(msg, want) {
			t.Errorf("commit lacks %q:\n%s", want, msg)
		}
	}
	if got := gitRun(t, remote, "diff", "--name-only", before, "main"); got != "backends/ddc_nodes_http.yaml" {
		t.Errorf("changed files = %q", got)
	}
	// git itself agrees the objects are sound.
	gitRun(t, remote, "fsck", "--strict")
}

func TestCommitNoChangeMakesNoCommit(t *testing.T) {
	remote := newRemote(t)
	r := openRepo(t, remote)
	before := gitRun(t, remote, "rev-parse", "main")
	res, err := r.Commit(context.Background(), Change{Author: author, Subject: "noop", Edit: func(t *Tree) error {
		b, err := t.ReadFile("fleet.yaml")
		if err != nil {
			return err
		}
		return t.WriteFile("fleet.yaml", b)
	}})
	if err != nil || res.Changed || res.Revision != before {
		t.Fatalf("res %+v err %v, want no change at %s", res, err, before)
	}
	if got := gitRun(t, remote, "rev-parse", "main"); got != before {
		t.Fatal("remote moved")
	}
}

func TestCommitInvalidChangeIsRefused(t *testing.T) {
	remote := newRemote(t)
	r := openRepo(t, remote)
	before := gitRun(t, remote, "rev-parse", "main")
	_, err := r.Commit(context.Background(), Change{Author: author, Subject: "bad", Edit: func(t *Tree) error {
		return t.WriteFile("nodes/bad.yaml", []byte("kind: Node\nname: bad\nhost: \"a b\"\n"))
	}})
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errs) == 0 {
		t.Fatalf("err = %v, want a ValidationError", err)
	}
	if !strings.Contains(ve.Error(), "nodes/bad.yaml:") {
		t.Errorf("errors do not name the file: %v", ve)
	}
	if got := gitRun(t, remote, "rev-parse", "main"); got != before {
		t.Fatal("an invalid change reached the remote")
	}
	if err := (&Tree{}).WriteFile("../escape", nil); err == nil {
		t.Fatal("a path outside the tree was accepted")
	}
}

func TestCommitIfMatch(t *testing.T) {
	remote := newRemote(t)
	a, b := openRepo(t, remote), openRepo(t, remote)
	base := gitRun(t, remote, "rev-parse", "main")
	if _, err := a.Commit(context.Background(), Change{Author: author, Subject: "a", Edit: addServer("from-a"), IfMatch: base}); err != nil {
		t.Fatal(err)
	}
	moved := gitRun(t, remote, "rev-parse", "main")
	// b edits the same file based on the old revision: conflict, nothing committed.
	_, err := b.Commit(context.Background(), Change{Author: author, Subject: "b", Edit: addServer("from-b"), IfMatch: base})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	if got := gitRun(t, remote, "rev-parse", "main"); got != moved {
		t.Fatal("a conflicting change was committed")
	}
	// A change to another file based on the old revision still lands.
	res, err := b.Commit(context.Background(), Change{Author: author, Subject: "weight", IfMatch: base, Edit: func(t *Tree) error {
		n, err := t.ReadFile("nodes/us-node-1.yaml")
		if err != nil {
			return err
		}
		return t.WriteFile("nodes/us-node-1.yaml", []byte(strings.Replace(string(n), "weight: 100", "weight: 50", 1)))
	}})
	if err != nil || !res.Changed {
		t.Fatalf("unrelated change: %+v %v", res, err)
	}
	if _, err := b.Commit(context.Background(), Change{Author: author, Subject: "x", Edit: addServer("x"), IfMatch: "0123456789abcdef0123456789abcdef01234567"}); !errors.Is(err, ErrUnknownRevision) {
		t.Fatalf("unknown If-Match revision: err = %v", err)
	}
}

// TestConcurrentWritersLoseNothing runs writers on separate clones (so their
// pushes really race) and on one shared Repo; every change must land.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	remote := newRemote(t)
	shared := openRepo(t, remote)
	clones := []*Repo{shared, openRepo(t, remote), openRepo(t, remote)}
	const n = 24
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := clones[i%len(clones)]
			_, err := r.Commit(context.Background(), Change{Author: author, Subject: fmt.Sprintf("add w-%d", i), Edit: addServer(fmt.Sprintf("w-%d", i))})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	content := gitRun(t, remote, "show", "main:backends/ddc_nodes_http.yaml")
	for i := range n {
		if !strings.Contains(content, fmt.Sprintf("name: w-%d\n", i)) {
			t.Errorf("server w-%d was lost", i)
		}
	}
	if got := gitRun(t, remote, "rev-list", "--count", "main"); got != fmt.Sprint(n+1) {
		t.Errorf("commits on main = %s, want %d", got, n+1)
	}
}

func TestCommitToBranch(t *testing.T) {
	remote := newRemote(t)
	r := openRepo(t, remote)
	main := gitRun(t, remote, "rev-parse", "main")
	for range 2 { // the second run force-updates the branch in place
		if _, err := r.Commit(context.Background(), Change{Author: author, Subject: "proposal", Branch: "bot/node/abc", Edit: addServer("proposed")}); err != nil {
			t.Fatal(err)
		}
	}
	if got := gitRun(t, remote, "rev-parse", "main"); got != main {
		t.Fatal("a branch commit moved main")
	}
	if got := gitRun(t, remote, "rev-list", "--count", "main..bot/node/abc"); got != "1" {
		t.Fatalf("branch is %s commits ahead of main, want 1", got)
	}
}
