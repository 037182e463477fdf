package reconciler

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// Admission: a server added (or replaced, or leaving maintenance) with a
// health check gets no traffic until its first check passes. The reconcile
// never waits for that: the driver leaves the server in drain with its check
// running, the agent records it here (and persists it, and writes it
// `disabled` in haproxy.cfg so a reload or restart cannot put it in service
// unchecked), and admissionWatch reads HAProxy's own check results
// (`show servers state` of the backends concerned, every
// admissionPollDelay) and triggers a reconcile as soon as one passed; that
// reconcile sets its state (plan.ServerChanges: set-state drain -> ready). A
// server that never passes stays out of service, reported per server in
// /v1/status and by ddc_gitops_agent_server_pending_admission_since_seconds,
// and delays nothing else.

// The watch reads the check results of the servers waiting for admission
// at most every admissionPollMin, and at least every admissionPollMax.
const (
	admissionPollMin = 100 * time.Millisecond
	admissionPollMax = 2 * time.Second
)

// admissionPollDelay is how long the watch waits before its next read when
// the server that began waiting last has waited for waited: a tenth of that,
// within [admissionPollMin, admissionPollMax]. A server just added enters
// service within 100 ms of its first passing check; a node down for minutes
// costs a read of its backend (10,000 rows, HAProxy's time and the agent's)
// every 2 s instead of ten a second, and enters service within 2 s of
// coming up.
func admissionPollDelay(waited time.Duration) time.Duration {
	return min(max(waited/10, admissionPollMin), admissionPollMax)
}

// admissionState is the servers waiting for admission, by "backend/server".
type admissionState struct {
	since     map[string]time.Time
	replacing map[string]bool // replaced a server that was in service
	status    map[string]string
}

// sortedKeys lists the waiting servers, sorted.
func (s *admissionState) sortedKeys() []string {
	out := make([]string, 0, len(s.since))
	for k := range s.since {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// describe is one line per waiting server for /v1/status.
func (s *admissionState) describe(now time.Time, timeout time.Duration) []string {
	out := make([]string, 0, len(s.since))
	for _, k := range s.sortedKeys() {
		since := s.since[k]
		line := fmt.Sprintf("%s: waiting for its first passing health check since %s", k, since.UTC().Format(time.RFC3339))
		if st := s.status[k]; st != "" {
			line += " (last check " + st + ")"
		}
		if now.Sub(since) > timeout {
			line += "; stuck: out of service"
		}
		out = append(out, line)
	}
	return out
}

// admissionWatch shares the waiting servers between the reconcile (which
// owns the admission state) and the watch goroutine.
type admissionWatch struct {
	mu      sync.Mutex
	waiting []string  // "backend/server"
	newest  time.Time // when the last of them began waiting
	changed chan struct{}
}

func newAdmissionWatch() *admissionWatch {
	return &admissionWatch{changed: make(chan struct{}, 1)}
}

// set replaces the waiting servers; newest is when the last of them began
// waiting.
func (w *admissionWatch) set(keys []string, newest time.Time) {
	w.mu.Lock()
	w.waiting, w.newest = keys, newest
	w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

func (w *admissionWatch) get() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.waiting
}

// getNewest is get and when the last of the waiting servers began waiting.
func (w *admissionWatch) getNewest() ([]string, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.waiting, w.newest
}

// watchAdmission triggers a reconcile whenever a server waiting for
// admission passed its check (or is gone), until ctx ends. It reads only
// the backends with waiting servers and never takes the reconcile's lock.
func (a *Agent) watchAdmission(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last time.Time // the last read
	for {
		waiting, newest := a.admWatch.getNewest()
		if len(waiting) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-a.admWatch.changed:
				continue
			}
		}
		// Due a delay after the last read, whatever changed since: a
		// reconcile that changes nothing for the watch does not postpone it.
		if wait := time.Until(last.Add(admissionPollDelay(a.cfg.Now().Sub(newest)))); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-a.admWatch.changed:
				continue // servers came or went: look at the delay again
			case <-timer.C:
			}
		}
		last = time.Now()
		if a.admissionDecided(ctx, waiting) {
			a.trigger.Notify("admission")
		}
	}
}

