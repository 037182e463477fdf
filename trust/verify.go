package trust

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// RuleAllowRewrite is the rule a refused rewrite names.
const RuleAllowRewrite = "allowRewrite"

// Refusal is a commit that may not be applied, and why.
type Refusal struct {
	Commit string
	// Author is "Name <email>" of the commit's author.
	Author string
	// Key is the fingerprint of the key that signed the commit (empty if
	// unsigned), KeyName its name in the policy (empty if unknown).
	Key, KeyName string
	// Rule names the rule(s) the commit broke, when a rule could have
	// allowed its signer; RuleAllowRewrite for a refused rewrite.
	Rule   string
	Reason string
}

func (r Refusal) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "commit %s by %s", short(r.Commit), r.Author)
	switch {
	case r.KeyName != "":
		fmt.Fprintf(&b, " signed by %s (%s)", r.KeyName, r.Key)
	case r.Key != "":
		fmt.Fprintf(&b, " signed by %s", r.Key)
	}
	if r.Rule != "" {
		fmt.Fprintf(&b, " breaks rule %s", r.Rule)
	}
	b.WriteString(": " + r.Reason)
	return b.String()
}

// Result is the verdict on the commits between a base and a head.
type Result struct {
	Base, Head string
	// Verified is how many commits were checked (from the cache or not).
	Verified int
	// Refusals are the commits that make Head refused, oldest first.
	Refusals []Refusal
	// Reverted are refused commits below Head whose every change Head
	// undoes (each file they touched is at Head as at Base): they do not
	// make Head refused.
	Reverted []Refusal
}

// Refused reports whether Head may not be applied.
func (r *Result) Refused() bool { return len(r.Refusals) > 0 }

// Err is nil when Head may be applied, else an error naming every refusal.
func (r *Result) Err() error {
	if !r.Refused() {
		return nil
	}
	s := make([]string, len(r.Refusals))
	for i, f := range r.Refusals {
		s[i] = f.String()
	}
	return fmt.Errorf("revision %s refused by the trust policy: %s", short(r.Head), strings.Join(s, "; "))
}

// verdict is the cached judgment of one commit, which depends only on the
// commit (its signature, its parents' trees) and the policy.
type verdict struct {
	refusal *Refusal
	key     string   // accepted: the signer's name
	rule    string   // accepted: the rule that allowed it
	paths   []string // refused: the files it changed
	// undoable: a later commit may undo the refused commit's changes
	// (false for a commit whose trees could not be diffed).
	undoable bool
}

// maxVerdicts bounds the verdict cache.
const maxVerdicts = 1 << 17

// Verifier checks ranges of commits against one policy, remembering each
// commit's verdict by hash. It is safe for concurrent use; calls run one
// at a time.
type Verifier struct {
	policy *Policy
	mu     sync.Mutex
	cache  map[plumbing.Hash]*verdict
	trees  trees
}

// NewVerifier returns a Verifier of p.
func NewVerifier(p *Policy) *Verifier {
	return &Verifier{policy: p, cache: map[plumbing.Hash]*verdict{}, trees: trees{cache: map[plumbing.Hash][]entry{}}}
}

// Policy returns the verifier's policy.
func (v *Verifier) Policy() *Policy { return v.policy }

// VerifyRange judges head for a host that runs base (empty: none yet).
// Every commit reachable from head and not from base is verified (the
// first parents and every merged branch); a merge commit is judged on its
// own changes against its first parent, the merged commits each on
// theirs. A head whose history no longer contains base (a rewrite) is
// refused unless the policy allows rewrites. With no base, the policy's
// since commit is the base (it must be an ancestor of head); without
// since, the head commit alone is verified.
//
// An error means the history could not be read (not a refusal).
func (v *Verifier) VerifyRange(ctx context.Context, st storer.EncodedObjectStorer, base, head string) (*Result, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.trees.st = st
	defer func() { v.trees.st = nil }()
	return v.verify(ctx, base, head)
}

