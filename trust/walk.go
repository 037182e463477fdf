package trust

import (
	"container/heap"
	"context"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// span is what rangeOf found: the commits reachable from head and not from
// base (git rev-list head ^base), newest first, and whether base is an
// ancestor of head.
type span struct {
	commits      []*object.Commit
	baseReached  bool
	baseNotFound bool
}

const (
	fromHead = 1 << iota
	fromBase
)

// rangeOf walks head's and base's histories together, newest commit
// first, marking what each reaches, and stops once every commit left to
// visit is reachable from base: its cost is the range plus a small
// frontier, not the whole history. A commit is left out only when it was
// reached from base, so the range is never too small; with committer
// clocks skewed against the history a commit reachable from base can be
// visited before base's walk marks it, and is then verified needlessly
// (fail-closed).
func rangeOf(ctx context.Context, st storer.EncodedObjectStorer, base, head plumbing.Hash) (*span, error) {
	sp := &span{}
	flags := map[plumbing.Hash]int{}
	q := &commitQueue{}
	hc, err := object.GetCommit(st, head)
	if err != nil {
		return nil, fmt.Errorf("reading head commit %s: %w", head, err)
	}
	flags[head] |= fromHead
	heap.Push(q, hc)
	if !base.IsZero() {
		bc, err := object.GetCommit(st, base)
		if err != nil {
			sp.baseNotFound = true
		} else {
			if base == head {
				sp.baseReached = true
				return sp, nil
			}
			flags[base] |= fromBase
			heap.Push(q, bc)
		}
	}
	visited := map[plumbing.Hash]int{}
	for q.Len() > 0 && !q.allFrom(flags, fromBase) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := heap.Pop(q).(*object.Commit)
		f := flags[c.Hash]
		if visited[c.Hash] == f {
			continue // queued twice with the same marks
		}
		visited[c.Hash] = f
		if f == fromHead {
			sp.commits = append(sp.commits, c)
		}
		for _, ph := range c.ParentHashes {
			if ph == base && f&fromBase == 0 {
				sp.baseReached = true
			}
			pf := flags[ph]
			if pf|f == pf {
				continue
			}
			flags[ph] = pf | f
			p, err := object.GetCommit(st, ph)
			if err != nil {
				return nil, fmt.Errorf("reading commit %s (parent of %s): %w", ph, c.Hash, err)
			}
			heap.Push(q, p)
		}
	}
	// A commit first visited from head and later reached from base is
	// not in the range after all.
	out := sp.commits[:0]
	for _, c := range sp.commits {
		if flags[c.Hash]&fromBase == 0 {
			out = append(out, c)
		}
	}
	sp.commits = out
	return sp, nil
}

// allFrom reports whether every queued commit carries mark.
func (q commitQueue) allFrom(flags map[plumbing.Hash]int, mark int) bool {
	for _, c := range q {
		if flags[c.Hash]&mark == 0 {
			return false
		}
	}
	return true
}

// commitQueue is a max-heap of commits by committer time.
type commitQueue []*object.Commit

func (q commitQueue) Len() int { return len(q) }
func (q commitQueue) Less(i, j int) bool {
	a, b := q[i].Committer.When, q[j].Committer.When
	if !a.Equal(b) {
		return a.After(b)
	}
	return q[i].Hash.String() > q[j].Hash.String()
}
func (q commitQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *commitQueue) Push(x any)   { *q = append(*q, x.(*object.Commit)) }
func (q *commitQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}
