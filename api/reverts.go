package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/forge"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

// RevertBranchPrefix starts every revert proposal's branch: revert/<sha>.
const RevertBranchPrefix = "revert/"

const (
	// maxRevertsPerPoll bounds the revisions one poll works on.
	maxRevertsPerPoll = 20
	// maxRevertProposals bounds the proposals remembered for the list.
	maxRevertProposals = 200
)

// Revert proposal states (RevertProposal.State).
const (
	// RevertProposed: the branch (and pull request) was pushed at this
	// poll, first or rebuilt on a newer head or with new evidence.
	RevertProposed = "proposed"
	// RevertUpToDate: the branch already reverts the commit on the head
	// with the same evidence; nothing was pushed.
	RevertUpToDate = "up_to_date"
	// RevertConflict: a file the commit changed was changed again since:
	// no branch is made; a person reverts by hand.
	RevertConflict = "conflict"
	// RevertInvalid: the fleet with the revert would not validate (or the
	// commit is a root commit): no branch.
	RevertInvalid = "invalid"
	// RevertNotInBranch: the commit is no longer in the branch (reset or
	// force-pushed away): nothing to revert.
	RevertNotInBranch = "not_in_branch"
	// RevertAlreadyReverted: the head already has every file as before
	// the commit (the revert was merged, or made another way).
	RevertAlreadyReverted = "already_reverted"
	// RevertSkipped: a person committed to the branch, or closed its pull
	// request without merging: left alone.
	RevertSkipped = "skipped"
	// RevertFailed: a git or forge error; retried at the next poll.
	RevertFailed = "failed"
)

// RevertOptions configure the automatic revert proposals (Config.Reverts).
type RevertOptions struct {
	// Enabled makes the API poll its agents for quarantined revisions and
	// propose their reverts.
	Enabled bool
	// Interval is the polling period (default 15s).
	Interval time.Duration
	// AuthorName and AuthorEmail sign the revert commits (default
	// "ddc-gitops revert" <revert@AuthorEmailDomain>).
	AuthorName, AuthorEmail string
	// Labels are put on the pull requests (default ddc-gitops, revert).
	Labels []string
}

// DefaultRevertInterval is how often the revert proposer polls the agents.
const DefaultRevertInterval = 15 * time.Second

func (o RevertOptions) withDefaults(emailDomain string) RevertOptions {
	if o.Interval <= 0 {
		o.Interval = DefaultRevertInterval
	}
	if o.AuthorName == "" {
		o.AuthorName = "ddc-gitops revert"
	}
	if o.AuthorEmail == "" {
		o.AuthorEmail = "revert@" + emailDomain
	}
	if len(o.Labels) == 0 {
		o.Labels = []string{"ddc-gitops", "revert"}
	}
	return o
}

// RevertProposal is what the API did about one quarantined revision: the
// answer of GET /api/v1/rollout/reverts lists them.
type RevertProposal struct {
	// Revision is the quarantined commit.
	Revision string `json:"revision"`
	Subject  string `json:"subject,omitempty"`
	// Author is the reverted commit's author, "Name <email>".
	Author string `json:"author,omitempty"`
	Branch string `json:"branch"`
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
	// Hosts are the hosts that quarantined the revision, with their gate's evidence.
	Hosts []RevertHost `json:"hosts"`
	// Base is the branch head the revert was computed on.
	Base string `json:"base,omitempty"`
	// Commit is the revert commit at the head of Branch.
	Commit string `json:"commit,omitempty"`
	// Files are the paths the revert restores; Conflicts those changed
	// again since the commit.
	Files       []string           `json:"files,omitempty"`
	Conflicts   []string           `json:"conflicts,omitempty"`
	PullRequest *forge.PullRequest `json:"pull_request,omitempty"`
	FirstSeen   time.Time          `json:"first_seen"`
	UpdatedAt   time.Time          `json:"updated_at"`

	fp      string    // the fingerprint the branch carries
	forgeAt time.Time // when the pull request was last read from the forge
}

