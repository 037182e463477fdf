package source_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
)

// transports runs a test against the same repository reached three ways.
var transports = []struct {
	name string
	url  func(*gitserver.Server) string
}{
	{"http", func(s *gitserver.Server) string { return s.URL() }},
	{"path", func(s *gitserver.Server) string { return s.RepoPath() }},
	{"file-url", func(s *gitserver.Server) string { return "file://" + s.RepoPath() }},
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func newSource(t *testing.T, url string) *source.Source {
	t.Helper()
	s := &source.Source{URL: url, Branch: "main", Dir: t.TempDir(), Logger: testLogger(t), Timeout: 30 * time.Second}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustSync(t *testing.T, s *source.Source) *source.Snapshot {
	t.Helper()
	snap, err := s.Sync(context.Background())
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return snap
}

func readFS(t *testing.T, fsys fs.FS, name string) string {
	t.Helper()
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatalf("reading %s from snapshot: %v", name, err)
	}
	return string(b)
}

func TestCloneAndFollow(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			srv := gitservertest.New(t, gitserver.Options{})
			seed := gitservertest.MustSeed(t, srv, "../../examples/fleet", "seed")
			src := newSource(t, tr.url(srv))

			snap := mustSync(t, src)
			if snap.Revision.Hash != seed || snap.Revision.Message != "seed" || snap.Revision.Time.IsZero() ||
				!strings.Contains(snap.Revision.Author, "gitserver") {
				t.Fatalf("revision = %+v, want seed %s", snap.Revision, seed)
			}
			fleet, err := desired.Load(snap.FS)
			if err != nil || len(fleet.Nodes) == 0 {
				t.Fatalf("loading the fleet from the snapshot: %v", err)
			}
			if st := src.Stats(); st.Clones != 1 || st.Fetches != 0 {
				t.Errorf("stats after first sync = %+v, want one clone", st)
			}

			// Unchanged branch: the same snapshot comes back.
			if again := mustSync(t, src); again != snap {
				t.Error("sync without change returned a new snapshot")
			}

			// Ten commits in a row, each seen by the next Sync.
			for i := range 10 {
				name := fmt.Sprintf("nodes/extra-%d.yaml", i)
				h := gitservertest.MustCommit(t, srv, map[string][]byte{name: []byte(fmt.Sprint("n", i))}, nil, fmt.Sprint("commit ", i))
				snap = mustSync(t, src)
				if snap.Revision.Hash != h {
					t.Fatalf("commit %d: synced %s, want %s", i, snap.Revision.Hash, h)
				}
				if got := readFS(t, snap.FS, name); got != fmt.Sprint("n", i) {
					t.Fatalf("commit %d: %s = %q", i, name, got)
				}
			}
			before := snap

			// A force-push that drops the last commit is followed.
			parent := gitservertest.MustCommit(t, srv, map[string][]byte{"x": []byte("1")}, nil, "x1")
			mustSync(t, src)
			rewritten, err := srv.ForceCommit(before.Revision.Hash, map[string][]byte{"y": []byte("rewritten")}, nil, "rewrite")
			if err != nil {
				t.Fatal(err)
			}
			snap = mustSync(t, src)
			if snap.Revision.Hash != rewritten {
				t.Fatalf("after force-push synced %s, want %s (old head %s)", snap.Revision.Hash, rewritten, parent)
			}
			if _, err := fs.Stat(snap.FS, "x"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("file of the dropped commit still in the snapshot: %v", err)
			}
			// Older snapshots are untouched.
			if got := readFS(t, before.FS, "nodes/extra-9.yaml"); got != "n9" {
				t.Errorf("old snapshot changed: %q", got)
			}
			if st := src.Stats(); st.Clones != 1 || st.Fetches != 13 || st.Recoveries != 0 {
				t.Errorf("stats = %+v, want 1 clone and 13 fetches", st)
			}
		})
	}
}