func (v *Verifier) verify(ctx context.Context, base, head string) (*Result, error) {
	st := v.trees.st
	res := &Result{Base: base, Head: head}
	hh, err := parseHash(head)
	if err != nil {
		return nil, err
	}
	if base == head {
		return res, nil
	}
	hc, err := object.GetCommit(st, hh)
	if err != nil {
		return nil, fmt.Errorf("reading head commit %s: %w", head, err)
	}
	var bh plumbing.Hash
	switch {
	case base != "":
		if bh, err = parseHash(base); err != nil {
			return nil, err
		}
	case v.policy.Since != "":
		bh = plumbing.NewHash(v.policy.Since)
		res.Base = v.policy.Since
	default: // first sync without since: the head commit alone
		return v.judgeAll(ctx, res, []*object.Commit{hc}, plumbing.ZeroHash, hh)
	}
	sp, err := rangeOf(ctx, st, bh, hh)
	if err != nil {
		return nil, err
	}
	rewrite := ""
	switch {
	case base == "" && !sp.baseReached:
		rewrite = fmt.Sprintf("the policy's since commit %s is not an ancestor of %s", short(v.policy.Since), short(head))
	case sp.baseNotFound && v.policy.AllowRewrite:
		// Nothing to compare with: verify as on a first sync.
		return v.verify(ctx, "", head)
	case sp.baseNotFound:
		rewrite = fmt.Sprintf("the applied revision %s is not in the repository any more: the branch was rewritten (force push)", short(base))
	case !sp.baseReached && !v.policy.AllowRewrite:
		rewrite = fmt.Sprintf("the applied revision %s is not an ancestor of %s: the branch was rewritten (force push)", short(base), short(head))
	}
	if rewrite != "" {
		res.Refusals = append(res.Refusals, Refusal{Commit: head, Author: author(hc), Rule: RuleAllowRewrite, Reason: rewrite})
		if sp.baseNotFound {
			bh = plumbing.ZeroHash
		}
	}
	return v.judgeAll(ctx, res, sp.commits, bh, hh)
}

// judgeAll judges commits (newest first) into res: a refused commit below
// head whose changes head undoes (against base's tree) is only reported
// as reverted.
func (v *Verifier) judgeAll(ctx context.Context, res *Result, commits []*object.Commit, base, head plumbing.Hash) (*Result, error) {
	res.Verified = len(commits)
	for i := len(commits) - 1; i >= 0; i-- { // oldest first
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := commits[i]
		vd, err := v.judge(c)
		if err != nil {
			return nil, err
		}
		if vd.refusal == nil {
			continue
		}
		if c.Hash != head && !base.IsZero() && vd.undoable {
			undone, err := v.undone(vd.paths, base, head)
			if err != nil {
				return nil, err
			}
			if undone {
				res.Reverted = append(res.Reverted, *vd.refusal)
				continue
			}
		}
		res.Refusals = append(res.Refusals, *vd.refusal)
	}
	return res, nil
}

// undone reports whether every path is at head's tree as at base's.
func (v *Verifier) undone(paths []string, base, head plumbing.Hash) (bool, error) {
	bc, err := object.GetCommit(v.trees.st, base)
	if err != nil {
		return false, fmt.Errorf("reading commit %s: %w", base, err)
	}
	hc, err := object.GetCommit(v.trees.st, head)
	if err != nil {
		return false, fmt.Errorf("reading commit %s: %w", head, err)
	}
	for _, p := range paths {
		be, bok, err := v.trees.entry(bc.TreeHash, p)
		if err != nil {
			return false, err
		}
		he, hok, err := v.trees.entry(hc.TreeHash, p)
		if err != nil {
			return false, err
		}
		if bok != hok || (bok && (be.hash != he.hash || be.mode != he.mode)) {
			return false, nil
		}
	}
	return true, nil
}

