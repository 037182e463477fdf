package plan

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/render"
)

// Diff compares one host's rendered configs in two revisions. old nil means
// the host is new (a full deploy and reload); new nil means it was removed.
func Diff(old, new *render.Host) HostPlan {
	switch {
	case old == nil && new == nil:
		return HostPlan{HAProxy: ActionNone, Keepalived: ActionNone}
	case old == nil:
		hp := HostPlan{Host: new.Name, Zone: new.Zone, New: true, HAProxy: ActionReload, Keepalived: ActionNone,
			Reasons: []string{"new host: first deploy of haproxy.cfg"}}
		if len(new.Keepalived) > 0 {
			hp.Keepalived = ActionReload
			hp.Reasons[0] += " and keepalived.conf"
		}
		return hp
	case new == nil:
		return HostPlan{Host: old.Name, Zone: old.Zone, Removed: true, HAProxy: ActionNone, Keepalived: ActionNone,
			Reasons: []string{"host removed from the desired state: its agent has nothing to apply"}}
	}

	hp := HostPlan{Host: new.Name, Zone: new.Zone, HAProxy: ActionNone, Keepalived: ActionNone}
	if !bytes.Equal(old.HAProxy, new.HAProxy) {
		diffHAProxy(&hp, old, new)
	}
	if !bytes.Equal(old.Keepalived, new.Keepalived) {
		hp.Keepalived = ActionReload
		reasons := sectionChanges(old.Keepalived, new.Keepalived, func(key string) string {
			return "keepalived " + key + " changed"
		}, nil)
		if len(reasons) == 0 {
			reasons = []string{"keepalived.conf changed"}
		}
		for i, r := range reasons {
			if !strings.HasPrefix(r, "keepalived ") {
				reasons[i] = "keepalived " + r
			}
		}
		hp.Reasons = append(hp.Reasons, reasons...)
	}
	return hp
}

// diffHAProxy fills hp's HAProxy action, ops, reasons and warnings for two
// differing haproxy.cfg.
func diffHAProxy(hp *HostPlan, old, new *render.Host) {
	var reasons []string
	if !render.SkeletonEqual(old.HAProxy, new.HAProxy) {
		reasons = skeletonChanges(render.Skeleton(old.HAProxy), render.Skeleton(new.HAProxy))
	}
	skeletonReload := len(reasons) > 0

	oldBE := make(map[string]*render.Backend, len(old.Backends))
	for i := range old.Backends {
		oldBE[old.Backends[i].Name] = &old.Backends[i]
	}
	var serverReasons []string
	for i := range new.Backends {
		nb := &new.Backends[i]
		ob := oldBE[nb.Name]
		if ob == nil {
			continue // a new backend: its section is new, the reload creates it
		}
		c := ServerChanges(nb, Befores(ob.Servers))
		hp.Ops = append(hp.Ops, c.Ops...)
		serverReasons = append(serverReasons, c.Reasons...)
		hp.Warnings = append(hp.Warnings, c.Warnings...)
	}
	reasons = append(reasons, serverReasons...)

	switch {
	case skeletonReload || len(serverReasons) > 0:
		hp.HAProxy = ActionReload
		for i := range hp.Ops {
			hp.Ops[i].Batch = 0 // the reload applies every replace at once
		}
	default:
		// Only server lines differ. With no op, they differ only in order:
		// the file is rewritten so the next reload matches it.
		hp.HAProxy = ActionRuntime
		if len(hp.Ops) == 0 {
			reasons = append(reasons, "server lines reordered: haproxy.cfg is rewritten, nothing to change at runtime")
		}
	}
	hp.Reasons = append(hp.Reasons, reasons...)
}

// skeletonChanges names what differs between two haproxy.cfg skeletons,
// section by section.
func skeletonChanges(old, new []byte) []string {
	var reasons []string
	og, ng := reloadGeneration(old), reloadGeneration(new)
	if og != ng {
		reasons = append(reasons, fmt.Sprintf("reload generation %s -> %s", orUnset(og), orUnset(ng)))
	}
	reasons = append(reasons, sectionChanges(old, new, func(key string) string {
		if strings.HasPrefix(key, "backend ") {
			return key + " settings changed"
		}
		return sectionName(key) + " changed"
	}, func(_ string, a, b []byte) bool {
		// A section that differs only in its reload generation line is
		// already explained by the generation reason.
		return og != ng && bytes.Equal(withoutGeneration(a), withoutGeneration(b))
	})...)
	if len(reasons) == 0 {
		reasons = append(reasons, "sections reordered")
	}
	return reasons
}

func orUnset(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}
