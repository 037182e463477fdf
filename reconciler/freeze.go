package reconciler

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/gittree"
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
// back and could not read the applied revision to reconcile it (a source
// without history, or nothing applied yet).
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
// returns the revision to reconcile and its snapshot: the head, or, when a
// window holds it back, the applied revision (its cached render, or its
// tree read from the clone after a restart); stop is the outcome to return
// when neither can be had.
func (r *run) freeze(snap *source.Snapshot) (rev string, at *source.Snapshot, stop *Outcome) {
	a := r.a
	head, applied := snap.Revision.Hash, a.state.AppliedRevision
	windows := headFreeze(snap.FS)
	if head != applied {
		windows = append(windows, a.appliedFreeze()...)
	}
	w := freezeDecision(windows, a.cfg.Now(), head, applied, snap.Revision.Message)
	if w == nil {
		a.ov.freeze, a.ov.holding = nil, ""
		return head, snap, nil
	}
	if a.ov.holding != head {
		a.log.Warn("freeze window in force: holding back a revision without an Emergency: yes trailer",
			"window", w.Name, "until", w.UntilTime, "revision", short(head))
	}
	a.ov.freeze, a.ov.holding = w, head
	if applied != "" && a.cached.rev == applied && a.cached.fleet != nil {
		return applied, snap, nil
	}
	if old, err := a.appliedSnapshot(); err == nil {
		return applied, old, nil
	} else if applied != "" {
		a.log.Warn("freeze: cannot read the applied revision to keep reconciling it", "revision", short(applied), "err", err)
	}
	return "", nil, &Outcome{Result: resultFrozen, Revision: applied, Converged: true}
}

// appliedFreeze returns the freeze windows of the applied revision: those
// recorded at its last apply, or, before any apply since the agent
// started, those of its fleet.yaml in the clone.
func (a *Agent) appliedFreeze() []desired.FreezeWindow {
	if a.ov.appliedKnown || a.state.AppliedRevision == "" {
		return a.ov.appliedFreeze
	}
	if old, err := a.appliedSnapshot(); err == nil {
		a.ov.appliedFreeze, a.ov.appliedKnown = headFreeze(old.FS), true
	}
	return a.ov.appliedFreeze
}

// historyReader is a source that can read older commits of its clone
// (*source.Source).
type historyReader interface {
	History(fn func(st storer.EncodedObjectStorer) error) error
}

// appliedSnapshot reads the applied revision's tree from the source's clone.
func (a *Agent) appliedSnapshot() (*source.Snapshot, error) {
	applied := a.state.AppliedRevision
	hr, ok := a.cfg.Source.(historyReader)
	if applied == "" || !ok {
		return nil, errors.New("no applied revision, or a source without history")
	}
	var snap *source.Snapshot
	err := hr.History(func(st storer.EncodedObjectStorer) error {
		c, err := object.GetCommit(st, plumbing.NewHash(applied))
		if err != nil {
			return fmt.Errorf("reading commit %s: %w", short(applied), err)
		}
		fsys, err := gittree.FromCommit(st, c)
		if err != nil {
			return err
		}
		snap = &source.Snapshot{Revision: *gittree.RevisionOf(c), FS: fsys}
		return nil
	})
	return snap, err
}

// headFreeze reads the freeze windows of fleet.yaml in fsys, ignoring what
// does not decode (the load reports it when the revision is applied).
func headFreeze(fsys fs.FS) []desired.FreezeWindow {
	if fsys == nil {
		return nil // a rendered host without its tree (the gate's rollback)
	}
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
