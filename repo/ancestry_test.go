package repo

import (
	"context"
	"errors"
	"testing"
)

func TestIsAncestor(t *testing.T) {
	remote := newRemote(t)
	r, other := openRepo(t, remote), openRepo(t, remote)
	ctx := context.Background()
	seed := gitRun(t, remote, "rev-parse", "main")
	a, err := r.Commit(ctx, Change{Author: author, Subject: "a", Edit: addServer("anc-a")})
	if err != nil {
		t.Fatal(err)
	}
	// b is pushed through another clone: r has not fetched it yet.
	b, err := other.Commit(ctx, Change{Author: author, Subject: "b", Edit: addServer("anc-b")})
	if err != nil {
		t.Fatal(err)
	}
	// A commit on another branch that main never contains.
	side, err := other.Commit(ctx, Change{Author: author, Subject: "side", Branch: "side", Edit: addServer("anc-side")})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		a, b string
		want bool
	}{
		{"same commit", a.Revision, a.Revision, true},
		{"parent of a descendant not fetched yet", a.Revision, b.Revision, true},
		{"root of a descendant", seed, b.Revision, true},
		{"descendant of an ancestor", b.Revision, a.Revision, false},
		{"commit of another branch", side.Revision, b.Revision, false},
		{"unknown commit", "0123456789abcdef0123456789abcdef01234567", b.Revision, false},
	}
	for _, tc := range cases {
		got, err := r.IsAncestor(ctx, tc.a, tc.b)
		if err != nil || got != tc.want {
			t.Errorf("%s: IsAncestor = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := r.IsAncestor(ctx, "abc", b.Revision); !errors.Is(err, ErrUnknownRevision) {
		t.Errorf("short hash: err = %v, want ErrUnknownRevision", err)
	}
}