func TestServerDownThenBack(t *testing.T) {
	for _, mode := range []string{"stopped", "503"} {
		t.Run(mode, func(t *testing.T) {
			srv := gitservertest.New(t, gitserver.Options{})
			gitservertest.MustCommit(t, srv, map[string][]byte{"f": []byte("1")}, nil, "one")
			src := newSource(t, srv.URL())
			first := mustSync(t, src)

			if mode == "stopped" {
				if err := srv.Stop(); err != nil {
					t.Fatal(err)
				}
			} else {
				srv.SetFailure(http.StatusServiceUnavailable)
			}
			h := gitservertest.MustCommit(t, srv, map[string][]byte{"f": []byte("2")}, nil, "two")
			snap, err := src.Sync(context.Background())
			if !source.IsTransient(err) || source.IsPermanent(err) || snap != nil {
				t.Fatalf("sync with the server down: %v (snapshot %v), want a transient error", err, snap)
			}
			if last := src.Last(); last != first || readFS(t, last.FS, "f") != "1" {
				t.Fatalf("last snapshot not kept: %+v", last)
			}

			if mode == "stopped" {
				if err := srv.Start(); err != nil {
					t.Fatal(err)
				}
			} else {
				srv.SetFailure(0)
			}
			snap = mustSync(t, src)
			if snap.Revision.Hash != h || readFS(t, snap.FS, "f") != "2" {
				t.Fatalf("after the server came back: %s, want %s", snap.Revision.Hash, h)
			}
			if st := src.Stats(); st.Clones != 1 || st.Recoveries != 0 {
				t.Errorf("stats = %+v: the outage must not cause a re-clone", st)
			}
		})
	}
}

func TestTimeoutIsTransient(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); hang.Close() })
	src := newSource(t, hang.URL+"/fleet.git")
	src.Timeout = 200 * time.Millisecond
	_, err := src.Sync(context.Background())
	if !source.IsTransient(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("sync against a hanging server: %v, want transient deadline exceeded", err)
	}
}

func TestAuth(t *testing.T) {
	const token = "t0ken-with-enough-entropy"
	srv := gitservertest.New(t, gitserver.Options{Token: token})
	h := gitservertest.MustCommit(t, srv, map[string][]byte{"f": []byte("1")}, nil, "one")
	tests := []struct {
		name    string
		auth    source.Auth
		wantErr error
	}{
		{"no token", source.Auth{}, source.ErrAuth},
		{"wrong token", source.Auth{Token: "wrong"}, source.ErrAuth},
		{"wrong bearer", source.Auth{Token: "wrong", Bearer: true}, source.ErrAuth},
		{"token as basic password", source.Auth{Token: token}, nil},
		{"token with user", source.Auth{Token: token, TokenUser: "x-access-token"}, nil},
		{"bearer", source.Auth{Token: token, Bearer: true}, nil},
		{"basic password", source.Auth{Username: "u", Password: token}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := newSource(t, srv.URL())
			src.Auth = tc.auth
			snap, err := src.Sync(context.Background())
			if tc.wantErr != nil {
				if !source.IsPermanent(err) || !errors.Is(err, tc.wantErr) {
					t.Fatalf("sync: %v, want a permanent %v", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "wrong") {
					t.Errorf("error shows the token: %v", err)
				}
				return
			}
			if err != nil || snap.Revision.Hash != h {
				t.Fatalf("sync: %v", err)
			}
		})
	}
}

func TestPermanentErrors(t *testing.T) {
	srv := gitservertest.New(t, gitserver.Options{})
	empty := gitservertest.New(t, gitserver.Options{Name: "empty"})
	gitservertest.MustCommit(t, srv, map[string][]byte{"f": []byte("1")}, nil, "one")
	tests := []struct {
		name    string
		src     *source.Source
		wantErr error
	}{
		{"branch missing over http", &source.Source{URL: srv.URL(), Branch: "nope"}, source.ErrBranchNotFound},
		{"branch missing in a path", &source.Source{URL: srv.RepoPath(), Branch: "nope"}, source.ErrBranchNotFound},
		{"empty repository", &source.Source{URL: empty.URL()}, source.ErrBranchNotFound},
		{"repository missing over http", &source.Source{URL: strings.TrimSuffix(srv.URL(), "fleet.git") + "other.git"}, source.ErrRepoNotFound},
		{"repository missing path", &source.Source{URL: filepath.Join(t.TempDir(), "nothing.git")}, source.ErrRepoNotFound},
		{"no URL", &source.Source{}, source.ErrConfig},
		{"bad branch", &source.Source{URL: srv.URL(), Branch: "a..b"}, source.ErrConfig},
		{"ssh without key", &source.Source{URL: "ssh://git@127.0.0.1:1/x.git"}, source.ErrConfig},
		{"ssh without known_hosts", &source.Source{URL: "git@127.0.0.1:x.git", Auth: source.Auth{SSHKeyFile: "/nonexistent"}}, source.ErrConfig},
		{"unsupported scheme", &source.Source{URL: "ftp://example.org/x.git"}, source.ErrConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src
			src.Dir = t.TempDir()
			src.Logger = testLogger(t)
			_, err := src.Sync(context.Background())
			if !source.IsPermanent(err) || !errors.Is(err, tc.wantErr) {
				t.Fatalf("sync: %v, want a permanent %v", err, tc.wantErr)
			}
			var e *source.Error
			if !errors.As(err, &e) || e.Op == "" {
				t.Errorf("error %v is not a *source.Error with an Op", err)
			}
			if src.Last() != nil {
				t.Error("a snapshot after a failed first sync")
			}
			_ = src.Close()
		})
	}
}

