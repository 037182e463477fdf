package forge

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestPlainRecordsProposals(t *testing.T) {
	dir := t.TempDir()
	p, err := NewPlain(filepath.Join(dir, "state"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if pr, err := p.FindPullRequest(ctx, "api/ada/1"); err != nil || pr != nil {
		t.Fatalf("find on empty state: %+v %v", pr, err)
	}
	a, err := p.EnsurePullRequest(ctx, PR{Head: "api/ada/1", Base: "main", Title: "one", Labels: []string{"api"}})
	if err != nil || a.Number != 1 || a.State != StateOpen || a.URL == "" {
		t.Fatalf("first: %+v %v", a, err)
	}
	b, err := p.EnsurePullRequest(ctx, PR{Head: "api/bob/2", Base: "main", Title: "two"})
	if err != nil || b.Number != 2 {
		t.Fatalf("second: %+v %v", b, err)
	}
	// Same head again: updated in place.
	a2, err := p.EnsurePullRequest(ctx, PR{Head: "api/ada/1", Base: "main", Title: "one, reworded", Labels: []string{"api", "x"}})
	if err != nil || a2.Number != 1 || a2.Title != "one, reworded" || len(a2.Labels) != 2 {
		t.Fatalf("update: %+v %v", a2, err)
	}
	if err := p.Comment(ctx, 2, "looks good"); err != nil {
		t.Fatal(err)
	}
	if err := p.ClosePullRequest(ctx, 1, "withdrawn"); err != nil {
		t.Fatal(err)
	}
	if err := p.Comment(ctx, 9, "x"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("comment on a missing proposal: %v", err)
	}
	// A new proposal for a closed head gets a new number.
	c, err := p.EnsurePullRequest(ctx, PR{Head: "api/ada/1", Base: "main", Title: "again"})
	if err != nil || c.Number != 3 {
		t.Fatalf("reopen: %+v %v", c, err)
	}
	if got, _ := p.FindPullRequest(ctx, "api/ada/1"); got == nil || got.Number != 3 {
		t.Fatalf("find returns %+v, want the newest (#3)", got)
	}
	if err := p.SetCommitStatus(ctx, sha, Status{Context: "ddc-gitops", State: StatusSuccess}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetCommitStatus(ctx, "short", Status{Context: "ddc-gitops", State: StatusSuccess}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad sha: %v", err)
	}

	// The file is readable JSON for operators, and a new Plain reads it back.
	raw, err := os.ReadFile(p.Path())
	if err != nil {
		t.Fatal(err)
	}
	var st plainState
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.PullRequests) != 3 || st.PullRequests[0].State != StateClosed || len(st.PullRequests[0].Comments) != 1 || st.PullRequests[1].Comments[0].Body != "looks good" {
		t.Fatalf("state file: %s", raw)
	}
	p2, err := NewPlain(filepath.Join(dir, "state"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := p2.FindPullRequest(ctx, "api/bob/2"); got == nil || got.Title != "two" {
		t.Fatalf("reloaded: %+v", got)
	}
}
