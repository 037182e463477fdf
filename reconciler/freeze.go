package reconciler

import (
	"io/fs"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
)

// Freeze windows (docs/rollouts.md, "Freeze windows"). While a window of
// fleet.yaml is in force, the agent applies a new head only when the head
// commit's message carries `Emergency: yes` (desired.IsEmergency): the
// head's trailer decides for the whole tree it names, including earlier
// commits without the trailer. A held head leaves the host on the applied
// revision, which stays reconciled (drift corrected, overrides expiring)
// from its cached render; the agent retries at the window's end.
//
// The windows in force are those of the head's fleet.yaml and of the
// applied revision's: a commit can start a freeze at once, and a
// non-emergency commit cannot end one early.

// resultFrozen is the Outcome result of a reconcile that held the head
// back and had no render of the applied revision to reconcile.
const resultFrozen = "frozen"

// freezeDecision returns the window that holds head back at now, or nil
// when head may be applied: it is the applied revision, its commit is an
// emergency, or no window is in force.
func freezeDecision(windows []desired.FreezeWindow, now time.Time, head, applied, message string) *desired.FreezeWindow {
	if head == applied || desired.IsEmergency(message) {
		return nil
	}
	f := desired.Fleet{Freeze: windows}
	return f.FreezeAt(now)
}

// freeze decides whether this reconcile may apply the head of snap. It
// returns the revision to reconcile: the head, or, when a window holds it
// back, the applied revision if its render is cached; otherwise stop is
// the outcome to return.
func (r *run) freeze(snap *source.Snapshot) (rev string, stop *Outcome) {
	a := r.a
	head := snap.Revision.Hash
	windows := append(headFreeze(snap.FS), a.ov.appliedFreeze...)
	w := freezeDecision(windows, a.cfg.Now(), head, a.state.AppliedRevision, snap.Revision.Message)
	if w == nil {
		a.ov.freeze, a.ov.holding = nil, ""
		return head, nil
	}
	if a.ov.holding != head {
		a.log.Warn("freeze window in force: holding back a revision without an Emergency: yes trailer",
			"window", w.Name, "until", w.UntilTime, "revision", short(head))
	}
	a.ov.freeze, a.ov.holding = w, head
	applied := a.state.AppliedRevision
	if applied != "" && a.cached.rev == applied && a.cached.fleet != nil {
		return applied, nil
	}
	return "", &Outcome{Result: resultFrozen, Revision: applied, Converged: true}
}

// headFreeze reads the freeze windows of fleet.yaml in fsys, ignoring what
// does not decode (the load reports it when the revision is applied).
func headFreeze(fsys fs.FS) []desired.FreezeWindow {
	data, err := fs.ReadFile(fsys, desired.FleetFile)
	if err != nil {
		return nil
	}
	var f desired.Fleet
	var src desired.Source
	var errs desired.Errors
	if !desired.DecodeBytes(desired.FleetFile, data, desired.KindFleet, &f, &src, &errs) {
		return nil
	}
	out := f.Freeze[:0]
	for _, w := range f.Freeze {
		from, err1 := desired.ParseTime(w.From)
		until, err2 := desired.ParseTime(w.Until)
		if err1 != nil || err2 != nil {
			continue
		}
		w.FromTime, w.UntilTime = from, until
		out = append(out, w)
	}
	return out
}
