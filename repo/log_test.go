package repo

import (
	"context"
	"errors"
	"testing"
)

func TestLog(t *testing.T) {
	remote := newRemote(t)
	r := openRepo(t, remote)
	ctx := context.Background()
	seed := gitRun(t, remote, "rev-parse", "main")
	a, err := r.Commit(ctx, Change{Author: author, Subject: "log a", Edit: addServer("log-a")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Commit(ctx, Change{Author: author, Subject: "log b", Edit: addServer("log-b")})
	if err != nil {
		t.Fatal(err)
	}
	revs, err := r.Log(ctx, b.Revision, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rv := range revs {
		got = append(got, rv.Hash)
	}
	if len(got) < 3 || got[0] != b.Revision || got[1] != a.Revision || got[2] != seed {
		t.Fatalf("Log = %v, want %s, %s, %s first", got, b.Revision, a.Revision, seed)
	}
	if revs[0].Message == "" || revs[0].Time.IsZero() {
		t.Errorf("revision without message or time: %+v", revs[0])
	}
	if two, err := r.Log(ctx, b.Revision, 2); err != nil || len(two) != 2 {
		t.Errorf("Log(n=2) = %d revisions, %v", len(two), err)
	}
	if _, err := r.Log(ctx, "abc", 2); !errors.Is(err, ErrUnknownRevision) {
		t.Errorf("short hash: err = %v, want ErrUnknownRevision", err)
	}
}
