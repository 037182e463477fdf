package bot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/ddc-gitops/ddc-gitops/bot/chain"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/forge"
	"github.com/ddc-gitops/ddc-gitops/gittree"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

// Outcomes of one node's reconcile (NodeResult.Action).
const (
	// ResultAdd, ResultUpdate, ResultRemove: a proposal was opened or brought
	// up to date (branch rebuilt and/or pull request edited).
	ResultAdd    = ActionAdd
	ResultUpdate = ActionUpdate
	ResultRemove = ActionRemove
	// ResultUpToDate: the proposal already is exactly what is wanted.
	ResultUpToDate = "up_to_date"
	// ResultNone: the main branch already holds what the chain says.
	ResultNone = "none"
	// ResultSkipped: a person committed to the branch, or closed a pull
	// request for this very change; the bot leaves it alone.
	ResultSkipped = "skipped"
	// ResultInvalid: the record (or the fleet with it) is invalid; nothing
	// was proposed.
	ResultInvalid = "invalid"
	// ResultFailed: a transient error; the node is retried later.
	ResultFailed = "failed"
)

// NodeResult is what the bot did for one node.
type NodeResult struct {
	PubKey string `json:"pubKey"`
	Name   string `json:"name,omitempty"`
	File   string `json:"file,omitempty"`
	Action string `json:"action"`
	Detail string `json:"detail,omitempty"`
	Branch string `json:"branch,omitempty"`
	// PullRequest is the proposal opened, updated or left alone.
	PullRequest *forge.PullRequest `json:"pullRequest,omitempty"`
	// Closed lists proposals closed as superseded.
	Closed []int `json:"closed,omitempty"`
}

// refusedError is a node the bot will not propose until its record or the
// fleet changes: no retry.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

func refusedf(format string, args ...any) error {
	return &refusedError{fmt.Sprintf(format, args...)}
}

// errMainMoved: the main branch changed the node between reading it and
// committing; the node is retried on the new head.
var errMainMoved = errors.New("the main branch changed this node while the proposal was built")

// BranchPrefix starts every proposal branch.
const BranchPrefix = "bot/node/"

// UpsertBranch is the branch proposing to add or update the node with pubKey.
func UpsertBranch(pubKey string) string { return BranchPrefix + strings.TrimPrefix(pubKey, "0x") }

// RemoveBranch is the branch proposing to remove the node with pubKey.
func RemoveBranch(pubKey string) string { return UpsertBranch(pubKey) + "-remove" }

// proposal is one change to propose.
type proposal struct {
	branch string
	action string // add, update, remove
	pubKey string
	path   string
	data   []byte // nil for remove
	// file is set for add and update; existing for remove.
	file     *nodeFile
	existing *indexedNode
	want     *chain.Record
	prov     Provenance
}

func (p *proposal) fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", p.action, p.path)
	h.Write(p.data)
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// reconcile makes the proposals for one node match what the chain wants
// for it: want is the record, nil when the node should be absent. When
// thorough is false (a full sync), proposal branches the bot has no record
// of pushing are not looked up on the forge.
func (b *Bot) reconcile(ctx context.Context, pubKey string, want *chain.Record, prov Provenance, thorough bool) (NodeResult, error) {
	res := NodeResult{PubKey: pubKey}
	if want != nil {
		if probs := CheckRecord(*want); len(probs) > 0 {
			if desired.ValidPubKey(pubKey) {
				msg := "The node's record on chain is now invalid, so this proposal no longer matches the chain and is closed. " +
					"The bot proposes the node again once its record is valid. Problems: " + problemFields(probs) + "."
				if err := b.closeOpen(ctx, UpsertBranch(pubKey), thorough, &res, msg); err != nil {
					return res, err
				}
			}
			return res, refusedf("invalid chain record: %s", strings.Join(problemMessages(probs), "; "))
		}
	} else if !desired.ValidPubKey(pubKey) {
		return res, refusedf("invalid pubKey %q", pubKey)
	}
	snap, err := b.repo.Head(ctx)
	if err != nil {
		return res, err
	}
	idx, err := indexNodes(snap.FS)
	if err != nil {
		return res, err
	}
	ex := idx.byKey[pubKey]
	if ex != nil {
		res.Name, res.File = ex.Node.Name, ex.Path
	}
	up, rm := UpsertBranch(pubKey), RemoveBranch(pubKey)
	if want != nil {
		if err := b.closeOpen(ctx, rm, thorough, &res, "Superseded: the node is admitted on chain again ("+prov.short()+"); the removal is no longer wanted."); err != nil {
			return res, err
		}
		if ex != nil && sameChainFields(&ex.Node, *want) {
			res.Action, res.Detail = ResultNone, "the main branch already has the node's record"
			err := b.closeOpen(ctx, up, thorough, &res, "The main branch already has this node's current record (this proposal was merged, or the same change was made another way); closing.")
			return res, err
		}
		nf, err := b.cfg.buildNodeFile(idx, zoneSet(snap.FS), *want)
		if err != nil {
			return res, refusedf("node %s: %v", pubKey, err)
		}
		res.Name, res.File = nf.Node.Name, nf.Path
		p := &proposal{branch: up, action: ActionUpdate, pubKey: pubKey, path: nf.Path, data: nf.Data, file: nf, want: want, prov: prov}
		if ex == nil {
			p.action = ActionAdd
		}
		return b.ensureProposal(ctx, snap, p, res)
	}
	if err := b.closeOpen(ctx, up, thorough, &res, "Superseded: the node left the registry on chain ("+prov.short()+") before this proposal was merged; closing."); err != nil {
		return res, err
	}
	if ex == nil {
		res.Action, res.Detail = ResultNone, "the main branch has no file for this node"
		err := b.closeOpen(ctx, rm, thorough, &res, "The main branch no longer has a file for this node (this proposal was merged, or the file was removed another way); closing.")
		return res, err
	}
	p := &proposal{branch: rm, action: ActionRemove, pubKey: pubKey, path: ex.Path, existing: ex, prov: prov}
	return b.ensureProposal(ctx, snap, p, res)
}

