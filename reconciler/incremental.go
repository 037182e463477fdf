package reconciler

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/plan"
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
		c.Ops = append(c.Ops, bc.Ops...)
		for _, op := range bc.Ops {
			if op.Op != plan.OpReplace {
				continue
			}
			for j := range before {
				if before[j].Name == op.Server {
					if c.Old == nil {
						c.Old = map[string]render.Server{}
					}
					c.Old[b.Name+"/"+op.Server] = before[j].Server
				}
			}
		}
	}
	return c, true
}

// verifyTouched reads back the servers ops changed when every op is a
// weight (`get weight` answers for one server); it reports false when there
// are other ops, which the full verify checks.
func (r *run) verifyTouched(ctx context.Context, ops []plan.Op) (bool, error) {
	if len(ops) == 0 {
		return false, nil
	}
	cmds := make([]string, len(ops))
	for i, op := range ops {
		if op.Op != plan.OpSetWeight || op.New == nil || op.Batch > 1 {
			return false, nil
		}
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
