package repo

import (
	"context"
	"errors"
	"testing"
)

// TestSetRolloutDecision checks that a decision is a ref on the remote
// next to the branch (which does not move), that the opposite decision
// replaces it, and that commits not on the branch are refused.
func TestSetRolloutDecision(t *testing.T) {
	remote := newRemote(t)
	r := openRepo(t, remote)
	ctx := context.Background()
	a, err := r.Commit(ctx, Change{Author: author, Subject: "a", Edit: addServer("dec-a")})
	if err != nil {
		t.Fatal(err)
	}
	side, err := r.Commit(ctx, Change{Author: author, Subject: "side", Branch: "side", Edit: addServer("dec-side")})
	if err != nil {
		t.Fatal(err)
	}
	refs := func() string {
		return gitRun(t, remote, "for-each-ref", "--format=%(refname) %(objectname)", "refs/ddc-rollout/")
	}

	if err := r.SetRolloutDecision(ctx, a.Revision, "promote"); err != nil {
		t.Fatal(err)
	}
	if got, want := refs(), "refs/ddc-rollout/promote/"+a.Revision+" "+a.Revision; got != want {
		t.Errorf("after promote: refs %q, want %q", got, want)
	}
	for range 2 { // idempotent
		if err := r.SetRolloutDecision(ctx, a.Revision, "hold"); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := refs(), "refs/ddc-rollout/hold/"+a.Revision+" "+a.Revision; got != want {
		t.Errorf("after hold: refs %q, want %q", got, want)
	}
	if head := gitRun(t, remote, "rev-parse", "main"); head != a.Revision {
		t.Errorf("the branch moved to %s", head)
	}
	if err := r.SetRolloutDecision(ctx, side.Revision, "hold"); !errors.Is(err, ErrNotOnBranch) {
		t.Errorf("commit of another branch: err = %v, want ErrNotOnBranch", err)
	}
	if err := r.SetRolloutDecision(ctx, "0123456789abcdef0123456789abcdef01234567", "hold"); !errors.Is(err, ErrUnknownRevision) {
		t.Errorf("unknown commit: err = %v, want ErrUnknownRevision", err)
	}
	if err := r.SetRolloutDecision(ctx, a.Revision[:12], "hold"); !errors.Is(err, ErrUnknownRevision) {
		t.Errorf("short hash: err = %v, want ErrUnknownRevision", err)
	}
	if err := r.SetRolloutDecision(ctx, a.Revision, "maybe"); err == nil {
		t.Error("unknown decision accepted")
	}
}