// RevertHost is one host's quarantine of the revision.
type RevertHost struct {
	Host     string                  `json:"host"`
	Zone     string                  `json:"zone"`
	At       time.Time               `json:"at"`
	Reason   string                  `json:"reason"`
	Evidence []agentapi.GateEvidence `json:"evidence,omitempty"`
	// LastGood is the host's last good revision when it was read.
	LastGood string `json:"last_good,omitempty"`
}

// RevertList is the answer of GET /api/v1/rollout/reverts.
type RevertList struct {
	// Enabled says whether this API proposes reverts (Config.Reverts).
	Enabled bool             `json:"enabled"`
	Reverts []RevertProposal `json:"reverts"`
}

// reverter is what the proposer needs of the repository beyond Store;
// *repo.Repo implements it.
type reverter interface {
	CommitDiff(ctx context.Context, sha string) (*repo.CommitDiff, error)
	RemoteBranch(ctx context.Context, branch string) (*repo.BranchHead, error)
}

var _ reverter = (*repo.Repo)(nil)

// RevertProposer watches the agents' quarantined revisions and proposes a
// revert of each: a branch revert/<sha> whose head reverts the commit on
// the branch head, and, with a forge, a pull request. It is idempotent:
// one branch and pull request per revision, rebuilt only when the head or
// the evidence changes.
type RevertProposer struct {
	opts    RevertOptions
	branch  string // the fleet's branch
	agents  *Agents
	repo    Store
	rv      reverter
	forge   forge.Forge // nil: branches only
	log     *slog.Logger
	now     func() time.Time
	results *prometheus.CounterVec

	mu        sync.Mutex
	proposals map[string]*RevertProposal
	// cursor is the last revision a poll that could not handle them all
	// worked on: the next poll starts after it, so every one gets a turn.
	cursor string
}

// newRevertProposer returns a proposer; it fails when the repository
// cannot read commits (it is not a *repo.Repo).
func newRevertProposer(opts RevertOptions, branch string, agents *Agents, st Store, fg forge.Forge, reg prometheus.Registerer,
	log *slog.Logger, now func() time.Time) (*RevertProposer, error) {
	rv, ok := st.(reverter)
	if !ok {
		return nil, errors.New("api: revert proposals need a repository that can read commits (repo.Repo)")
	}
	p := &RevertProposer{opts: opts, branch: branch, agents: agents, repo: st, rv: rv, forge: fg, now: now,
		log: log.With("component", "revert-proposer"), proposals: map[string]*RevertProposal{},
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ddc_gitops_api_revert_proposals_total",
			Help: "Revert proposals of quarantined revisions by result: proposed (branch pushed), conflict, invalid, skipped, failed (each counted when a revision's result changes).",
		}, []string{"result"}),
	}
	if err := reg.Register(p.results); err != nil {
		return nil, fmt.Errorf("registering the revert metrics: %w", err)
	}
	return p, nil
}

// Run polls every Interval until ctx is cancelled.
func (p *RevertProposer) Run(ctx context.Context) error {
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		p.Poll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// List returns the proposals, newest first.
func (p *RevertProposer) List() []RevertProposal {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]RevertProposal, 0, len(p.proposals))
	for _, rp := range p.proposals {
		out = append(out, *rp)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].FirstSeen.Equal(out[j].FirstSeen) {
			return out[i].FirstSeen.After(out[j].FirstSeen)
		}
		return out[i].Revision < out[j].Revision
	})
	return out
}