func TestRestartReusesClone(t *testing.T) {
	srv := gitservertest.New(t, gitserver.Options{})
	gitservertest.MustSeed(t, srv, "../../examples/fleet", "seed")
	// Enough content that a clone and a fetch differ clearly in size: 300
	// files of 1 KB that do not delta-compress against each other.
	files := map[string][]byte{}
	for i := range 300 {
		var filler strings.Builder
		for j := range 16 {
			fmt.Fprintf(&filler, "# %x\n", sha256.Sum256(fmt.Appendf(nil, "%d/%d", i, j)))
		}
		files[fmt.Sprintf("nodes/gen-%03d.yaml", i)] = fmt.Appendf(nil, "kind: Node\nname: gen-%03d\n%s", i, filler.String())
	}
	gitservertest.MustCommit(t, srv, files, nil, "many nodes")
	dir := t.TempDir()
	first := &source.Source{URL: srv.URL(), Dir: dir, Logger: testLogger(t)}
	mustSync(t, first)
	cloneBytes := srv.Stats().UploadPackBytes
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	// A restarted agent: same Dir, new Source.
	h := gitservertest.MustCommit(t, srv, map[string][]byte{"nodes/gen-001.yaml": []byte("kind: Node\nname: gen-001\n")}, nil, "small change")
	before := srv.Stats()
	second := &source.Source{URL: srv.URL(), Dir: dir, Logger: testLogger(t)}
	t.Cleanup(func() { _ = second.Close() })
	snap := mustSync(t, second)
	if snap.Revision.Hash != h {
		t.Fatalf("synced %s, want %s", snap.Revision.Hash, h)
	}
	if st := second.Stats(); st.Clones != 0 || st.Fetches != 1 {
		t.Errorf("restart stats = %+v, want one fetch and no clone", st)
	}
	fetchBytes := srv.Stats().UploadPackBytes - before.UploadPackBytes
	t.Logf("clone transferred %d bytes, the fetch after restart %d", cloneBytes, fetchBytes)
	if fetchBytes <= 0 || fetchBytes*10 > cloneBytes {
		t.Errorf("fetch after restart transferred %d bytes, clone %d: want an incremental fetch", fetchBytes, cloneBytes)
	}
	// Up to date: only the ref advertisement, no pack.
	before = srv.Stats()
	mustSync(t, second)
	if after := srv.Stats(); after.UploadPacks != before.UploadPacks || after.InfoRefs != before.InfoRefs+1 {
		t.Errorf("an up-to-date sync asked for a pack: before %+v after %+v", before, after)
	}
}

