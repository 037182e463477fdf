// Package forge is what ddc-gitops needs from a git forge: pull requests for
// proposed changes (the API's PR mode, the node-admission bot), comments on
// them, and commit statuses that show which hosts applied a revision.
//
// Two implementations: GitHub (go-github, every write through one queue that
// honours GitHub's rate limits) and Plain (no forge at all: proposals are
// branches, recorded as JSON files in a state directory).
package forge

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Forge opens and tracks pull requests and reports commit statuses.
// Implementations are safe for concurrent use.
type Forge interface {
	// EnsurePullRequest opens a pull request from pr.Head into pr.Base, or
	// updates the title, body and labels of the open one that already
	// exists for pr.Head. It is idempotent.
	EnsurePullRequest(ctx context.Context, pr PR) (*PullRequest, error)
	// FindPullRequest returns the most recent pull request from branch
	// head, in any state (open, closed or merged); nil and no error when
	// there is none.
	FindPullRequest(ctx context.Context, head string) (*PullRequest, error)
	// ClosePullRequest closes pull request number without merging it,
	// after posting comment (when not empty).
	ClosePullRequest(ctx context.Context, number int, comment string) error
	// Comment posts body as a comment on pull request number.
	Comment(ctx context.Context, number int, body string) error
	// SetCommitStatus sets the status of commit sha for st.Context.
	SetCommitStatus(ctx context.Context, sha string, st Status) error
}

// PR is a pull request to open or update.
type PR struct {
	// Head is the branch with the proposed commits (in the same repository).
	Head string
	// Base is the branch the change is proposed for, e.g. main.
	Base   string
	Title  string
	Body   string
	Labels []string
}

// Pull request states.
const (
	StateOpen   = "open"
	StateClosed = "closed"
)

// PullRequest is a pull request as the forge reports it.
type PullRequest struct {
	Number int    `json:"number"`
	URL    string `json:"url"`
	// State is open or closed; a merged pull request is closed with Merged set.
	State  string `json:"state"`
	Merged bool   `json:"merged"`
	Head   string `json:"head"`
	Base   string `json:"base"`
	// HeadSHA is the commit at the tip of Head when the forge last saw it.
	HeadSHA string   `json:"headSha,omitempty"`
	Title   string   `json:"title"`
	Body    string   `json:"body,omitempty"`
	Labels  []string `json:"labels,omitempty"`
}

// Commit status states (GitHub's vocabulary).
const (
	StatusPending = "pending"
	StatusSuccess = "success"
	StatusFailure = "failure"
	StatusError   = "error"
)

// Status is one commit status.
type Status struct {
	// Context names the check, e.g. ddc-gitops/eu-haproxy-1.
	Context string
	// State is pending, success, failure or error.
	State string
	// Description is a short human-readable summary (GitHub keeps 140 characters).
	Description string
	// TargetURL links to details; optional.
	TargetURL string
}

// ErrInvalid wraps errors about invalid arguments, before any call is made.
var ErrInvalid = errors.New("invalid forge request")

// check validates a PR before it is sent anywhere.
func (pr PR) check() error {
	switch {
	case pr.Head == "" || pr.Base == "":
		return fmt.Errorf("%w: a pull request needs a head and a base branch", ErrInvalid)
	case pr.Head == pr.Base:
		return fmt.Errorf("%w: head and base are the same branch %q", ErrInvalid, pr.Head)
	case strings.TrimSpace(pr.Title) == "":
		return fmt.Errorf("%w: a pull request needs a title", ErrInvalid)
	}
	return nil
}

// check validates a status before it is sent anywhere.
func (st Status) check(sha string) error {
	if !isHexSHA(sha) {
		return fmt.Errorf("%w: commit status for %q: want a full 40-character commit hash", ErrInvalid, sha)
	}
	if st.Context == "" {
		return fmt.Errorf("%w: commit status for %s has no context", ErrInvalid, sha)
	}
	switch st.State {
	case StatusPending, StatusSuccess, StatusFailure, StatusError:
		return nil
	}
	return fmt.Errorf("%w: commit status state %q: want pending, success, failure or error", ErrInvalid, st.State)
}

func isHexSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// truncate shortens s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
