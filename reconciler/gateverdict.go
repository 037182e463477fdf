package reconciler

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/desired"
)

// Gate signals (agentapi.GateEvidence.Signal).
const (
	signalUpRatio   = "up_ratio"
	signalHTTP5xx   = "http_5xx_rate"
	signalConnError = "conn_error_rate"
	signalVIP       = "vip_answers"
	signalFrontend  = "frontend_answers"
)

// maxEvidence bounds the evidence one verdict reports (tripped signals first).
const maxEvidence = 50

// GateReading is what the health gate compares, read over a stretch of
// time: before an apply, or since it.
type GateReading struct {
	// Up is each backend's active servers UP among those not in maintenance.
	Up map[string]UpCount
	// HTTP5xx is each HTTP frontend's 5xx responses among its requests.
	HTTP5xx map[string]Count
	// ConnErrors is each backend's failed connections to servers among its
	// connections.
	ConnErrors map[string]Count
	// ProbeFailures is, for each probed frontend or VIP (subject: "signal
	// subject"), how many TCP connects in a row failed last (0: it answers).
	ProbeFailures map[Probe]int
}

// UpCount is a backend's servers UP among those eligible.
type UpCount struct{ Up, Eligible int }

// Count is errors among a total.
type Count struct{ Errors, Total int64 }

// Probe names one TCP probe: signalVIP or signalFrontend and what it reaches.
type Probe struct{ Signal, Subject string }

func (c Count) rate() float64 {
	if c.Total <= 0 {
		return 0
	}
	return float64(c.Errors) / float64(c.Total)
}

// GateVerdict is the health gate's one rule: it compares a reading after an
// apply with the reading before it under fleet.yaml's thresholds, and says
// whether the revision is bad on this host, why, and the evidence. It is a
// pure function. Signals are judged only for subjects present before and
// after (a backend or frontend the revision added or removed is not):
//
//   - up_ratio: a backend with eligible servers before and after trips when
//     its UP ratio fell by more than upDropPercent points and is below
//     upMinPercent.
//   - http_5xx_rate (per frontend) and conn_error_rate (per backend): trips
//     when the rate since the apply is more than errorRateFactor times the
//     rate before, at least errorRateMinPercent, and counts at least
//     minErrors errors.
//   - frontend_answers and vip_answers: a probe that answered before trips
//     after probeFailures failed connects in a row.
func GateVerdict(th desired.GateThresholds, before, after GateReading) (tripped bool, verdict string, evidence []agentapi.GateEvidence) {
	var ev []agentapi.GateEvidence
	for _, be := range sortedKeys(after.Up) {
		b, ok := before.Up[be]
		a := after.Up[be]
		if !ok || b.Eligible == 0 || a.Eligible == 0 {
			continue
		}
		br := float64(b.Up) / float64(b.Eligible)
		ar := float64(a.Up) / float64(a.Eligible)
		limit := min(br-float64(th.UpDropPercent)/100, float64(th.UpMinPercent)/100)
		ev = append(ev, agentapi.GateEvidence{Signal: signalUpRatio, Subject: be, Before: br, After: ar, Threshold: limit, Tripped: ar < limit})
	}
	rates := func(signal string, before, after map[string]Count) {
		for _, name := range sortedKeys(after) {
			a := after[name]
			if a.Total <= 0 {
				continue
			}
			b, ok := before[name]
			if !ok {
				continue
			}
			limit := max(float64(th.ErrorRateFactor)*b.rate(), float64(th.ErrorRateMinPercent)/100)
			trip := a.rate() > float64(th.ErrorRateFactor)*b.rate() && a.rate() >= float64(th.ErrorRateMinPercent)/100 && a.Errors >= int64(th.MinErrors)
			ev = append(ev, agentapi.GateEvidence{Signal: signal, Subject: name, Before: b.rate(), After: a.rate(), Threshold: limit, Tripped: trip})
		}
	}
	rates(signalHTTP5xx, before.HTTP5xx, after.HTTP5xx)
	rates(signalConnError, before.ConnErrors, after.ConnErrors)
	probes := make([]Probe, 0, len(after.ProbeFailures))
	for p := range after.ProbeFailures {
		probes = append(probes, p)
	}
	slices.SortFunc(probes, func(x, y Probe) int {
		return cmp.Or(cmp.Compare(x.Signal, y.Signal), cmp.Compare(x.Subject, y.Subject))
	})
	for _, p := range probes {
		b, ok := before.ProbeFailures[p]
		if !ok || b != 0 {
			continue // did not answer before: not this revision's doing
		}
		n := after.ProbeFailures[p]
		ev = append(ev, agentapi.GateEvidence{Signal: p.Signal, Subject: p.Subject, Before: 1, After: answered(n), Threshold: float64(th.ProbeFailures), Tripped: n >= th.ProbeFailures})
	}

	slices.SortStableFunc(ev, func(x, y agentapi.GateEvidence) int {
		switch {
		case x.Tripped == y.Tripped:
			return 0
		case x.Tripped:
			return -1
		}
		return 1
	})
	var why []string
	for _, e := range ev {
		if e.Tripped {
			why = append(why, describeEvidence(e))
		}
	}
	if len(ev) > maxEvidence {
		ev = ev[:maxEvidence]
	}
	return len(why) > 0, strings.Join(why, "; "), ev
}

func answered(failures int) float64 {
	if failures == 0 {
		return 1
	}
	return 0
}

// describeEvidence says in words why a signal tripped.
func describeEvidence(e agentapi.GateEvidence) string {
	switch e.Signal {
	case signalUpRatio:
		return fmt.Sprintf("backend %s: servers UP %.0f%% -> %.0f%% (trips below %.0f%%)", e.Subject, 100*e.Before, 100*e.After, 100*e.Threshold)
	case signalHTTP5xx:
		return fmt.Sprintf("frontend %s: 5xx rate %.1f%% -> %.1f%% (trips above %.1f%%)", e.Subject, 100*e.Before, 100*e.After, 100*e.Threshold)
	case signalConnError:
		return fmt.Sprintf("backend %s: connection error rate %.1f%% -> %.1f%% (trips above %.1f%%)", e.Subject, 100*e.Before, 100*e.After, 100*e.Threshold)
	default:
		return fmt.Sprintf("%s no longer answers (%.0f failed connects in a row)", e.Subject, e.Threshold)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
