package render

import (
	"github.com/ddc-gitops/ddc-gitops/desired"
)

// applyOverrides returns the host's backends with the overrides in force at
// c.now for this host applied, and those overrides. A server action sets
// the server's state (drain, maint) and/or weight; a frozen backend is
// marked Frozen (the agent keeps the servers the host runs for it). With
// no such override, or a zero c.now, backends is returned as is; it is
// never changed in place (RenderAll shares it between a zone's hosts).
func (c *hostCtx) applyOverrides(backends []Backend) ([]Backend, []*desired.Override) {
	if c.now.IsZero() {
		return backends, nil
	}
	active := c.f.ActiveOverrides(c.zone.Name, c.host.Name, c.now)
	if len(active) == 0 {
		return backends, nil
	}
	out := make([]Backend, len(backends))
	copy(out, backends)
	index := make(map[string]int, len(out))
	for i := range out {
		index[out[i].Name] = i
	}
	copied := map[int]bool{}
	for _, o := range active {
		for _, name := range o.Freeze {
			if i, ok := index[name]; ok {
				out[i].Frozen = true
			}
		}
		for _, sa := range o.Servers {
			i, ok := index[sa.Backend]
			if !ok {
				continue
			}
			if !copied[i] {
				out[i].Servers = append([]Server(nil), out[i].Servers...)
				copied[i] = true
			}
			for j := range out[i].Servers {
				s := &out[i].Servers[j]
				if s.Name != sa.Server {
					continue
				}
				if sa.State != "" {
					s.State = sa.State
				}
				if sa.Weight != nil {
					s.Weight = *sa.Weight
				}
			}
		}
	}
	return out, active
}
