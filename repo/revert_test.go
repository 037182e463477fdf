package repo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestCommitDiff: a commit pushed after the clone was made (so it is
// fetched) that modifies, adds and removes files, an empty file, and the
// root commit.
func TestCommitDiff(t *testing.T) {
	remote := newRemote(t)
	r := openRepo(t, remote)
	ctx := context.Background()
	work := filepath.Join(t.TempDir(), "w")
	gitRun(t, "", "clone", "-q", remote, work)
	old, err := os.ReadFile(filepath.Join(work, "backends/ddc_nodes_grpc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"backends/ddc_nodes_grpc.yaml": "changed\n", "notes/new.txt": "new\n", "notes/empty": ""} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(work, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitRun(t, work, "rm", "-q", "nodes/eu-node-3.yaml")
	gitRun(t, work, "add", "-A")
	gitRun(t, work, "-c", "user.name=Eve", "-c", "user.email=eve@example.org", "commit", "-q", "-m", "edit\n\nbody")
	gitRun(t, work, "push", "-q", "origin", "HEAD:main")
	sha := gitRun(t, work, "rev-parse", "HEAD")

	d, err := r.CommitDiff(ctx, sha)
	if err != nil {
		t.Fatal(err)
	}
	if d.Hash != sha || d.Parent != gitRun(t, work, "rev-parse", "HEAD^") || d.Author.Email != "eve@example.org" || d.Message != "edit\n\nbody\n" {
		t.Fatalf("diff = %+v", d)
	}
	want := []struct {
		path          string
		before, after *string
	}{
		{"backends/ddc_nodes_grpc.yaml", ptr(string(old)), ptr("changed\n")},
		{"nodes/eu-node-3.yaml", nil, nil}, // before checked for presence only
		{"notes/empty", nil, ptr("")},
		{"notes/new.txt", nil, ptr("new\n")},
	}
	if len(d.Files) != len(want) {
		t.Fatalf("%d files, want %d: %+v", len(d.Files), len(want), d.Files)
	}
	for i, w := range want {
		f := d.Files[i]
		if f.Path != w.path {
			t.Errorf("file %d = %s, want %s", i, f.Path, w.path)
		}
		switch w.path {
		case "nodes/eu-node-3.yaml":
			if f.Before == nil || f.After != nil {
				t.Errorf("removed file: before %v after %v", f.Before != nil, f.After != nil)
			}
		default:
			if (w.before == nil) != (f.Before == nil) || (w.before != nil && *w.before != string(f.Before)) ||
				(w.after == nil) != (f.After == nil) || (w.after != nil && *w.after != string(f.After)) {
				t.Errorf("%s: before %q after %q", f.Path, f.Before, f.After)
			}
		}
	}

	root := gitRun(t, work, "rev-list", "--max-parents=0", "HEAD")
	rd, err := r.CommitDiff(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if rd.Parent != "" || len(rd.Files) == 0 {
		t.Fatalf("root commit: parent %q, %d files", rd.Parent, len(rd.Files))
	}
	if _, err := r.CommitDiff(ctx, "0123456789012345678901234567890123456789"); !errors.Is(err, ErrUnknownRevision) {
		t.Fatalf("unknown commit: %v", err)
	}
	if _, err := r.CommitDiff(ctx, "abc"); !errors.Is(err, ErrUnknownRevision) {
		t.Fatalf("short hash: %v", err)
	}

	// RemoteBranch: absent, then present after a push.
	if bh, err := r.RemoteBranch(ctx, "revert/x"); err != nil || bh != nil {
		t.Fatalf("absent branch: %+v, %v", bh, err)
	}
	gitRun(t, work, "push", "-q", "origin", "HEAD:refs/heads/revert/x")
	bh, err := r.RemoteBranch(ctx, "revert/x")
	if err != nil || bh == nil || bh.Hash != sha || bh.Parent != d.Parent || bh.Author.Name != "Eve" || bh.Committer.Email != "eve@example.org" {
		t.Fatalf("branch head = %+v, %v", bh, err)
	}
	if _, err := r.RemoteBranch(ctx, "bad..name"); err == nil {
		t.Fatal("an invalid branch name was accepted")
	}
}

func ptr(s string) *string { return &s }
