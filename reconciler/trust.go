package reconciler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/trust"
)

// historySource is a Fetcher that can show the verifier the commits it
// fetched (*source.Source).
type historySource interface {
	History(fn func(st storer.EncodedObjectStorer) error) error
}

// maxRefusedSeries bounds the trust_refused series of one revision.
const maxRefusedSeries = 20

// trustCheck is the agent's signature check (Config.Trust, docs/trust.md):
// the commits between the applied revision and a new head are verified
// right after the fetch; a refused head is stalled and never applied.
type trustCheck struct {
	v        *trust.Verifier
	hist     historySource
	refused  *prometheus.GaugeVec
	commits  *prometheus.CounterVec
	duration prometheus.Histogram
	// last is the latest verification, reused while neither the applied
	// revision nor the head moves.
	last     *trust.Result
	verified string // the newest head accepted
}

func newTrustCheck(cfg Config) (*trustCheck, error) {
	if cfg.Trust == nil {
		return nil, nil
	}
	hist, ok := cfg.Source.(historySource)
	if !ok {
		return nil, errors.New("agent: a trust policy needs a git repository source (--repo), whose commits it verifies")
	}
	t := &trustCheck{
		v:    cfg.Trust,
		hist: hist,
		refused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ddc_gitops_agent_trust_refused", Help: "1 for each commit that makes the branch head (revision) refused by the trust policy; the head is not applied.",
		}, []string{"revision", "commit"}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ddc_gitops_agent_trust_verifications_total", Help: "Verifications of a new branch head against the trust policy, by result (accepted, refused, error).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ddc_gitops_agent_trust_verify_seconds", Help: "Duration of the verification of the commits between the applied revision and a new head.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}),
	}
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(t.refused, t.commits, t.duration)
	}
	return t, nil
}

// checkTrust verifies rev against the applied revision: nil when it may
// be applied, a stalledError naming the refused commits when not, another
// error when the history could not be read (retried).
func (r *run) checkTrust(ctx context.Context, rev string) error {
	a := r.a
	t := a.trust
	if t == nil {
		return nil
	}
	base := a.state.AppliedRevision
	if t.verified == "" {
		t.verified = base // what the host runs is the base of every check
	}
	res := t.last
	if res == nil || res.Head != rev || (res.Base != base && base != "") {
		start := time.Now()
		err := t.hist.History(func(st storer.EncodedObjectStorer) error {
			var err error
			res, err = t.v.VerifyRange(ctx, st, base, rev)
			return err
		})
		t.duration.Observe(time.Since(start).Seconds())
		if err != nil {
			t.commits.WithLabelValues("error").Inc()
			return fmt.Errorf("verifying the signatures of %s: %w", short(rev), err)
		}
		t.last = res
		t.report(a, res)
	}
	st := &agentapi.TrustStatus{}
	if res.Refused() {
		f := res.Refusals[0]
		st.Refused = &agentapi.TrustRefusal{Revision: rev, Commit: f.Commit, Author: f.Author, Key: f.Key, Rule: f.Rule, Reason: f.Reason}
		if f.KeyName != "" {
			st.Refused.Key = f.KeyName + " " + f.Key
		}
	} else {
		t.verified = rev
	}
	st.Verified = t.verified
	a.updateStatus(func(s *agentapi.Status) { s.Trust = st })
	if res.Refused() {
		return stalledError{res.Err()}
	}
	return nil
}

// report logs and counts a new verification.
func (t *trustCheck) report(a *Agent, res *trust.Result) {
	t.refused.Reset()
	for _, f := range res.Reverted {
		a.log.Warn("trust: a refused commit is undone by the head, which is accepted", "revision", short(res.Head), "refusal", f.String())
	}
	if !res.Refused() {
		t.commits.WithLabelValues("accepted").Inc()
		if res.Verified > 0 {
			a.log.Info("trust: revision accepted", "revision", short(res.Head), "base", short(res.Base), "commits", res.Verified)
		}
		return
	}
	t.commits.WithLabelValues("refused").Inc()
	for i, f := range res.Refusals {
		if i < maxRefusedSeries {
			t.refused.WithLabelValues(res.Head, f.Commit).Set(1)
		}
		a.log.Error("trust: revision refused, not applied", "revision", short(res.Head), "commit", f.Commit, "author", f.Author,
			"key", f.KeyName, "fingerprint", f.Key, "rule", f.Rule, "reason", f.Reason)
	}
}
