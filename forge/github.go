package forge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"

	"github.com/google/go-github/v60/github"
)

// GitHubOptions configure a GitHub forge.
type GitHubOptions struct {
	// Client is the go-github client to use. When nil, one is made with
	// Token (and BaseURL).
	Client *github.Client
	// Token authenticates a client made here (a PAT or an installation token).
	Token string
	// BaseURL overrides the REST API root, e.g. https://ghe.example/api/v3/
	// for GitHub Enterprise, or an httptest server's URL + "/api-v3/".
	BaseURL string
	// Owner and Repo name the repository holding the fleet.
	Owner, Repo string
	// Retry bounds the retries after rate limits and server errors.
	Retry  RetryPolicy
	Logger *slog.Logger
}

// GitHub is a Forge backed by the GitHub REST API. Every write (creating or
// editing a pull request, labels, comments, statuses) goes through one
// queue, one request at a time, as GitHub asks of integrations to avoid
// secondary rate limits; a rate-limited write holds the queue until GitHub's
// Retry-After has passed.
type GitHub struct {
	c           *github.Client
	owner, repo string
	q           *queue
	log         *slog.Logger
}

var _ Forge = (*GitHub)(nil)

// NewGitHub returns a GitHub forge for opts.Owner/opts.Repo.
func NewGitHub(opts GitHubOptions) (*GitHub, error) {
	if opts.Owner == "" || opts.Repo == "" {
		return nil, fmt.Errorf("github forge: owner and repository are required")
	}
	c := opts.Client
	if c == nil {
		c = github.NewClient(nil)
		if opts.Token != "" {
			c = c.WithAuthToken(opts.Token)
		}
	}
	if opts.BaseURL != "" {
		u, err := url.Parse(opts.BaseURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("github forge: base URL %q: want an absolute http(s) URL", opts.BaseURL)
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/" // go-github resolves relative paths against it
		}
		c.BaseURL = u
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	log := opts.Logger.With("component", "forge", "forge", "github", "repo", opts.Owner+"/"+opts.Repo)
	return &GitHub{c: c, owner: opts.Owner, repo: opts.Repo, q: newQueue(opts.Retry, log), log: log}, nil
}

// EnsurePullRequest implements Forge.
func (g *GitHub) EnsurePullRequest(ctx context.Context, pr PR) (*PullRequest, error) {
	if err := pr.check(); err != nil {
		return nil, err
	}
	open, err := g.list(ctx, pr.Head, StateOpen)
	if err != nil {
		return nil, err
	}
	var out *github.PullRequest
	if len(open) > 0 {
		cur := open[0]
		out = cur
		if cur.GetTitle() != pr.Title || cur.GetBody() != pr.Body {
			edit := &github.PullRequest{Title: github.String(pr.Title), Body: github.String(pr.Body)}
			err = g.q.write(ctx, fmt.Sprintf("updating pull request #%d", cur.GetNumber()), true, func(ctx context.Context) (*github.Response, error) {
				var resp *github.Response
				var err error
				out, resp, err = g.c.PullRequests.Edit(ctx, g.owner, g.repo, cur.GetNumber(), edit)
				return resp, err
			})
			if err != nil {
				return nil, err
			}
		}
	} else {
		np := &github.NewPullRequest{Title: github.String(pr.Title), Head: github.String(pr.Head), Base: github.String(pr.Base), Body: github.String(pr.Body)}
		// Not retried after a server error: the pull request may exist
		// then, and the next EnsurePullRequest finds it.
		err = g.q.write(ctx, fmt.Sprintf("opening a pull request from %s into %s", pr.Head, pr.Base), false, func(ctx context.Context) (*github.Response, error) {
			var resp *github.Response
			var err error
			out, resp, err = g.c.PullRequests.Create(ctx, g.owner, g.repo, np)
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		g.log.Info("opened pull request", "number", out.GetNumber(), "head", pr.Head, "base", pr.Base)
	}
	res := fromGitHub(out)
	if missing := missingLabels(res.Labels, pr.Labels); len(missing) > 0 {
		var labels []*github.Label
		err := g.q.write(ctx, fmt.Sprintf("labelling pull request #%d", res.Number), true, func(ctx context.Context) (*github.Response, error) {
			var resp *github.Response
			var err error
			labels, resp, err = g.c.Issues.AddLabelsToIssue(ctx, g.owner, g.repo, res.Number, missing)
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		res.Labels = res.Labels[:0]
		for _, l := range labels {
			res.Labels = append(res.Labels, l.GetName())
		}
	}
	return res, nil
}

// FindPullRequest implements Forge.
func (g *GitHub) FindPullRequest(ctx context.Context, head string) (*PullRequest, error) {
	if head == "" {
		return nil, fmt.Errorf("%w: finding a pull request needs a head branch", ErrInvalid)
	}
	prs, err := g.list(ctx, head, "all")
	if err != nil || len(prs) == 0 {
		return nil, err
	}
	return fromGitHub(prs[0]), nil
}

// list lists the pull requests from head in state, newest first. GitHub
// needs "OWNER:BRANCH": a bare branch name is ignored and lists every PR.
func (g *GitHub) list(ctx context.Context, head, state string) ([]*github.PullRequest, error) {
	opts := &github.PullRequestListOptions{
		Head: g.owner + ":" + head, State: state, Sort: "created", Direction: "desc",
		ListOptions: github.ListOptions{PerPage: 10},
	}
	var prs []*github.PullRequest
	err := g.q.read(ctx, fmt.Sprintf("listing pull requests from %s", head), func(ctx context.Context) (*github.Response, error) {
		var resp *github.Response
		var err error
		prs, resp, err = g.c.PullRequests.List(ctx, g.owner, g.repo, opts)
		return resp, err
	})
	// Defence against a server that ignores the filter: keep exact heads only.
	prs = slices.DeleteFunc(prs, func(p *github.PullRequest) bool { return p.GetHead().GetRef() != head })
	return prs, err
}

// ClosePullRequest implements Forge.
func (g *GitHub) ClosePullRequest(ctx context.Context, number int, comment string) error {
	if comment != "" {
		if err := g.Comment(ctx, number, comment); err != nil {
			return err
		}
	}
	return g.q.write(ctx, fmt.Sprintf("closing pull request #%d", number), true, func(ctx context.Context) (*github.Response, error) {
		_, resp, err := g.c.PullRequests.Edit(ctx, g.owner, g.repo, number, &github.PullRequest{State: github.String(StateClosed)})
		return resp, err
	})
}

// Comment implements Forge.
func (g *GitHub) Comment(ctx context.Context, number int, body string) error {
	if strings.TrimSpace(body) == "" {
		return fmt.Errorf("%w: empty comment on #%d", ErrInvalid, number)
	}
	// Not retried after a server error: it may have been posted.
	return g.q.write(ctx, fmt.Sprintf("commenting on #%d", number), false, func(ctx context.Context) (*github.Response, error) {
		_, resp, err := g.c.Issues.CreateComment(ctx, g.owner, g.repo, number, &github.IssueComment{Body: github.String(body)})
		return resp, err
	})
}

// SetCommitStatus implements Forge.
func (g *GitHub) SetCommitStatus(ctx context.Context, sha string, st Status) error {
	if err := st.check(sha); err != nil {
		return err
	}
	rs := &github.RepoStatus{
		State:       github.String(st.State),
		Context:     github.String(st.Context),
		Description: github.String(truncate(st.Description, 140)),
	}
	if st.TargetURL != "" {
		rs.TargetURL = github.String(st.TargetURL)
	}
	return g.q.write(ctx, fmt.Sprintf("setting status %s of %s to %s", st.Context, sha[:12], st.State), true, func(ctx context.Context) (*github.Response, error) {
		_, resp, err := g.c.Repositories.CreateStatus(ctx, g.owner, g.repo, sha, rs)
		return resp, err
	})
}

func fromGitHub(p *github.PullRequest) *PullRequest {
	out := &PullRequest{
		Number:  p.GetNumber(),
		URL:     p.GetHTMLURL(),
		State:   p.GetState(),
		Merged:  p.GetMerged() || p.MergedAt != nil,
		Head:    p.GetHead().GetRef(),
		Base:    p.GetBase().GetRef(),
		HeadSHA: p.GetHead().GetSHA(),
		Title:   p.GetTitle(),
		Body:    p.GetBody(),
	}
	for _, l := range p.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	return out
}

func missingLabels(have, want []string) []string {
	var out []string
	for _, l := range want {
		if !slices.Contains(have, l) && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// statusOf returns the HTTP status of a go-github error, 0 when unknown.
func statusOf(resp *github.Response, err error) int {
	if resp != nil && resp.Response != nil {
		return resp.StatusCode
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// header returns a response header of a go-github error or response.
func header(resp *github.Response, err error, key string) string {
	if resp != nil && resp.Response != nil {
		return resp.Header.Get(key)
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.Header.Get(key)
	}
	return ""
}