// admissionDecided reports whether one of the waiting servers passed its
// check or no longer runs.
func (a *Agent) admissionDecided(ctx context.Context, waiting []string) bool {
	byBackend := map[string][]string{}
	for _, k := range waiting {
		be, name, _ := strings.Cut(k, "/")
		byBackend[be] = append(byBackend[be], name)
	}
	for be, names := range byBackend {
		// Streamed, without a row per server: this runs every 100 ms
		// while a server waits, on backends of up to 10,000 servers.
		want := make(map[string]bool, len(names))
		for _, n := range names {
			want[n] = true
		}
		decided, seen := false, 0
		err := a.runtime.EachServerState(ctx, be, func(_, name []byte, r haproxy.ServerStateRow) error {
			if !want[string(name)] {
				return nil
			}
			seen++
			if r.Admitted() || r.Admin() == haproxy.StateMaint {
				decided = true
				return errStopReading
			}
			return nil
		})
		if decided {
			return true
		}
		if err != nil {
			a.log.Debug("admission watch: reading servers", "backend", be, "err", err)
			return false // a reload or restart in progress: look again later
		}
		if seen < len(want) {
			return true // one of them no longer runs
		}
	}
	return false
}

// errStopReading ends a streamed read early.
var errStopReading = errors.New("stop reading")

func (s *admissionState) forget(k string) {
	delete(s.since, k)
	delete(s.replacing, k)
	delete(s.status, k)
}

// stuck describes the servers waiting longer than timeout.
func (s *admissionState) stuck(now time.Time, timeout time.Duration) []string {
	var out []string
	for _, k := range s.sortedKeys() {
		if now.Sub(s.since[k]) > timeout {
			d := k
			if st := s.status[k]; st != "" {
				d += " (last check " + st + ")"
			}
			out = append(out, d)
		}
	}
	return out
}

// admission is the persisted admission state, without the servers no longer
// desired, with each server's last check status from actual.
func (r *run) admission(want *render.Host, actual map[string][]haproxy.ActualServer) *admissionState {
	st := &r.a.state
	adm := &admissionState{since: map[string]time.Time{}, replacing: map[string]bool{}, status: map[string]string{}}
	if len(st.Pending) == 0 {
		return adm
	}
	desired := map[string]bool{}
	for _, b := range want.Backends {
		for _, s := range b.Servers {
			desired[b.Name+"/"+s.Name] = true
		}
	}
	replacing := map[string]bool{}
	for _, k := range st.Replacing {
		replacing[k] = true
	}
	for _, k := range st.Pending {
		if !desired[k] {
			continue
		}
		since, ok := st.PendingSince[k]
		if !ok {
			since = r.a.cfg.Now()
		}
		adm.since[k] = since
		if replacing[k] {
			adm.replacing[k] = true
		}
	}
	for be, rows := range actual {
		for _, row := range rows {
			k := be + "/" + row.Name
			if _, ok := adm.since[k]; ok && row.CheckStatus != "" {
				adm.status[k] = row.CheckStatus
			}
		}
	}
	return adm
}

// saveAdmission records adm in the persisted state (saved with it), the
// metrics and the admission watch.
func (r *run) saveAdmission(adm *admissionState) {
	a := r.a
	st := &a.state
	old := st.Pending
	st.Pending = adm.sortedKeys()
	st.PendingSince = nil
	st.Replacing = nil
	for _, k := range st.Pending {
		if st.PendingSince == nil {
			st.PendingSince = map[string]time.Time{}
		}
		st.PendingSince[k] = adm.since[k]
		if adm.replacing[k] {
			st.Replacing = append(st.Replacing, k)
		}
	}
	a.pendingStatus = adm.describe(a.cfg.Now(), a.cfg.AdmitTimeout)
	a.metrics.pendingAdmission.Set(float64(len(st.Pending)))
	for _, k := range old {
		if _, ok := adm.since[k]; !ok {
			be, name, _ := strings.Cut(k, "/")
			a.metrics.pendingSince.DeleteLabelValues(be, name)
		}
	}
	for _, k := range st.Pending {
		be, name, _ := strings.Cut(k, "/")
		a.metrics.pendingSince.WithLabelValues(be, name).Set(float64(adm.since[k].Unix()))
	}
	var newest time.Time
	for _, since := range adm.since {
		if since.After(newest) {
			newest = since
		}
	}
	a.admWatch.set(st.Pending, newest)
}

// ReconcileOnce is one reconcile followed, when servers wait for
// admission, by the reconciles that admit them as their checks pass, for at
// most AdmitTimeout: what a single run (--once) needs, having no admission
// watch running beside it. It returns the last outcome.
func (a *Agent) ReconcileOnce(ctx context.Context) Outcome {
	out := a.Reconcile(ctx)
	deadline := time.Now().Add(a.cfg.AdmitTimeout)
	tick := time.NewTicker(admissionPollMin)
	defer tick.Stop()
	for !out.Converged && out.Err == nil && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return out
		case <-tick.C:
		}
		out = a.Reconcile(ctx)
	}
	return out
}
