package gitserver_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/gittree"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
)

// git runs the real git client and returns its trimmed output and error.
func git(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir(), "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

func mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := git(t, dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSeedCloneCommitPush(t *testing.T) {
	srv := gitservertest.New(t, gitserver.Options{})
	if h, err := srv.Head(); err != nil || h != "" {
		t.Fatalf("head of an empty repository = %q, %v", h, err)
	}
	seed := gitservertest.MustSeed(t, srv, "../../examples/fleet", "seed")

	work := filepath.Join(t.TempDir(), "w")
	mustGit(t, "", "clone", "-q", srv.URL(), work)
	if got := mustGit(t, work, "rev-parse", "HEAD"); got != seed {
		t.Fatalf("cloned head %s, want seed %s", got, seed)
	}
	want := readFile(t, "../../examples/fleet/nodes/eu-node-1.yaml")
	if got := readFile(t, filepath.Join(work, "nodes/eu-node-1.yaml")); got != want {
		t.Error("seeded file differs from examples/fleet")
	}

	// A commit through the helper: add, change and delete files.
	h := gitservertest.MustCommit(t, srv, map[string][]byte{
		"nodes/new.yaml":       []byte("kind: Node\nname: new\n"),
		"a/b/c/deep.txt":       []byte("deep"),
		"nodes/eu-node-1.yaml": []byte("changed\n"),
	}, []string{"nodes/eu-node-2.yaml", "certs"}, "change")

	mustGit(t, work, "pull", "-q", "--ff-only")
	if got := mustGit(t, work, "rev-parse", "HEAD"); got != h {
		t.Fatalf("pulled %s, want %s", got, h)
	}
	if got := readFile(t, filepath.Join(work, "nodes/eu-node-1.yaml")); got != "changed\n" {
		t.Errorf("changed file = %q", got)
	}
	for _, gone := range []string{"nodes/eu-node-2.yaml", "certs"} {
		if _, err := os.Stat(filepath.Join(work, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after delete: %v", gone, err)
		}
	}
	if got := mustGit(t, work, "log", "-1", "--format=%s %P"); got != "change "+seed {
		t.Errorf("commit = %q, want message and parent %s", got, seed)
	}

	// A push over HTTP (receive-pack enabled), then a helper commit on top:
	// the helper fetches first, so it builds on the pushed commit.
	if err := os.WriteFile(filepath.Join(work, "pushed.txt"), []byte("over http"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, work, "add", "-A")
	mustGit(t, work, "commit", "-q", "-m", "pushed over http")
	mustGit(t, work, "push", "-q", "origin", "HEAD:main")
	pushed := mustGit(t, work, "rev-parse", "HEAD")
	h2 := gitservertest.MustCommit(t, srv, map[string][]byte{"after.txt": []byte("x")}, nil, "after push")
	mustGit(t, work, "pull", "-q", "--ff-only")
	if got := mustGit(t, work, "log", "-1", "--format=%P"); got != pushed {
		t.Errorf("helper commit parent = %s, want the pushed %s", got, pushed)
	}
	if got := mustGit(t, work, "rev-parse", "HEAD"); got != h2 {
		t.Errorf("head = %s, want %s", got, h2)
	}

	// Nothing to change: ErrEmptyCommit.
	if _, err := srv.Commit(map[string][]byte{"after.txt": []byte("x")}, nil, "same"); !errors.Is(err, gitserver.ErrEmptyCommit) {
		t.Errorf("commit without change: %v, want ErrEmptyCommit", err)
	}
	for _, bad := range []string{"/abs", "../up", "a/../b", ".git/config", "x/.git/y", ""} {
		if _, err := srv.Commit(map[string][]byte{bad: nil}, nil, "bad"); err == nil {
			t.Errorf("commit of path %q succeeded", bad)
		}
	}

	st := srv.Stats()
	if st.InfoRefs < 3 || st.UploadPacks < 2 || st.ReceivePacks != 1 || st.UploadPackBytes == 0 || st.InfoRefsTime <= 0 || st.UploadPackTime <= 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestForceCommit(t *testing.T) {
	srv := gitservertest.New(t, gitserver.Options{Branch: "prod"})
	first := gitservertest.MustCommit(t, srv, map[string][]byte{"f": []byte("1")}, nil, "one")
	second := gitservertest.MustCommit(t, srv, map[string][]byte{"f": []byte("2")}, nil, "two")
	rewritten, err := srv.ForceCommit(first, map[string][]byte{"f": []byte("2b")}, nil, "two rewritten")
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(t.TempDir(), "w")
	mustGit(t, "", "clone", "-q", "-b", "prod", srv.URL(), work)
	if got := mustGit(t, work, "log", "--format=%H", "prod"); got != rewritten+"\n"+first {
		t.Errorf("history = %q, want rewritten then first (second %s dropped)", got, second)
	}
	if _, err := srv.ForceCommit("abc", nil, nil, "x"); err == nil {
		t.Error("force commit on a short hash succeeded")
	}
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name   string
		opts   gitserver.Options
		header func(r *http.Request)
		want   int
	}{
		{"open", gitserver.Options{}, func(*http.Request) {}, http.StatusOK},
		{"token missing", gitserver.Options{Token: "s3cret"}, func(*http.Request) {}, http.StatusUnauthorized},
		{"bearer ok", gitserver.Options{Token: "s3cret"}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret") }, http.StatusOK},
		{"bearer wrong", gitserver.Options{Token: "s3cret"}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cre") }, http.StatusUnauthorized},
		{"token as basic password", gitserver.Options{Token: "s3cret"}, func(r *http.Request) { r.SetBasicAuth("anyone", "s3cret") }, http.StatusOK},
		{"basic ok", gitserver.Options{Username: "u", Password: "p"}, func(r *http.Request) { r.SetBasicAuth("u", "p") }, http.StatusOK},
		{"basic wrong user", gitserver.Options{Username: "u", Password: "p"}, func(r *http.Request) { r.SetBasicAuth("v", "p") }, http.StatusUnauthorized},
		{"bearer not basic", gitserver.Options{Username: "u", Password: "p"}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer p") }, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := gitserver.New(t.TempDir(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			// The handler also works mounted in a plain httptest server.
			hs := httptest.NewServer(srv.Handler())
			t.Cleanup(hs.Close)
			req, _ := http.NewRequest(http.MethodGet, hs.URL+srv.Path()+"/info/refs?service=git-upload-pack", nil)
			tc.header(req)
			resp, err := hs.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tc.want == http.StatusOK && resp.Header.Get("Content-Type") != "application/x-git-upload-pack-advertisement" {
				t.Errorf("content type %q: not served by git http-backend", resp.Header.Get("Content-Type"))
			}
		})
	}
	// The real git client with the token in the URL.
	srv := gitservertest.New(t, gitserver.Options{Token: "s3cret"})
	gitservertest.MustCommit(t, srv, map[string][]byte{"f": []byte("x")}, nil, "one")
	authURL := strings.Replace(srv.URL(), "http://", "http://x:s3cret@", 1)
	mustGit(t, "", "clone", "-q", authURL, filepath.Join(t.TempDir(), "ok"))
	if _, err := git(t, "", "clone", "-q", srv.URL(), filepath.Join(t.TempDir(), "no")); err == nil {
		t.Error("clone without the token succeeded")
	}
}

func TestStopStartAndFailure(t *testing.T) {
	srv := gitservertest.New(t, gitserver.Options{})
	gitservertest.MustCommit(t, srv, map[string][]byte{"f": []byte("1")}, nil, "one")
	url := srv.URL()
	get := func() (int, error) {
		resp, err := http.Get(url + "/info/refs?service=git-upload-pack")
		if err != nil {
			return 0, err
		}
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := get(); err != nil || code != http.StatusOK {
		t.Fatalf("up: %d, %v", code, err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := get(); err == nil {
		t.Fatal("request to a stopped server succeeded")
	}
	// Commits still work while the HTTP side is down.
	h := gitservertest.MustCommit(t, srv, map[string][]byte{"f": []byte("2")}, nil, "two while down")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if srv.URL() != url {
		t.Fatalf("URL changed across restart: %s -> %s", url, srv.URL())
	}
	if code, err := get(); err != nil || code != http.StatusOK {
		t.Fatalf("after restart: %d, %v", code, err)
	}
	out := mustGit(t, "", "ls-remote", url, "refs/heads/main")
	if !strings.HasPrefix(out, h) {
		t.Errorf("ls-remote = %q, want %s", out, h)
	}
	srv.SetFailure(http.StatusServiceUnavailable)
	if code, _ := get(); code != http.StatusServiceUnavailable {
		t.Errorf("with failure set: %d", code)
	}
	srv.SetFailure(0)
	if code, _ := get(); code != http.StatusOK {
		t.Errorf("after clearing failure: %d", code)
	}
	if st := srv.Stats(); st.Failed != 1 {
		t.Errorf("failed count = %d, want 1", st.Failed)
	}
}

func TestConcurrentCommits(t *testing.T) {
	srv := gitservertest.New(t, gitserver.Options{})
	gitservertest.MustCommit(t, srv, map[string][]byte{"base": []byte("0")}, nil, "base")
	work := filepath.Join(t.TempDir(), "w")
	mustGit(t, "", "clone", "-q", srv.URL(), work)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 5 {
		wg.Go(func() {
			if _, err := srv.Commit(map[string][]byte{fmt.Sprintf("f%d", i): []byte("x")}, nil, fmt.Sprint("c", i)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mustGit(t, work, "pull", "-q", "--ff-only")
	if n := mustGit(t, work, "rev-list", "--count", "HEAD"); n != "6" {
		t.Errorf("%s commits, want 6", n)
	}
	for i := range 5 {
		if _, err := os.Stat(filepath.Join(work, fmt.Sprintf("f%d", i))); err != nil {
			t.Error(err)
		}
	}
}

func TestNewRejectsBadName(t *testing.T) {
	for _, name := range []string{"a/b", ".hidden", "with space"} {
		if _, err := gitserver.New(t.TempDir(), gitserver.Options{Name: name}); err == nil {
			t.Errorf("New with name %q succeeded", name)
		}
	}
}

// TestOnPush checks that every ref a push changes is reported once, for
// pushes over HTTP (create, move, force, delete a branch; a tag) and through
// the commit helpers, and that a rejected push reports nothing.
func TestOnPush(t *testing.T) {
	var mu sync.Mutex
	var got []gitserver.RefUpdate
	take := func() []gitserver.RefUpdate {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
	srv := gitservertest.New(t, gitserver.Options{OnPush: func(u gitserver.RefUpdate) {
		mu.Lock()
		got = append(got, u)
		mu.Unlock()
	}})
	seed := gitservertest.MustSeed(t, srv, "../../examples/fleet", "seed")
	check := func(what string, want ...gitserver.RefUpdate) {
		t.Helper()
		g := take()
		if fmt.Sprint(g) != fmt.Sprint(want) {
			t.Errorf("%s: updates %v, want %v", what, g, want)
		}
	}
	check("seed", gitserver.RefUpdate{Ref: "refs/heads/main", After: seed})

	work := filepath.Join(t.TempDir(), "w")
	mustGit(t, "", "clone", "-q", srv.URL(), work)
	check("clone")
	mustGit(t, work, "commit", "-q", "--allow-empty", "-m", "one")
	one := mustGit(t, work, "rev-parse", "HEAD")
	mustGit(t, work, "push", "-q", "origin", "HEAD:main", "HEAD:refs/heads/topic")
	check("push of main and a new branch",
		gitserver.RefUpdate{Ref: "refs/heads/main", Before: seed, After: one},
		gitserver.RefUpdate{Ref: "refs/heads/topic", After: one})

	mustGit(t, work, "tag", "v1")
	mustGit(t, work, "push", "-q", "origin", "v1", ":topic")
	check("a tag and a deleted branch",
		gitserver.RefUpdate{Ref: "refs/heads/topic", Before: one},
		gitserver.RefUpdate{Ref: "refs/tags/v1", After: one})

	h := gitservertest.MustCommit(t, srv, map[string][]byte{"x.txt": []byte("x")}, nil, "helper")
	check("helper commit", gitserver.RefUpdate{Ref: "refs/heads/main", Before: one, After: h})

	// A non-fast-forward push is refused: nothing changed, nothing reported.
	mustGit(t, work, "commit", "-q", "--allow-empty", "-m", "diverged")
	if _, err := git(t, work, "push", "-q", "origin", "HEAD:main"); err == nil {
		t.Fatal("a non-fast-forward push was accepted")
	}
	check("rejected push")
	f := gitservertest.MustCommit(t, srv, map[string][]byte{"y.txt": []byte("y")}, nil, "on top")
	forced, err := srv.ForceCommit(one, map[string][]byte{"z.txt": []byte("z")}, nil, "forced")
	if err != nil {
		t.Fatal(err)
	}
	check("helper and force commits",
		gitserver.RefUpdate{Ref: "refs/heads/main", Before: h, After: f},
		gitserver.RefUpdate{Ref: "refs/heads/main", Before: f, After: forced})
}

// TestSignerSignsEveryCommit: with Options.Signer, the seed, a commit and
// a force commit are signed (git verify-commit accepts each); without it
// they are unsigned.
func TestSignerSignsEveryCommit(t *testing.T) {
	_, pub, signer, err := gittree.NewSigningKey("person")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	allowed := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(allowed, []byte("person@lab "+pub+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, withSigner := range []bool{true, false} {
		opts := gitserver.Options{}
		if withSigner {
			opts.Signer = signer
		}
		srv := gitservertest.New(t, opts)
		seed := gitservertest.MustSeed(t, srv, "../../examples/fleet", "seed")
		one, err := srv.Commit(map[string][]byte{"README.md": []byte("one\n")}, nil, "one")
		if err != nil {
			t.Fatal(err)
		}
		forced, err := srv.ForceCommit(seed, map[string][]byte{"README.md": []byte("two\n")}, nil, "rewrite")
		if err != nil {
			t.Fatal(err)
		}
		for _, rev := range []string{seed, one, forced} {
			out, err := git(t, srv.RepoPath(), "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+allowed, "verify-commit", rev)
			switch {
			case withSigner && (err != nil || !strings.Contains(out, `Good "git" signature for person@lab`)):
				t.Errorf("signed %s: git verify-commit: %v\n%s", rev, err, out)
			case !withSigner && err == nil:
				t.Errorf("unsigned %s: git verify-commit accepts it:\n%s", rev, out)
			}
		}
	}
}
