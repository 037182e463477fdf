package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-github/v60/github"

	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/webhooks"
)

// maxPushCommits is how many commits GitHub lists in a push payload.
const maxPushCommits = 20

// pushHooks delivers the lab git server's pushes as GitHub push webhooks,
// the way GitHub would: one signed POST (X-Hub-Signature-256) per ref
// update, asynchronously and in push order, to the API's receiver, which
// asks every agent to sync.
type pushHooks struct {
	url, secret string
	repoPath    string // the bare repository, read for the commit lists
	repoURL     string
	client      *http.Client
	log         *slog.Logger
	queue       chan gitserver.RefUpdate
	seq         int
	off         atomic.Bool // Control.SetWebhooks(false): measure polling alone
}

// newWebhooks returns a sender; url, repoPath and repoURL are set before Run.
func newWebhooks(secret string, log *slog.Logger) *pushHooks {
	return &pushHooks{secret: secret, log: log.With("component", "webhook-sender"),
		client: &http.Client{Timeout: 10 * time.Second}, queue: make(chan gitserver.RefUpdate, 256)}
}

// push queues one ref update; it is gitserver.Options.OnPush. A full queue
// drops the delivery (the agents' polling catches up), as a forge would
// after its retries.
func (w *pushHooks) push(u gitserver.RefUpdate) {
	if w.off.Load() {
		w.log.Debug("webhooks off; push not delivered", "ref", u.Ref, "after", u.After)
		return
	}
	select {
	case w.queue <- u:
	default:
		w.log.Warn("webhook queue full; delivery dropped", "ref", u.Ref, "after", u.After)
	}
}

// Run delivers queued updates until ctx is done.
func (w *pushHooks) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case u := <-w.queue:
			w.seq++
			if err := w.deliver(ctx, u, fmt.Sprintf("lab-%d-%d", time.Now().UnixNano(), w.seq)); err != nil {
				w.log.Warn("webhook delivery failed (agents catch up at their next poll)", "ref", u.Ref, "after", u.After, "err", err)
			}
		}
	}
}

// deliver POSTs one push event, retrying twice on a transport error or a
// 5xx answer.
func (w *pushHooks) deliver(ctx context.Context, u gitserver.RefUpdate, delivery string) error {
	body, err := json.Marshal(w.event(u))
	if err != nil {
		return fmt.Errorf("encoding the push event: %w", err)
	}
	sig := webhooks.Sign([]byte(w.secret), body) // GitHub's X-Hub-Signature-256 has the same form
	var last error
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("building the delivery: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "GitHub-Hookshot/ddc-gitops-lab")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", delivery)
		req.Header.Set(github.SHA256SignatureHeader, sig)
		resp, err := w.client.Do(req)
		if err != nil {
			last = err
			continue
		}
		reply, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			last = fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(reply))
			continue
		}
		if resp.StatusCode >= 300 {
			return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(reply))
		}
		w.log.Debug("webhook delivered", "ref", u.Ref, "after", u.After, "status", resp.StatusCode, "reply", string(bytes.TrimSpace(reply)))
		return nil
	}
	return last
}

// event builds the push payload GitHub sends for u: ref, before and after
// (zeros for a created or deleted ref), the repository, and up to 20
// commits with the files each added, modified and removed (what a
// receiver's path filter reads).
func (w *pushHooks) event(u gitserver.RefUpdate) *github.PushEvent {
	zero := strings.Repeat("0", 40)
	e := &github.PushEvent{
		Ref:     github.String(u.Ref),
		Before:  github.String(cmpOr(u.Before, zero)),
		After:   github.String(cmpOr(u.After, zero)),
		Created: github.Bool(u.Before == ""),
		Deleted: github.Bool(u.After == ""),
		Repo: &github.PushEventRepository{Name: github.String("fleet"), FullName: github.String("lab/fleet"),
			CloneURL: github.String(w.repoURL), DefaultBranch: github.String("main")},
		Pusher: &github.CommitAuthor{Name: github.String("lab")},
	}
	if u.After == "" {
		return e
	}
	commits, forced, err := w.commits(u.Before, u.After)
	if err != nil {
		w.log.Warn("listing the pushed commits; the payload has none (receivers then always sync)", "err", err)
		return e
	}
	e.Forced = github.Bool(forced)
	e.Commits = commits
	if len(commits) > 0 {
		e.HeadCommit = commits[len(commits)-1]
	}
	return e
}

// commits lists the commits reachable from after and not from before,
// oldest first (at most maxPushCommits, the newest), and whether before is
// not an ancestor of after (a forced push).
func (w *pushHooks) commits(before, after string) ([]*github.HeadCommit, bool, error) {
	r, err := git.PlainOpen(w.repoPath)
	if err != nil {
		return nil, false, err
	}
	head, err := r.CommitObject(plumbing.NewHash(after))
	if err != nil {
		return nil, false, err
	}
	forced := false
	if before != "" {
		b, err := r.CommitObject(plumbing.NewHash(before))
		if err != nil {
			return nil, false, err
		}
		ok, err := b.IsAncestor(head)
		if err != nil {
			return nil, false, err
		}
		forced = !ok
	}
	var out []*github.HeadCommit
	for c := head; len(out) < maxPushCommits && c.Hash.String() != before; {
		hc, err := headCommit(c)
		if err != nil {
			return nil, false, err
		}
		out = append(out, hc)
		if c.NumParents() == 0 {
			break
		}
		if c, err = c.Parent(0); err != nil {
			return nil, false, err
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, forced, nil
}

// headCommit describes c with the files it changed against its first parent.
func headCommit(c *object.Commit) (*github.HeadCommit, error) {
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	var parentTree *object.Tree
	if c.NumParents() > 0 {
		p, err := c.Parent(0)
		if err != nil {
			return nil, err
		}
		if parentTree, err = p.Tree(); err != nil {
			return nil, err
		}
	}
	changes, err := object.DiffTree(parentTree, tree)
	if err != nil {
		return nil, err
	}
	hc := &github.HeadCommit{ID: github.String(c.Hash.String()), Message: github.String(c.Message),
		Timestamp: &github.Timestamp{Time: c.Committer.When},
		Author:    &github.CommitAuthor{Name: github.String(c.Author.Name), Email: github.String(c.Author.Email)}}
	for _, ch := range changes {
		switch {
		case ch.From.Name == "":
			hc.Added = append(hc.Added, ch.To.Name)
		case ch.To.Name == "":
			hc.Removed = append(hc.Removed, ch.From.Name)
		default:
			hc.Modified = append(hc.Modified, ch.To.Name)
		}
	}
	return hc, nil
}

// SetWebhooks turns the git server's push webhooks on or off (on by
// default); with them off, agents notice pushes at their next poll only.
func (c *Control) SetWebhooks(on bool) { c.l.hooks.off.Store(!on) }
