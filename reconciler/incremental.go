package reconciler

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// A new revision on a host known to run the previous one costs what
// changed: planFromApplied plans it against the rendered previous revision
// instead of reading every server from the runtime API and haproxy.cfg
// from disk, and verifyTouched reads back only the servers it changed
// when it can. The host is known to run the previous revision when that
// revision is the applied one, a reconcile read the host's full state and
// found it converged less than DriftInterval ago, and nothing is pending
// or failed: the same trust the no-op reconcile between two drift checks
// has. Anything else (a structural change, a keepalived change, a change
// that needs a reload) takes the full path.

// planFromApplied returns the runtime changes from r.prev (the host's
// running revision, rendered) to want, and whether it could: false means
// the caller reads the host and plans in full.
func (r *run) planFromApplied(want *render.Host) (serverDiff, bool) {
	a := r.a
	prev := r.prev
	if prev == nil || a.cfg.DriftInterval <= 0 || a.lastCheck.IsZero() || r.start.Sub(a.lastCheck) >= a.cfg.DriftInterval ||
		len(a.state.Pending) > 0 || a.state.FailedRevision != "" {
		return serverDiff{}, false
	}
	if a.cfg.Keepalived != nil && !bytes.Equal(prev.Keepalived, want.Keepalived) {
		return serverDiff{}, false
	}
	if len(prev.Backends) != len(want.Backends) || !bytes.Equal(a.skeletonOf(prev), a.skeletonOf(want)) {
		return serverDiff{}, false
	}
	// The changed servers alone, with their running state taken from the
	// previous revision, go through the one diff the full path uses.
	var sub []render.Backend
	running := map[string][]haproxy.ActualServer{}
	lines := map[string]map[string]string{}
	for i, b := range want.Backends {
		pb := prev.Backends[i]
		if pb.Name != b.Name || pb.Balance != b.Balance || pb.Dynamic != b.Dynamic {
			return serverDiff{}, false
		}
		sb := render.Backend{Name: b.Name, Balance: b.Balance, Dynamic: b.Dynamic}
		have := []haproxy.ActualServer{}
		bl := map[string]string{}
		// The common case: the same servers in the same order, compared
		// in place (no index built).
		if sameNames(pb.Servers, b.Servers) {
			for j, s := range b.Servers {
				if o := pb.Servers[j]; o != s {
					sb.Servers = append(sb.Servers, s)
					have = append(have, runningAs(o))
					bl[o.Name] = o.Line()
				}
			}
			if len(sb.Servers) > 0 {
				sub = append(sub, sb)
				running[b.Name] = have
				lines[b.Name] = bl
			}
			continue
		}
		old := make(map[string]render.Server, len(pb.Servers))
		for _, s := range pb.Servers {
			old[s.Name] = s
		}
		for _, s := range b.Servers {
			o, ok := old[s.Name]
			delete(old, s.Name)
			if ok && o == s {
				continue
			}
			sb.Servers = append(sb.Servers, s)
			if ok {
				have = append(have, runningAs(o))
				bl[o.Name] = o.Line()
			}
		}
		for _, o := range pb.Servers { // removed: running, no longer desired
			if _, gone := old[o.Name]; gone {
				have = append(have, runningAs(o))
				bl[o.Name] = o.Line()
			}
		}
		if len(sb.Servers) == 0 && len(have) == 0 {
			continue
		}
		sub = append(sub, sb)
		running[b.Name] = have
		lines[b.Name] = bl
	}
	d := diffServers(sub, running, lines, nil)
	if len(d.NeedReload) > 0 {
		return serverDiff{}, false
	}
	return d, true
}

// skeletonOf is render.Skeleton of h's haproxy.cfg, remembered for the
// last two hosts (the one the host runs and the newest): each revision's
// skeleton is built once. Callers hold a.mu.
func (a *Agent) skeletonOf(h *render.Host) []byte {
	for _, e := range a.skeletons {
		if e.host == h {
			return e.skeleton
		}
	}
	s := render.Skeleton(h.HAProxy)
	a.skeletons = [2]skeletonMemo{{h, s}, a.skeletons[0]}
	return s
}

type skeletonMemo struct {
	host     *render.Host
	skeleton []byte
}

// sameNames reports whether a and b name the same servers in the same order.
func sameNames(a, b []render.Server) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			return false
		}
	}
	return true
}

// runningAs is how HAProxy runs s once it is applied and admitted.
func runningAs(s render.Server) haproxy.ActualServer {
	s.State = stateOf(s)
	s.Weight = runtimeWeight(s)
	return haproxy.ActualServer{Server: s, InitialWeight: s.Weight, Up: true, CheckEnabled: s.Check, CheckStatus: ""}
}

// verifyTouched reads back the servers d changed when every change is a
// weight (`get weight` answers for one server); it reports false when d
// has other changes, which the full verify checks.
func (r *run) verifyTouched(ctx context.Context, d serverDiff) (bool, error) {
	if len(d.Ops) == 0 {
		return false, nil
	}
	cmds := make([]string, len(d.Ops))
	for i, op := range d.Ops {
		if op.Op != "set-weight" {
			return false, nil
		}
		cmds[i] = "get weight " + op.Backend + "/" + op.Server.Name
	}
	replies, err := r.a.runtime.Exec(ctx, cmds)
	if err != nil {
		return true, fmt.Errorf("verifying: %w", err)
	}
	var wrong []string
	for i, op := range d.Ops {
		// "42 (initial 100)"
		w, _, _ := strings.Cut(strings.TrimSpace(replies[i]), " ")
		if n, err := strconv.Atoi(w); err != nil || n != runtimeWeight(op.Server) {
			wrong = append(wrong, fmt.Sprintf("%s weight %q, want %d", op.key(), strings.TrimSpace(replies[i]), runtimeWeight(op.Server)))
		}
	}
	if len(wrong) > 0 {
		return true, fmt.Errorf("verifying: the host does not match the desired state after applying: %s", strings.Join(wrong, "; "))
	}
	return true, nil
}