// closeOpen closes the open pull request of branch, if any, with comment.
func (b *Bot) closeOpen(ctx context.Context, branch string, thorough bool, res *NodeResult, comment string) error {
	if !thorough && !b.knownBranch(branch) {
		return nil
	}
	pr, err := b.forge.FindPullRequest(ctx, branch)
	if err != nil {
		return fmt.Errorf("looking up the proposal of %s: %w", branch, err)
	}
	if pr == nil || pr.State != forge.StateOpen {
		return nil
	}
	if err := b.forge.ClosePullRequest(ctx, pr.Number, comment); err != nil {
		return fmt.Errorf("closing proposal #%d of %s: %w", pr.Number, branch, err)
	}
	b.metrics.prs.WithLabelValues(ActionClose).Inc()
	res.Closed = append(res.Closed, pr.Number)
	b.log.Info("closed superseded proposal", "number", pr.Number, "branch", branch)
	return b.st.update(func(d *stateData) {
		d.ClosedByBot[closedKey(branch, pr.Number)] = true
		delete(d.Branches, branch)
	})
}

func (b *Bot) knownBranch(branch string) (ok bool) {
	b.st.read(func(d *stateData) { _, ok = d.Branches[branch] })
	return ok
}

// ensureProposal makes branch carry exactly p on the current main head and
// its pull request describe it, touching only what differs.
func (b *Bot) ensureProposal(ctx context.Context, snap *repo.Snapshot, p *proposal, res NodeResult) (NodeResult, error) {
	res.Branch = p.branch
	fp := p.fingerprint()
	pr, err := b.forge.FindPullRequest(ctx, p.branch)
	if err != nil {
		return res, fmt.Errorf("looking up the proposal of %s: %w", p.branch, err)
	}
	var closedByBot bool
	var known *pushedBranch
	b.st.read(func(d *stateData) {
		if pr != nil {
			closedByBot = d.ClosedByBot[closedKey(p.branch, pr.Number)]
		}
		if k, ok := d.Branches[p.branch]; ok {
			known = &k
		}
	})
	if pr != nil && pr.State == forge.StateClosed && !pr.Merged && !closedByBot && markerOf(pr.Body).fingerprint == fp {
		res.Action, res.PullRequest = ResultSkipped, pr
		res.Detail = fmt.Sprintf("proposal #%d for this exact change was closed without merging by a person; not proposing it again", pr.Number)
		return res, nil
	}
	info, err := b.branches.inspect(ctx, p.branch, p.path, known)
	if err != nil {
		return res, err
	}
	if info.Foreign != "" {
		return b.foreignBranch(ctx, p, pr, info, res)
	}
	base := snap.Revision.Hash
	upToDate := info.Exists && info.Parent == base
	if known != nil && known.Head == info.Head {
		upToDate = upToDate && known.Fingerprint == fp
	} else {
		upToDate = upToDate && info.HasFile == (p.data != nil) && bytes.Equal(info.File, p.data)
	}
	if upToDate && pr != nil && pr.State == forge.StateOpen {
		if m := markerOf(pr.Body); m.fingerprint == fp && m.base == base {
			res.Action, res.PullRequest = ResultUpToDate, pr
			return res, nil
		}
	}
	planText, err := b.planText(snap, p)
	if err != nil {
		return res, err
	}
	if !upToDate {
		cr, err := b.repo.Commit(ctx, repo.Change{
			Author:   object.Signature{Name: b.cfg.Author.Name, Email: b.cfg.Author.Email},
			Subject:  p.subject(),
			Body:     p.commitBody(),
			Trailers: p.prov.trailers(p.pubKey),
			Edit:     b.editFor(p),
			Branch:   p.branch,
		})
		var verr *repo.ValidationError
		switch {
		case errors.As(err, &verr):
			return res, refusedf("the fleet would not validate with node %s: %v", p.pubKey, verr.Errs)
		case err != nil:
			return res, fmt.Errorf("pushing proposal branch %s: %w", p.branch, err)
		case !cr.Changed:
			res.Action, res.Detail = ResultNone, "the main branch already has this change"
			return res, nil
		}
		base = cr.Parent
		if err := b.st.update(func(d *stateData) {
			d.Branches[p.branch] = pushedBranch{Head: cr.Revision, Base: cr.Parent, Fingerprint: fp}
		}); err != nil {
			return res, err
		}
		b.log.Info("pushed proposal branch", "branch", p.branch, "commit", cr.Revision, "base", cr.Parent, "action", p.action)
	}
	out, err := b.forge.EnsurePullRequest(ctx, forge.PR{
		Head: p.branch, Base: b.cfg.Branch, Title: p.title(), Body: b.body(p, fp, base, planText), Labels: b.labels(p.action),
	})
	if err != nil {
		return res, fmt.Errorf("opening the pull request for %s: %w", p.branch, err)
	}
	b.metrics.prs.WithLabelValues(p.action).Inc()
	res.Action, res.PullRequest = p.action, out
	return res, nil
}

