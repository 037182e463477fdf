package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/forge"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

// mutation is one change requested through the API.
type mutation struct {
	// zone is the zone the change is for: its agents are the ones that
	// must apply it.
	zone    string
	subject string
	// commitBody is optional text between the subject and the trailers.
	commitBody string
	// body is the raw request body, part of the idempotency fingerprint.
	body []byte
	// edit applies the change; it may run several times (once per push
	// attempt), each time on the current branch head.
	edit func(t *repo.Tree) error
	// extra fields for the success response; edit may fill them in.
	extra map[string]any
	// afterApplied, when set, extends ?wait=applied: once the zone's
	// agents applied the revision, it is polled until it reports done;
	// its report is the response's "serving".
	afterApplied func(ctx context.Context, rev string) (report any, done bool)
}

// mutate turns m into one commit (or pull request) and writes the
// response: 202 with the new revision, 200 when nothing changed, 4xx when
// the change is refused (nothing is committed then).
func (s *Server) mutate(w http.ResponseWriter, r *http.Request, m mutation) error {
	p := principalOf(r.Context())
	endpoint := r.Method + " " + r.URL.Path
	ifMatch, err := parseIfMatch(r.Header.Get("If-Match"))
	if err != nil {
		return err
	}
	if s.cfg.Strict && ifMatch == "" {
		return apiErr(http.StatusPreconditionRequired, CodePreconditionNeeded, "this server requires If-Match on changes: send the revision you read (the ETag of a GET) as If-Match")
	}
	wait, err := s.parseWait(r)
	if err != nil {
		return err
	}
	key := r.Header.Get(IdempotencyHeader)
	var slot *idemEntry
	if key != "" {
		if !validIdemKey(key) {
			return fieldErr(IdempotencyHeader+" (header)", "want 1 to 255 printable ASCII characters without spaces")
		}
		replay, reserved, err := s.idem.begin(p.User+"\x00"+key, fingerprint(r.Method, r.URL.Path, m.zone, string(m.body)))
		if err != nil {
			return err
		}
		if replay != nil {
			replay.replay(w)
			return nil
		}
		slot = reserved
		defer s.idem.abandon(slot) // no-op once completed
	}

	trailers := [][2]string{{"Request-Id", requestID(r.Context())}, {"Api-Endpoint", endpoint}}
	if key != "" {
		trailers = append(trailers, [2]string{"Idempotency-Key", key})
	}
	if em, err := emergency(r, p); err != nil {
		return err
	} else if em {
		trailers = append(trailers, [2]string{desired.EmergencyTrailer, "yes"})
	}
	ch := repo.Change{
		Author:   object.Signature{Name: p.User, Email: p.User + "@" + s.cfg.AuthorEmailDomain},
		Subject:  m.subject,
		Body:     m.commitBody,
		Trailers: trailers,
		Edit:     m.edit,
		IfMatch:  ifMatch,
	}
	proposal := s.proposes(r, p)
	if proposal {
		ch.Branch = fmt.Sprintf("api/%s/%s", p.User, randomHex(4))
	}
	start := time.Now()
	res, err := s.repo.Commit(r.Context(), ch)
	s.metrics.commitDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		return s.commitError(err)
	}

	out := map[string]any{}
	for k, v := range m.extra {
		out[k] = v
	}
	out["revision"], out["changed"] = res.Revision, res.Changed
	status, etag := http.StatusAccepted, ""
	switch {
	case !res.Changed:
		s.metrics.commits.WithLabelValues(resultUnchanged).Inc()
		status, etag = http.StatusOK, `"`+res.Revision+`"`
		out["note"] = "the desired state already was like this: nothing was committed"
	case proposal:
		s.metrics.commits.WithLabelValues(resultProposed).Inc()
		pr, err := s.forge.EnsurePullRequest(r.Context(), forge.PR{Head: ch.Branch, Base: s.cfg.Branch, Title: m.subject, Labels: s.cfg.PR.Labels,
			Body: fmt.Sprintf("Proposed through the ddc-gitops API by %s.\n\n%s\n\nRequest-Id: %s\nApi-Endpoint: %s\n", p.User, m.subject, requestID(r.Context()), endpoint)})
		if err != nil {
			return &APIError{Status: http.StatusBadGateway, Code: CodeUnavailable, Err: err,
				Message: fmt.Sprintf("the change was pushed to branch %s but opening its pull request failed; retry, or open it by hand", ch.Branch)}
		}
		out["branch"], out["pull_request_url"], out["pull_request_number"] = ch.Branch, pr.URL, pr.Number
	default:
		s.metrics.commits.WithLabelValues(resultCommitted).Inc()
		etag = `"` + res.Revision + `"`
		out["parent"], out["files"] = res.Parent, res.Touched
		out["status_url"] = statusURL(res.Revision, m.zone)
		s.afterCommit(res.Revision, m.zone)
		if wait > 0 {
			waitStart := time.Now()
			ro, err := s.waitApplied(r.Context(), res.Revision, m.zone, wait)
			if err != nil {
				return err
			}
			out["rollout"] = ro
			if ro.State == RolloutApplied && m.afterApplied != nil {
				var done bool
				out["serving"], done = s.waitAfterApplied(r.Context(), res.Revision, max(wait-time.Since(waitStart), 0), m.afterApplied)
				if !done {
					ro.State, ro.TimedOut = RolloutPending, true
				}
			}
			if ro.State == RolloutApplied {
				status = http.StatusOK
			}
		}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the response: %w", err)
	}
	b = append(b, '\n')
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	if slot != nil {
		s.idem.complete(slot, status, etag, b)
	}
	return nil
}