// judge returns c's verdict, from the cache when it was judged before.
func (v *Verifier) judge(c *object.Commit) (*verdict, error) {
	if vd, ok := v.cache[c.Hash]; ok {
		return vd, nil
	}
	vd, err := v.judgeCommit(c)
	if err != nil {
		return nil, err
	}
	if len(v.cache) >= maxVerdicts {
		clear(v.cache)
	}
	v.cache[c.Hash] = vd
	return vd, nil
}

func (v *Verifier) judgeCommit(c *object.Commit) (*verdict, error) {
	parent := plumbing.ZeroHash
	if len(c.ParentHashes) > 0 {
		pc, err := object.GetCommit(v.trees.st, c.ParentHashes[0])
		if err != nil {
			return nil, fmt.Errorf("reading commit %s (parent of %s): %w", c.ParentHashes[0], c.Hash, err)
		}
		parent = pc.TreeHash
	}
	refuse := func(r Refusal, changes []Change, undoable bool) *verdict {
		r.Commit, r.Author = c.Hash.String(), author(c)
		paths := make([]string, len(changes))
		for i, ch := range changes {
			paths[i] = ch.Path
		}
		return &verdict{refusal: &r, paths: paths, undoable: undoable}
	}
	changes, err := v.trees.diff(parent, c.TreeHash)
	if err != nil {
		// A malformed tree is a property of the commit: refuse it.
		var me *malformedError
		if errors.As(err, &me) {
			return refuse(Refusal{Reason: me.msg}, nil, false), nil
		}
		return nil, err
	}
	key, fp, err := v.policy.signer(c)
	if err != nil {
		var se *sigError
		if !errors.As(err, &se) {
			return nil, err
		}
		return refuse(Refusal{Key: fp, Reason: se.msg}, changes, true), nil
	}
	rule, broken, why := v.policy.allow(key.Name, changes)
	if rule == "" {
		return refuse(Refusal{Key: fp, KeyName: key.Name, Rule: broken, Reason: why}, changes, true), nil
	}
	return &verdict{key: key.Name, rule: rule}, nil
}

// allow returns the first rule that allows key to make all changes; when
// none does, the rules that name key (comma-separated) and why.
func (p *Policy) allow(key string, changes []Change) (rule, broken, why string) {
	var names, whys []string
	for _, r := range p.Rules {
		if !slices.Contains(r.Keys, key) {
			continue
		}
		bad := r.refuses(changes)
		if bad == nil {
			return r.Name, "", ""
		}
		names = append(names, r.Name)
		whys = append(whys, fmt.Sprintf("%s: allows %s of %s only, not %s %s", r.Name,
			strings.Join(r.Changes, ", "), strings.Join(r.Paths, ", "), pastTense(bad.Kind), bad.Path))
	}
	switch len(names) {
	case 0:
		return "", "", fmt.Sprintf("no rule names key %s", key)
	case 1:
		_, w, _ := strings.Cut(whys[0], ": ")
		return "", names[0], w
	}
	return "", strings.Join(names, ","), strings.Join(whys, "; ")
}

// refuses returns the first change r does not allow, nil if it allows all.
func (r *Rule) refuses(changes []Change) *Change {
	for i, ch := range changes {
		if !slices.Contains(r.Changes, ch.Kind) {
			return &changes[i]
		}
		ok := false
		for _, g := range r.Paths {
			if matchPath(g, ch.Path) {
				ok = true
				break
			}
		}
		if !ok {
			return &changes[i]
		}
	}
	return nil
}

func pastTense(kind string) string {
	switch kind {
	case Add:
		return "adding"
	case Modify:
		return "modifying"
	}
	return "deleting"
}

func author(c *object.Commit) string {
	return fmt.Sprintf("%s <%s>", c.Author.Name, c.Author.Email)
}

func parseHash(s string) (plumbing.Hash, error) {
	if !reCommit.MatchString(s) {
		return plumbing.ZeroHash, fmt.Errorf("%q is not a full commit hash", s)
	}
	return plumbing.NewHash(s), nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