// Poll reads every agent's quarantined revisions and brings each one's
// proposal up to date.
func (p *RevertProposer) Poll(ctx context.Context) {
	byRev := map[string][]RevertHost{}
	for _, as := range p.agents.Statuses(ctx, "") {
		if as.Err != nil || as.Status == nil {
			continue
		}
		for _, q := range as.Status.Quarantined {
			if !isFullHash(q.Revision) {
				p.log.Warn("ignoring a quarantined revision that is not a full commit hash", "host", as.Host, "revision", q.Revision)
				continue
			}
			byRev[q.Revision] = append(byRev[q.Revision], RevertHost{Host: as.Host, Zone: as.Zone, At: q.At.UTC(), Reason: q.Reason,
				Evidence: q.Evidence, LastGood: as.Status.LastGoodRevision})
		}
	}
	if len(byRev) == 0 {
		return
	}
	revs := make([]string, 0, len(byRev))
	for r := range byRev {
		revs = append(revs, r)
	}
	sort.Strings(revs)
	if len(revs) > maxRevertsPerPoll {
		p.mu.Lock()
		// Start after the last one handled, wrapping around.
		i, _ := slices.BinarySearch(revs, p.cursor)
		if i < len(revs) && revs[i] == p.cursor {
			i++
		}
		revs = slices.Concat(revs[i:], revs[:i])[:maxRevertsPerPoll]
		p.cursor = revs[len(revs)-1]
		p.mu.Unlock()
		p.log.Warn("more quarantined revisions than one poll handles: the rest wait for the next polls", "quarantined", len(byRev), "handled", maxRevertsPerPoll)
	}
	snap, err := p.repo.Head(ctx)
	if err != nil {
		p.log.Warn("reading the branch head for revert proposals", "err", err)
		return
	}
	for _, rev := range revs {
		hosts := byRev[rev]
		sort.Slice(hosts, func(i, j int) bool { return hosts[i].Host < hosts[j].Host })
		rp := p.propose(ctx, snap, rev, hosts)
		p.record(rp)
	}
}

// record stores rp, counts a changed result, and logs it.
func (p *RevertProposer) record(rp *RevertProposal) {
	p.mu.Lock()
	prev := p.proposals[rp.Revision]
	rp.FirstSeen = rp.UpdatedAt
	if prev != nil {
		rp.FirstSeen = prev.FirstSeen
	}
	p.proposals[rp.Revision] = rp
	for len(p.proposals) > maxRevertProposals { // forget the least recently updated
		var oldest *RevertProposal
		for _, x := range p.proposals {
			if oldest == nil || x.UpdatedAt.Before(oldest.UpdatedAt) {
				oldest = x
			}
		}
		delete(p.proposals, oldest.Revision)
	}
	p.mu.Unlock()
	changed := prev == nil || prev.State != rp.State || prev.Detail != rp.Detail
	hosts := make([]string, len(rp.Hosts))
	for i, h := range rp.Hosts {
		hosts[i] = h.Host
	}
	switch {
	case rp.State == RevertProposed:
		p.results.WithLabelValues(rp.State).Inc()
		pr := ""
		if rp.PullRequest != nil {
			pr = rp.PullRequest.URL
		}
		p.log.Info("proposed the revert of a quarantined revision", "revision", rp.Revision, "branch", rp.Branch, "commit", rp.Commit,
			"base", rp.Base, "hosts", hosts, "author", rp.Author, "pull_request", pr)
	case !changed || rp.State == RevertUpToDate:
	case rp.State == RevertNotInBranch || rp.State == RevertAlreadyReverted:
		p.log.Info("no revert to propose", "revision", rp.Revision, "state", rp.State, "detail", rp.Detail)
	default:
		p.results.WithLabelValues(rp.State).Inc()
		p.log.Warn("could not propose the revert of a quarantined revision", "revision", rp.Revision, "state", rp.State,
			"detail", rp.Detail, "conflicts", rp.Conflicts, "hosts", hosts)
	}
}