func TestCorruptCloneRecovered(t *testing.T) {
	tests := []struct {
		name       string
		recoveries int
		corrupt    func(t *testing.T, repo string)
	}{
		{"repo dir empty", 1, func(t *testing.T, repo string) {
			if err := os.RemoveAll(repo); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(repo, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{"HEAD and config garbage", 1, func(t *testing.T, repo string) {
			for _, f := range []string{"HEAD", "config"} {
				if err := os.WriteFile(filepath.Join(repo, f), []byte("\x00garbage[[["), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"pack files truncated", 1, func(t *testing.T, repo string) {
			packs, _ := filepath.Glob(filepath.Join(repo, "objects/pack/*.pack"))
			if len(packs) == 0 {
				t.Fatal("no pack files to corrupt")
			}
			for _, p := range packs {
				if err := os.Truncate(p, 40); err != nil {
					t.Fatal(err)
				}
			}
		}},
		// go-git finds no local commit to offer as "have", so the fetch
		// downloads everything again: healed without a re-clone.
		{"objects removed", 0, func(t *testing.T, repo string) {
			if err := os.RemoveAll(filepath.Join(repo, "objects")); err != nil {
				t.Fatal(err)
			}
		}},
		{"clone of another URL", 1, func(t *testing.T, repo string) {
			cfg := filepath.Join(repo, "config")
			b, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			b = []byte(strings.Replace(string(b), "url = ", "url = http://elsewhere.invalid/", 1))
			if err := os.WriteFile(cfg, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"leftover temporary clone", 0, func(t *testing.T, repo string) {
			if err := os.MkdirAll(filepath.Join(filepath.Dir(repo), ".clone-123", "objects"), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := gitservertest.New(t, gitserver.Options{})
			// g stays unchanged, so the commits after the corruption
			// still need objects of the first clone.
			gitservertest.MustCommit(t, srv, map[string][]byte{"f": []byte("1"), "g": []byte("unchanged")}, nil, "one")
			dir := t.TempDir()
			first := &source.Source{URL: srv.URL(), Dir: dir, Logger: testLogger(t)}
			mustSync(t, first)
			_ = first.Close()

			tc.corrupt(t, filepath.Join(dir, "repo"))
			h := gitservertest.MustCommit(t, srv, map[string][]byte{"f": []byte("2")}, nil, "two")
			second := &source.Source{URL: srv.URL(), Dir: dir, Logger: testLogger(t)}
			t.Cleanup(func() { _ = second.Close() })
			snap := mustSync(t, second)
			if snap.Revision.Hash != h || readFS(t, snap.FS, "f") != "2" || readFS(t, snap.FS, "g") != "unchanged" {
				t.Fatalf("after recovery synced %s, want %s", snap.Revision.Hash, h)
			}
			if st := second.Stats(); st.Recoveries != tc.recoveries {
				t.Errorf("stats = %+v, want %d recoveries", st, tc.recoveries)
			}
			// The recovered clone is healthy: the next commit is fetched, not cloned.
			h3 := gitservertest.MustCommit(t, srv, map[string][]byte{"f": []byte("3")}, nil, "three")
			before := second.Stats()
			if snap := mustSync(t, second); snap.Revision.Hash != h3 {
				t.Fatalf("after recovery, next sync %s, want %s", snap.Revision.Hash, h3)
			}
			if after := second.Stats(); after.Fetches != before.Fetches+1 || after.Clones != before.Clones {
				t.Errorf("sync after recovery: before %+v after %+v, want a fetch", before, after)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 || entries[0].Name() != "repo" {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("state dir holds %v, want only repo", names)
			}
		})
	}
}

func TestConcurrentSyncAndReads(t *testing.T) {
	srv := gitservertest.New(t, gitserver.Options{})
	gitservertest.MustSeed(t, srv, "../../examples/fleet", "seed")
	src := newSource(t, srv.URL())
	mustSync(t, src)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 3 {
		wg.Go(func() {
			for ctx.Err() == nil {
				snap, err := src.Sync(ctx)
				if err != nil {
					if ctx.Err() == nil {
						errs <- err
					}
					return
				}
				if _, err := desired.Load(snap.FS); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var last string
	for i := range 5 {
		last = gitservertest.MustCommit(t, srv, map[string][]byte{"nodes/eu-node-1.yaml": fmt.Appendf(nil, "%s\n# %d\n", readFS(t, src.Last().FS, "nodes/eu-node-1.yaml"), i)}, nil, fmt.Sprint("c", i))
	}
	eventually(t, 20*time.Second, func() bool { return src.Last().Revision.Hash == last })
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := src.Last().Revision.Hash; got != last {
		t.Errorf("concurrent syncs ended at %s, want %s", got, last)
	}
}

// eventually polls cond every few milliseconds until it holds or timeout
// passes; it reports whether it held.
func eventually(t *testing.T, timeout time.Duration, cond func() bool) bool {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			return false
		}
	}
	return true
}

func TestTooManyPacksReclones(t *testing.T) {
	srv := gitservertest.New(t, gitserver.Options{})
	gitservertest.MustCommit(t, srv, map[string][]byte{"f": []byte("0"), "g": []byte("kept")}, nil, "c0")
	src := newSource(t, srv.URL())
	src.MaxPacks = 3
	mustSync(t, src)
	packs := func() int {
		m, _ := filepath.Glob(filepath.Join(src.Dir, "repo", "objects", "pack", "*.pack"))
		return len(m)
	}
	for i := 1; i <= 5; i++ {
		h := gitservertest.MustCommit(t, srv, map[string][]byte{"f": []byte(fmt.Sprint(i))}, nil, fmt.Sprint("c", i))
		snap := mustSync(t, src)
		if snap.Revision.Hash != h || readFS(t, snap.FS, "g") != "kept" {
			t.Fatalf("commit %d: synced %s, want %s", i, snap.Revision.Hash, h)
		}
		if n := packs(); n > 3 {
			t.Fatalf("after commit %d the clone has %d packs, want at most 3", i, n)
		}
	}
	// One clone, fetches adding packs 2 and 3, the fourth triggering a
	// fresh clone (one pack), then packs 2 and 3 again.
	if st := src.Stats(); st.Recoveries != 1 || st.Clones != 2 || st.Fetches != 5 {
		t.Errorf("stats = %+v, want 2 clones (one replacing the overgrown clone) and 5 fetches", st)
	}
}
