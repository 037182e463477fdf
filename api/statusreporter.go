package api

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/ddc-gitops/ddc-gitops/forge"
)

// StatusContext is the roll-up commit status; each host's status is
// StatusContext + "/" + host.
const StatusContext = "ddc-gitops"

// StatusReporterOptions configure a StatusReporter.
type StatusReporterOptions struct {
	Forge  forge.Forge
	Agents *Agents
	Repo   Store
	// Interval is the polling period (default 10s).
	Interval time.Duration
	// Window is how long a revision is followed before whatever has not
	// applied it is reported as an error (default 30m).
	Window time.Duration
	// PublicURL, when set, links each status to the revision's rollout.
	PublicURL string
	// MaxTracked bounds the revisions followed at once (default 50; the
	// oldest is dropped).
	MaxTracked int
	Logger     *slog.Logger
	Now        func() time.Time
}

// StatusReporter sets commit statuses on the forge as agents apply
// revisions: one per host (ddc-gitops/<host>: pending, then success or
// failure) and a roll-up (ddc-gitops). It follows the revisions the API
// commits (Track) and the branch head it sees at each poll (so merged pull
// requests and direct pushes are reported too). A status is sent only when
// it changes.
type StatusReporter struct {
	opts StatusReporterOptions
	log  *slog.Logger

	mu      sync.Mutex
	tracked map[string]*trackedRev
	lastRev string // the branch head seen at the last poll
}

type trackedRev struct {
	rev   string
	zone  string // "" = every agent
	since time.Time
	sent  map[string]forge.Status // context -> last status sent
}

// NewStatusReporter returns a reporter; call Run.
func NewStatusReporter(opts StatusReporterOptions) *StatusReporter {
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Second
	}
	if opts.Window <= 0 {
		opts.Window = 30 * time.Minute
	}
	if opts.MaxTracked <= 0 {
		opts.MaxTracked = 50
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &StatusReporter{opts: opts, log: opts.Logger.With("component", "status-reporter"), tracked: map[string]*trackedRev{}}
}

// Track follows rev, targeting the agents of zone ("" for all).
func (s *StatusReporter) Track(rev, zone string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tracked[rev]; ok {
		t.zone = zone
		return
	}
	if len(s.tracked) >= s.opts.MaxTracked {
		var oldest *trackedRev
		for _, t := range s.tracked {
			if oldest == nil || t.since.Before(oldest.since) {
				oldest = t
			}
		}
		delete(s.tracked, oldest.rev)
	}
	s.tracked[rev] = &trackedRev{rev: rev, zone: zone, since: s.opts.Now(), sent: map[string]forge.Status{}}
}

// Run polls until ctx is cancelled.
func (s *StatusReporter) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		s.Poll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Poll does one round: notice a new branch head, read every agent once,
// and send the statuses that changed. Run calls it; it must not run twice
// at once.
func (s *StatusReporter) Poll(ctx context.Context) {
	if snap, err := s.opts.Repo.Head(ctx); err != nil {
		s.log.Warn("reading the branch head", "err", err)
	} else if rev := snap.Revision.Hash; rev != s.lastRev {
		s.lastRev = rev
		s.mu.Lock()
		_, known := s.tracked[rev]
		s.mu.Unlock()
		if !known {
			s.Track(rev, "")
		}
	}
	type item struct {
		t    *trackedRev
		zone string // copied: Track may change it meanwhile
	}
	s.mu.Lock()
	items := make([]item, 0, len(s.tracked))
	for _, t := range s.tracked {
		items = append(items, item{t, t.zone})
	}
	s.mu.Unlock()
	if len(items) == 0 {
		return
	}
	sort.Slice(items, func(i, j int) bool { return items[i].t.since.Before(items[j].t.since) })
	all := s.opts.Agents.Statuses(ctx, "")
	for _, it := range items {
		t := it.t
		var statuses []AgentStatus
		for _, as := range all {
			if it.zone == "" || as.Zone == it.zone {
				statuses = append(statuses, as)
			}
		}
		ro := rollout(ctx, s.opts.Repo, t.rev, it.zone, statuses)
		expired := s.opts.Now().Sub(t.since) > s.opts.Window
		done := s.report(ctx, t, it.zone, ro, expired)
		if done || expired {
			s.mu.Lock()
			delete(s.tracked, t.rev)
			s.mu.Unlock()
		}
	}
}

// report sends the statuses of one revision that changed; it returns
// whether the rollout is over (every host applied, or one failed, and the
// statuses for it were sent).
func (s *StatusReporter) report(ctx context.Context, t *trackedRev, zone string, ro *Rollout, expired bool) bool {
	target := ""
	if s.opts.PublicURL != "" {
		target = s.opts.PublicURL + statusURL(t.rev, zone)
	}
	want := map[string]forge.Status{}
	applied := 0
	for _, h := range ro.Hosts {
		st := forge.Status{Context: StatusContext + "/" + h.Host, TargetURL: target}
		switch h.State {
		case HostApplied:
			applied++
			st.State, st.Description = forge.StatusSuccess, "applied on "+h.Host
		case HostFailed:
			st.State, st.Description = forge.StatusFailure, fmt.Sprintf("%s: %s", h.LastResult, h.LastError)
		default:
			st.State, st.Description = forge.StatusPending, "waiting for "+h.Host+" to apply it"
			if expired {
				st.State, st.Description = forge.StatusError, fmt.Sprintf("not applied on %s within %s", h.Host, s.opts.Window)
			}
		}
		want[st.Context] = st
	}
	roll := forge.Status{Context: StatusContext, TargetURL: target}
	switch ro.State {
	case RolloutApplied:
		roll.State, roll.Description = forge.StatusSuccess, fmt.Sprintf("applied on all %d host(s)", applied)
	case RolloutFailed:
		roll.State, roll.Description = forge.StatusFailure, fmt.Sprintf("failed on %d host(s); %d of %d applied", len(ro.NotApplied), applied, len(ro.Hosts))
	case RolloutNoAgents:
		roll.State, roll.Description = forge.StatusSuccess, "no agent is registered for this revision's hosts"
	default:
		roll.State, roll.Description = forge.StatusPending, fmt.Sprintf("%d of %d host(s) applied", applied, len(ro.Hosts))
		if expired {
			roll.State, roll.Description = forge.StatusError, fmt.Sprintf("%d of %d host(s) applied within %s", applied, len(ro.Hosts), s.opts.Window)
		}
	}
	want[roll.Context] = roll
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ok := true
	for _, k := range keys {
		st := want[k]
		if t.sent[k] == st {
			continue
		}
		if err := s.opts.Forge.SetCommitStatus(ctx, t.rev, st); err != nil {
			s.log.Warn("setting commit status", "revision", t.rev, "context", k, "err", err)
			ok = false
			continue
		}
		t.sent[k] = st
	}
	return ok && roll.State != forge.StatusPending
}
