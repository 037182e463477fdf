package reconciler

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/plan"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// A new revision on a host known to run the previous one costs what
// changed: planFromApplied plans it against the rendered previous revision
// (plan.ServerChanges with that revision as the before) instead of reading
// every server from the runtime API and haproxy.cfg from disk, and
// verifyTouched reads back only the servers it changed when it can. The
// host is known to run the previous revision when that revision is the
// applied one, a reconcile read the host's full state and found it
// converged less than DriftInterval ago, and nothing is pending or failed:
// the trust the no-op reconcile between two drift checks has. Anything else
// (a structural change, a keepalived change, a change that needs a reload)
// takes the full path.

// planFromApplied returns the runtime changes from r.prev (the host's
// running revision, rendered) to want, and whether it could: false means
// the caller reads the host and plans in full.
func (r *run) planFromApplied(want *render.Host) (hostChanges, bool) {
	a := r.a
	prev := r.prev
	if prev == nil || a.cfg.DriftInterval <= 0 || a.lastCheck.IsZero() || r.start.Sub(a.lastCheck) >= a.cfg.DriftInterval ||
		len(a.state.Pending) > 0 || len(a.state.Rolling) > 0 || a.state.FailedRevision != "" {
		return hostChanges{}, false
	}
	if a.cfg.Keepalived != nil && string(prev.Keepalived) != string(want.Keepalived) {
		return hostChanges{}, false
	}
	if len(prev.Backends) != len(want.Backends) || !render.SkeletonEqual(prev.HAProxy, want.HAProxy) {
		return hostChanges{}, false
	}
	var c hostChanges
	for i := range want.Backends {
		b, pb := &want.Backends[i], &prev.Backends[i]
		if pb.Name != b.Name || pb.Balance != b.Balance || pb.Dynamic != b.Dynamic {
			return hostChanges{}, false
		}
		before := a.scratch[:0]
		for _, s := range pb.Servers {
			before = append(before, plan.Before{Server: s})
		}
		a.scratch = before
		bc := plan.ServerChanges(b, before)
		if len(bc.Reasons) > 0 {
			return hostChanges{}, false
		}
		c.add(b.Name, bc.Ops, before)
	}
	return c, true
}

// verifyTouched reads back the servers ops changed when every op is a
// weight, an add or a del: a few weights with `get weight` (it answers for one
// server), otherwise one `show servers state BE` per touched backend, checking
// only the touched servers. It reports false when there are other ops, which
// the full verify checks.
func (r *run) verifyTouched(ctx context.Context, ops []plan.Op) (bool, error) {
	if len(ops) == 0 {
		return false, nil
	}
	weights := true
	for _, op := range ops {
		switch {
		case op.Batch > 1 || (op.Op != plan.OpDel && op.New == nil):
			return false, nil
		case op.Op == plan.OpSetWeight:
		case op.Op == plan.OpAdd || op.Op == plan.OpDel:
			weights = false
		default:
			return false, nil
		}
	}
	// HAProxy 2.6 finds a server by walking its backend's list: a `get
	// weight` per server costs as much as one `show servers state` read from
	// a few dozen servers on at 10,000 servers.
	if !weights || len(ops) > maxGetWeights {
		return true, r.verifyRows(ctx, ops)
	}
	cmds := make([]string, len(ops))
	for i, op := range ops {
		cmds[i] = "get weight " + op.Backend + "/" + op.Server
	}
	replies, err := r.a.runtime.Exec(ctx, cmds)
	if err != nil {
		return true, fmt.Errorf("verifying: %w", err)
	}
	var wrong []string
	for i, op := range ops {
		// "42 (initial 100)"
		w, _, _ := strings.Cut(strings.TrimSpace(replies[i]), " ")
		if n, err := strconv.Atoi(w); err != nil || n != op.New.Weight {
			wrong = append(wrong, fmt.Sprintf("%s/%s weight %q, want %d", op.Backend, op.Server, strings.TrimSpace(replies[i]), op.New.Weight))
		}
	}
	if len(wrong) > 0 {
		return true, fmt.Errorf("verifying: the host does not match the desired state after applying: %s", strings.Join(wrong, "; "))
	}
	return true, nil
}

// maxGetWeights is the most weight changes verifyTouched reads back one by
// one with `get weight`.
const maxGetWeights = 16

// verifyRows checks the servers of weight, add and del ops against one
// `show servers state BE` read per touched backend (in one session): a
// deleted server is gone; an added one exists with its address, port and
// weight, in maintenance when it is to stay there and otherwise out of it
// (in drain while its admission runs, or already admitted: admission is
// asynchronous), or in the state it is to have when it has no check; a
// weight is the new one.
func (r *run) verifyRows(ctx context.Context, ops []plan.Op) error {
	var backends []string
	seen := map[string]bool{}
	for _, op := range ops {
		if !seen[op.Backend] {
			seen[op.Backend] = true
			backends = append(backends, op.Backend)
		}
	}
	cmds := make([]string, len(backends))
	for i, be := range backends {
		cmds[i] = "show servers state " + be
	}
	replies, err := r.a.runtime.Exec(ctx, cmds)
	if err != nil {
		return fmt.Errorf("verifying: %w", err)
	}
	// Only the touched servers' rows are looked up: a backend has thousands.
	type server struct{ backend, name string }
	rows := make(map[server]*haproxy.ServerStateRow, len(ops))
	for _, op := range ops {
		rows[server{op.Backend, op.Server}] = nil
	}
	for i, be := range backends {
		rs, err := haproxy.ParseServersState(replies[i])
		if err != nil {
			return fmt.Errorf("verifying: parsing %q: %w", cmds[i], err)
		}
		for j := range rs {
			k := server{be, rs[j].Name}
			if row, touched := rows[k]; touched && row == nil {
				rows[k] = &rs[j]
			}
		}
	}
	var wrong []string
	for _, op := range ops {
		k := op.Backend + "/" + op.Server
		row := rows[server{op.Backend, op.Server}]
		ok := row != nil
		switch {
		case op.Op == plan.OpDel:
			if ok {
				wrong = append(wrong, k+" still exists")
			}
		case !ok:
			wrong = append(wrong, k+" missing")
		case row.UWeight != op.New.Weight:
			wrong = append(wrong, fmt.Sprintf("%s weight %d, want %d", k, row.UWeight, op.New.Weight))
		case op.Op == plan.OpAdd && (row.Address != op.New.Address || row.Port != op.New.Port):
			wrong = append(wrong, fmt.Sprintf("%s at %s:%d, want %s", k, row.Address, row.Port, op.New.Addr()))
		case op.Op == plan.OpAdd && !addedState(row.Admin(), op.New):
			wrong = append(wrong, fmt.Sprintf("%s is in %s, want %s", k, row.Admin(), stateOf(op.New)))
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("verifying: the host does not match the desired state after applying: %s", strings.Join(wrong, "; "))
	}
	return nil
}

// addedState reports whether a server just added runs in an admin state
// that fits s: maint when s is to stay in maintenance; with a check, drain
// (admission running) or s's state (admitted since); without one, s's state.
func addedState(admin string, s *render.Server) bool {
	want := stateOf(s)
	return admin == want || (s.Check && want != haproxy.StateMaint && admin == haproxy.StateDrain)
}

// stateOf is s's administrative state, ready when unset.
func stateOf(s *render.Server) string {
	if s.State == "" {
		return haproxy.StateReady
	}
	return s.State
}