// propose brings the proposal of rev up to date on snap.
func (p *RevertProposer) propose(ctx context.Context, snap *repo.Snapshot, rev string, hosts []RevertHost) *RevertProposal {
	head := snap.Revision.Hash
	rp := &RevertProposal{Revision: rev, Branch: RevertBranchPrefix + rev, Hosts: hosts, Base: head, UpdatedAt: p.now().UTC()}
	fail := func(state string, err error) *RevertProposal {
		rp.State, rp.Detail = state, err.Error()
		return rp
	}
	in, err := p.repo.IsAncestor(ctx, rev, head)
	if err != nil {
		return fail(RevertFailed, fmt.Errorf("is %.12s in the branch: %w", rev, err))
	}
	if !in {
		rp.State, rp.Detail = RevertNotInBranch, fmt.Sprintf("commit %.12s is not in branch %s (head %.12s)", rev, p.branch, head)
		p.closeStale(ctx, rp, "The reverted commit is no longer in the branch: nothing to revert; closing.")
		return rp
	}
	cd, err := p.rv.CommitDiff(ctx, rev)
	if err != nil {
		return fail(RevertFailed, err)
	}
	rp.Subject, _, _ = strings.Cut(strings.TrimSpace(cd.Message), "\n")
	rp.Author = fmt.Sprintf("%s <%s>", cd.Author.Name, cd.Author.Email)
	if cd.Parent == "" {
		return fail(RevertInvalid, fmt.Errorf("commit %.12s is the branch's first commit: reverting it would empty the fleet", rev))
	}
	files, conflicts, err := revertFiles(snap.FS, cd)
	if err != nil {
		return fail(RevertFailed, err)
	}
	for _, f := range files {
		rp.Files = append(rp.Files, f.path)
	}
	if len(conflicts) > 0 {
		rp.Conflicts = conflicts
		rp.State = RevertConflict
		rp.Detail = fmt.Sprintf("changed again since %.12s: %s; revert it by hand", rev, strings.Join(conflicts, ", "))
		return rp
	}
	if len(files) == 0 {
		rp.State, rp.Detail = RevertAlreadyReverted, fmt.Sprintf("head %.12s already has every file as before %.12s", head, rev)
		p.closeStale(ctx, rp, "The branch already has every file as before the reverted commit: closing.")
		return rp
	}
	planText, err := revertPlan(snap.FS, files)
	if err != nil {
		var inv *invalidRevert
		if errors.As(err, &inv) {
			return fail(RevertInvalid, err)
		}
		return fail(RevertFailed, err)
	}
	fp := revertFingerprint(rev, files, hosts)
	rp.fp = fp
	msg := revertMessage{rev: rev, cd: cd, hosts: hosts, head: head, plan: planText, fp: fp}

	// An open pull request already proposing exactly this, read from the
	// forge recently, is not read again at every poll (rate limits).
	prev := p.previous(rev)
	quiet := p.forge != nil && prev != nil && prev.fp == fp && prev.Base == head && prev.PullRequest != nil &&
		prev.PullRequest.State == forge.StateOpen && (prev.State == RevertUpToDate || prev.State == RevertProposed) &&
		rp.UpdatedAt.Sub(prev.forgeAt) < forgeRecheck
	if p.forge != nil && !quiet {
		if skip, err := p.closedByPerson(ctx, rp); err != nil || skip {
			return rp
		}
	}
	bh, err := p.rv.RemoteBranch(ctx, rp.Branch)
	if err != nil {
		return fail(RevertFailed, err)
	}
	if bh != nil && (bh.Author.Email != p.opts.AuthorEmail || bh.Committer.Email != p.opts.AuthorEmail) {
		rp.Commit, rp.State = bh.Hash, RevertSkipped
		rp.Detail = fmt.Sprintf("branch %s has commit %.12s by %s <%s>: not force-pushing over a person's work", rp.Branch, bh.Hash, bh.Author.Name, bh.Author.Email)
		return rp
	}
	upToDate := bh != nil && bh.Parent == head && trailerValue(bh.Message, fingerprintTrailer) == fp
	if upToDate && quiet {
		rp.Commit, rp.State, rp.PullRequest, rp.forgeAt = bh.Hash, RevertUpToDate, prev.PullRequest, prev.forgeAt
		return rp
	}
	if quiet { // about to push: check the pull request first after all
		if skip, err := p.closedByPerson(ctx, rp); err != nil || skip {
			return rp
		}
	}
	if upToDate {
		rp.Commit, rp.State = bh.Hash, RevertUpToDate
	} else {
		cr, err := p.repo.Commit(ctx, repo.Change{
			Author:   object.Signature{Name: p.opts.AuthorName, Email: p.opts.AuthorEmail},
			Subject:  msg.subject(),
			Body:     msg.body(),
			Trailers: [][2]string{{"Reverts", rev}, {fingerprintTrailer, fp}},
			Edit:     revertEdit(files),
			Branch:   rp.Branch,
		})
		var verr *repo.ValidationError
		switch {
		case errors.As(err, &verr):
			return fail(RevertInvalid, err)
		case errors.Is(err, errHeadMoved):
			return fail(RevertFailed, fmt.Errorf("%w; retrying at the next poll", err))
		case err != nil:
			return fail(RevertFailed, fmt.Errorf("pushing %s: %w", rp.Branch, err))
		case !cr.Changed:
			rp.State, rp.Detail = RevertAlreadyReverted, "the revert changes nothing on the head"
			return rp
		}
		// When the head moved since the snapshot, the plan in the message
		// is the snapshot's; the next poll finds the branch on the new head
		// and refreshes the pull request's plan.
		rp.Commit, rp.Base, rp.State = cr.Revision, cr.Parent, RevertProposed
	}
	if p.forge != nil {
		pr, err := p.forge.EnsurePullRequest(ctx, forge.PR{Head: rp.Branch, Base: p.branch, Title: msg.title(), Body: msg.prBody(), Labels: p.opts.Labels})
		if err != nil {
			return fail(RevertFailed, fmt.Errorf("opening the pull request of %s: %w", rp.Branch, err))
		}
		rp.PullRequest, rp.forgeAt = pr, rp.UpdatedAt
	}
	return rp
}

