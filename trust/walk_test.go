package trust

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// TestRangeMatchesRevList: the commits rangeOf verifies are exactly
// `git rev-list HEAD ^BASE` on a history of branches and merges, and base
// is found an ancestor exactly when `git merge-base --is-ancestor` says so.
func TestRangeMatchesRevList(t *testing.T) {
	r := newRepo(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var all []string
	r.Change(nil, map[string]string{"f0": "0"})
	all = append(all, r.Head())
	branches := []string{"main"}
	for i := 1; i < 60; i++ {
		b := branches[rng.IntN(len(branches))]
		r.Git("checkout", "-q", b)
		switch x := rng.IntN(10); {
		case x < 2 && len(branches) < 5:
			nb := fmt.Sprintf("b%d", i)
			r.Git("checkout", "-q", "-b", nb)
			branches = append(branches, nb)
			r.Change(nil, map[string]string{fmt.Sprintf("f%d", i): "x"})
		case x < 4 && len(branches) > 1:
			other := branches[rng.IntN(len(branches))]
			if other == b {
				continue
			}
			r.N++
			r.Git("merge", "-q", "--no-ff", "--no-gpg-sign", "-m", "merge", other)
		default:
			r.Change(nil, map[string]string{fmt.Sprintf("f%d", i): "x"})
		}
		all = append(all, r.Head())
	}
	g := r.open()
	for i := 0; i < 150; i++ {
		base, head := all[rng.IntN(len(all))], all[rng.IntN(len(all))]
		sp, err := rangeOf(context.Background(), g.Storer, plumbing.NewHash(base), plumbing.NewHash(head))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range sp.commits {
			got = append(got, c.Hash.String())
		}
		want := strings.Fields(r.Git("rev-list", head, "^"+base))
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("range %s..%s: got %d commits, rev-list %d", base[:8], head[:8], len(got), len(want))
		}
		isAnc := r.OK("merge-base", "--is-ancestor", base, head)
		if sp.baseReached != isAnc {
			t.Fatalf("base %s ancestor of %s: got %v, git says %v", base[:8], head[:8], sp.baseReached, isAnc)
		}
	}
}

// TestRangeSkewedClocks: with committer dates that go backwards the range
// may grow, never shrink.
func TestRangeSkewedClocks(t *testing.T) {
	r := newRepo(t)
	r.Change(nil, map[string]string{"a": "1"})
	base := r.Head()
	r.Git("checkout", "-q", "-b", "side")
	r.N = -100 // older than base
	side := r.Change(nil, map[string]string{"b": "1"})
	r.Git("checkout", "-q", "main")
	r.N = 10
	r.Change(nil, map[string]string{"c": "1"})
	r.Git("merge", "-q", "--no-ff", "--no-gpg-sign", "-m", "merge", "side")
	head := r.Head()
	sp, err := rangeOf(context.Background(), r.open().Storer, plumbing.NewHash(base), plumbing.NewHash(head))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, c := range sp.commits {
		got[c.Hash.String()] = true
	}
	for _, h := range strings.Fields(r.Git("rev-list", head, "^"+base)) {
		if !got[h] {
			t.Errorf("commit %s is in rev-list's range, not in rangeOf's", h)
		}
	}
	if !got[side] || !sp.baseReached {
		t.Errorf("side commit in range %v, base reached %v", got[side], sp.baseReached)
	}
}