// commitError maps repo's errors to API errors.
func (s *Server) commitError(err error) error {
	var ve *repo.ValidationError
	var ae *APIError
	switch {
	case errors.As(err, &ae):
		s.metrics.commits.WithLabelValues(resultRejected).Inc()
		return ae
	case errors.As(err, &ve):
		s.metrics.commits.WithLabelValues(resultRejected).Inc()
		s.metrics.validationFailures.Inc()
		return validationErr(ve.Errs)
	case errors.Is(err, repo.ErrConflict):
		s.metrics.commits.WithLabelValues(resultRejected).Inc()
		s.metrics.conflicts.Inc()
		return &APIError{Status: http.StatusPreconditionFailed, Code: CodePreconditionFailed, Err: err,
			Message: "the branch moved since the If-Match revision and the change touches what moved; read again and retry: " + strings.TrimPrefix(err.Error(), repo.ErrConflict.Error()+": ")}
	case errors.Is(err, repo.ErrUnknownRevision):
		s.metrics.commits.WithLabelValues(resultRejected).Inc()
		return &APIError{Status: http.StatusPreconditionFailed, Code: CodeUnknownRevision, Err: err, Message: "If-Match names a revision the repository does not have"}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		s.metrics.commits.WithLabelValues(resultFailed).Inc()
		return &APIError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Err: err, Message: "the request ended before the change was committed; it may or may not have landed: read the branch or retry with the same Idempotency-Key"}
	}
	s.metrics.commits.WithLabelValues(resultFailed).Inc()
	return &APIError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Err: err, Message: "committing the change failed (git remote unreachable?); nothing was committed"}
}

// parseIfMatch accepts a revision as sent in If-Match: a quoted entity tag
// (as ETag gives it) or a bare hash.
func parseIfMatch(h string) (string, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return "", nil
	}
	v := strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	if len(v) != 40 || strings.Trim(v, "0123456789abcdef") != "" {
		return "", fieldErr("If-Match (header)", "%q: want a full commit hash (the ETag of a GET)", h)
	}
	return v, nil
}

// parseWait reads ?wait=applied&timeout=30s; 0 means do not wait.
func (s *Server) parseWait(r *http.Request) (time.Duration, error) {
	q := r.URL.Query()
	switch q.Get("wait") {
	case "":
		if q.Get("timeout") != "" {
			return 0, fieldErr("timeout (query)", "only meaningful with wait=applied")
		}
		return 0, nil
	case "applied":
	default:
		return 0, fieldErr("wait (query)", "%q: the only value is applied", q.Get("wait"))
	}
	d := 30 * time.Second
	if t := q.Get("timeout"); t != "" {
		var err error
		if d, err = time.ParseDuration(t); err != nil || d <= 0 {
			return 0, fieldErr("timeout (query)", "%q: want a duration such as 30s", t)
		}
		if d > s.cfg.WaitMax {
			return 0, fieldErr("timeout (query)", "%s: at most %s (the API's limit on holding a request open)", t, s.cfg.WaitMax)
		}
	}
	return min(d, s.cfg.WaitMax), nil
}

// proposes reports whether the request goes to a pull request.
func (s *Server) proposes(r *http.Request, p *principal) bool {
	if slices.Contains(s.cfg.PR.Roles, p.Role) {
		return true
	}
	route := r.Method + " " + strings.Replace(routePattern(r), "/zones/{zone}", "", 1)
	return slices.Contains(s.cfg.PR.Routes, route)
}

func statusURL(rev, zone string) string {
	u := "/api/v1/revisions/" + rev
	if zone != "" {
		u += "?zone=" + zone
	}
	return u
}

// afterCommit starts tracking a new revision and nudges the zone's agents.
func (s *Server) afterCommit(rev, zone string) {
	if s.reporter != nil {
		s.reporter.Track(rev, zone)
	}
	if s.cfg.NoSyncOnCommit || len(s.agents.Hosts(zone)) == 0 {
		return
	}
	s.background(2*s.cfg.AgentTimeout, func(ctx context.Context) {
		if err := s.agents.Sync(ctx, zone, "api commit "+rev[:12]); err != nil {
			s.log.Warn("asking agents to sync after a commit", "revision", rev, "zone", zone, "err", err)
		}
	})
}
