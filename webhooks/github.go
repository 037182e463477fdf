package webhooks

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// GitHubOptions configure the GitHub receiver.
type GitHubOptions struct {
	// Secret is the webhook secret; required: with an empty secret
	// go-github's ValidatePayload checks nothing.
	Secret string
	// Branch is the fleet's branch; pushes to other branches are ignored
	// (default main).
	Branch string
	// Paths, when set, are the path prefixes of the fleet inside the
	// repository (e.g. "fleet/"): a push that changes no file under them is
	// ignored. A push whose file list GitHub truncated or left out always syncs.
	Paths []string
	// Notifier is told to sync.
	Notifier Notifier
	// Timeout bounds one background fan-out (default 30s).
	Timeout time.Duration
	// MaxBody bounds the payload (default DefaultMaxBody, 5 MiB).
	MaxBody int64
	// DedupSize is how many delivery ids are remembered (default 4096).
	DedupSize int
	Logger    *slog.Logger
}

// GitHub receives GitHub webhooks. Mount it on POST; it is an http.Handler.
type GitHub struct {
	*common
	secret []byte
	branch string
	paths  []string
}

// NewGitHub returns a GitHub receiver. Call Close when done with it.
func NewGitHub(opts GitHubOptions) (*GitHub, error) {
	if opts.Secret == "" {
		return nil, errors.New("github webhook receiver: a secret is required (without one, any request would be accepted)")
	}
	if opts.Branch == "" {
		opts.Branch = "main"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := newCommon(opts.Notifier, opts.Timeout, opts.MaxBody, opts.DedupSize, opts.Logger.With("component", "webhook", "forge", "github"))
	if err != nil {
		return nil, fmt.Errorf("github webhook receiver: %w", err)
	}
	return &GitHub{common: c, secret: []byte(opts.Secret), branch: opts.Branch, paths: opts.Paths}, nil
}

// ServeHTTP verifies and handles one delivery.
func (h *GitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, code, err := h.readSigned(w, r, github.SHA256SignatureHeader, h.secret)
	if err != nil {
		h.fail(w, r, code, err)
		return
	}
	sig := r.Header.Get(github.SHA256SignatureHeader)
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		h.fail(w, r, http.StatusUnsupportedMediaType, fmt.Errorf("content type: %w", err))
		return
	}
	payload, err := github.ValidatePayloadFromBody(ct, bytes.NewReader(body), sig, h.secret)
	if err != nil {
		h.fail(w, r, http.StatusUnauthorized, fmt.Errorf("signature: %w", err))
		return
	}
	event, delivery := github.WebHookType(r), github.DeliveryID(r)
	log := h.log.With("event", event, "delivery", delivery)
	if delivery != "" && h.dedup.seen(delivery) {
		log.Info("duplicate delivery dropped")
		reply(w, http.StatusOK, Reply{Status: StatusDuplicate, Delivery: delivery})
		return
	}
	if event == "ping" {
		reply(w, http.StatusOK, Reply{Status: StatusPong, Delivery: delivery})
		return
	}
	reason, ignore, err := h.decide(event, payload)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if ignore != "" {
		log.Debug("delivery ignored", "why", ignore)
		reply(w, http.StatusOK, Reply{Status: StatusIgnored, Reason: ignore, Delivery: delivery})
		return
	}
	log.Info("branch changed, syncing agents", "reason", reason)
	h.trigger(reason + " (delivery " + delivery + ")")
	reply(w, http.StatusAccepted, Reply{Status: StatusAccepted, Reason: reason, Delivery: delivery})
}

// decide returns why to sync, or why the event is ignored.
func (h *GitHub) decide(event string, payload []byte) (reason, ignore string, err error) {
	switch event {
	case "push", "pull_request":
	default:
		return "", fmt.Sprintf("event %q does not change the branch", event), nil
	}
	ev, err := github.ParseWebHook(event, payload)
	if err != nil {
		return "", "", fmt.Errorf("decoding %s payload: %w", event, err)
	}
	switch e := ev.(type) {
	case *github.PushEvent:
		if ref := e.GetRef(); ref != "refs/heads/"+h.branch {
			return "", fmt.Sprintf("push to %s, not refs/heads/%s", ref, h.branch), nil
		}
		if e.GetDeleted() {
			return "", "push deleted the branch", nil
		}
		if !h.touchesFleet(e) {
			return "", fmt.Sprintf("push changes no file under %s", strings.Join(h.paths, ", ")), nil
		}
		return fmt.Sprintf("github push %s by %s", short(e.GetAfter()), e.GetPusher().GetName()), "", nil
	case *github.PullRequestEvent:
		pr := e.GetPullRequest()
		switch {
		case e.GetAction() != "closed":
			return "", fmt.Sprintf("pull request %s, not closed", e.GetAction()), nil
		case !pr.GetMerged():
			return "", "pull request closed without merging", nil
		case pr.GetBase().GetRef() != h.branch:
			return "", fmt.Sprintf("pull request merged into %s, not %s", pr.GetBase().GetRef(), h.branch), nil
		}
		return fmt.Sprintf("github pull request #%d merged as %s", pr.GetNumber(), short(pr.GetMergeCommitSHA())), "", nil
	}
	return "", fmt.Sprintf("event %q not handled", event), nil
}

// touchesFleet reports whether a push changes a file under the fleet paths.
// GitHub lists at most 20 commits (and 3000 files) in a push payload; a
// payload without commits (a force push, a large push) cannot be judged and
// counts as touching.
func (h *GitHub) touchesFleet(e *github.PushEvent) bool {
	if len(h.paths) == 0 || len(e.Commits) == 0 || len(e.Commits) >= 20 {
		return true
	}
	for _, c := range e.Commits {
		for _, files := range [][]string{c.Added, c.Removed, c.Modified} {
			for _, f := range files {
				for _, p := range h.paths {
					if strings.HasPrefix(f, p) {
						return true
					}
				}
			}
		}
	}
	return false
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