// foreignBranch handles a proposal branch with someone else's commits:
// never force-push, comment once per head instead.
func (b *Bot) foreignBranch(ctx context.Context, p *proposal, pr *forge.PullRequest, info *branchInfo, res NodeResult) (NodeResult, error) {
	res.Action, res.PullRequest = ResultSkipped, pr
	res.Detail = fmt.Sprintf("branch %s has commit %.12s by %s: not force-pushing over a person's work", p.branch, info.Foreign, info.ForeignAuthor)
	var notified bool
	b.st.read(func(d *stateData) { notified = d.HumanNotified[p.branch] == info.Head })
	if pr == nil || pr.State != forge.StateOpen || notified {
		return res, nil
	}
	msg := fmt.Sprintf("The chain has a newer record for this node (%s), but this branch carries commit %.12s by someone other than the bot, "+
		"so the bot does not update it. Merge or close this pull request, or delete the branch, and the bot proposes the change again.",
		p.prov.short(), info.Foreign)
	if err := b.forge.Comment(ctx, pr.Number, msg); err != nil {
		return res, fmt.Errorf("commenting on #%d: %w", pr.Number, err)
	}
	return res, b.st.update(func(d *stateData) { d.HumanNotified[p.branch] = info.Head })
}

// editFor is the repo.Change edit of p. It runs on the main head at commit
// time and must produce exactly p; when main changed the node meanwhile,
// it fails and the node is retried.
func (b *Bot) editFor(p *proposal) func(t *repo.Tree) error {
	return func(t *repo.Tree) error {
		idx, err := indexNodes(t.FS())
		if err != nil {
			return err
		}
		if p.action == ActionRemove {
			ex := idx.byKey[p.pubKey]
			if ex == nil || ex.Path != p.path {
				return errMainMoved
			}
			return t.Remove(p.path)
		}
		nf, err := b.cfg.buildNodeFile(idx, zoneSet(t.FS()), *p.want)
		if err != nil {
			return err
		}
		if nf.Path != p.path || !bytes.Equal(nf.Data, p.data) {
			return errMainMoved
		}
		return t.WriteFile(nf.Path, nf.Data)
	}
}

// candidate is fsys with p applied, for validation and the plan.
func candidate(fsys fs.FS, p *proposal) (fs.FS, error) {
	files := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		files[path] = data
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the main branch: %w", err)
	}
	if p.data == nil {
		delete(files, p.path)
	} else {
		files[p.path] = p.data
	}
	return gittree.FromFiles(files, time.Time{})
}

func (b *Bot) labels(action string) []string {
	out := []string{DefaultLabel, action}
	for _, l := range b.cfg.Labels {
		if l != DefaultLabel && l != action {
			out = append(out, l)
		}
	}
	return out
}

// short describes the chain fact for a comment.
func (p Provenance) short() string {
	if p.Source == SourceSync {
		return fmt.Sprintf("registry read at block %d of chain %d", p.Block, p.ChainID)
	}
	s := fmt.Sprintf("%s at block %d of chain %d, tx %s log %d", p.Kind, p.Block, p.ChainID, p.TxHash, p.LogIndex)
	if p.Removed {
		s += ", undone by a reorg"
	}
	return s
}

func problemFields(probs []Problem) string {
	f := make([]string, len(probs))
	for i, p := range probs {
		f[i] = p.Field
	}
	return strings.Join(f, ", ")
}

func problemMessages(probs []Problem) []string {
	m := make([]string, len(probs))
	for i, p := range probs {
		m[i] = p.Message
	}
	return m
}