// forgeRecheck is how often an unchanged open revert pull request is read
// from the forge again (to notice it was closed).
const forgeRecheck = 5 * time.Minute

// previous is the last proposal of rev, nil if none.
func (p *RevertProposer) previous(rev string) *RevertProposal {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.proposals[rev]
}

// closedByPerson reads the pull request of rp's branch: one closed without
// merging makes rp skipped (skip true), a forge error makes it failed.
func (p *RevertProposer) closedByPerson(ctx context.Context, rp *RevertProposal) (bool, error) {
	pr, err := p.forge.FindPullRequest(ctx, rp.Branch)
	if err != nil {
		rp.State, rp.Detail = RevertFailed, fmt.Sprintf("looking up the pull request of %s: %v", rp.Branch, err)
		return false, err
	}
	if pr != nil && pr.State == forge.StateClosed && !pr.Merged {
		rp.PullRequest, rp.State = pr, RevertSkipped
		rp.Detail = fmt.Sprintf("pull request #%d was closed without merging: not proposing it again (reopen it to have it updated)", pr.Number)
		return true, nil
	}
	return false, nil
}

// closeStale closes the open pull request of rp's branch, if any.
func (p *RevertProposer) closeStale(ctx context.Context, rp *RevertProposal, comment string) {
	if p.forge == nil {
		return
	}
	pr, err := p.forge.FindPullRequest(ctx, rp.Branch)
	if err != nil || pr == nil {
		if err != nil {
			p.log.Warn("looking up a stale revert pull request", "branch", rp.Branch, "err", err)
		}
		return
	}
	rp.PullRequest = pr
	if pr.State != forge.StateOpen {
		return
	}
	if err := p.forge.ClosePullRequest(ctx, pr.Number, comment); err != nil {
		p.log.Warn("closing a stale revert pull request", "number", pr.Number, "err", err)
		return
	}
	pr.State = forge.StateClosed
	p.log.Info("closed a stale revert pull request", "number", pr.Number, "branch", rp.Branch, "state", rp.State)
}

// getReverts serves GET /api/v1/rollout/reverts.
func (s *Server) getReverts(w http.ResponseWriter, _ *http.Request) error {
	out := RevertList{Reverts: []RevertProposal{}}
	if s.reverts != nil {
		out.Enabled, out.Reverts = true, s.reverts.List()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
