package render

import "github.com/ddc-gitops/ddc-gitops/desired"

// containerServers are the containers of the context's zone whose serve
// names backend b, in name order: each is a server at the address written
// in its file, checked with the backend's health check, so HAProxy sends it
// traffic only once it answers (the HAProxy hosts never ask Docker).
func (c *hostCtx) containerServers(b *desired.Backend, sb serverBase) []Server {
	var out []Server
	for _, ct := range c.f.Containers {
		if ct.Zone != c.zone.Name || ct.Serve == nil || ct.Serve.Backend != b.Name {
			continue
		}
		s := Server{
			Name:      ct.Name,
			Address:   ct.Address,
			Port:      ct.Serve.Port,
			Weight:    sb.weight,
			Maxconn:   sb.maxconn,
			Slowstart: sb.slowstart,
			Proto:     sb.proto,
			State:     "ready",
		}
		if w := ct.Serve.Weight; w != nil {
			s.Weight = *w
		}
		if ck := sb.check; ck != nil {
			// A numeric check port applies; a node port name (http, grpc)
			// has no meaning for a container: it is checked on its port.
			cp, err := checkPort(ck.Port, nil)
			if err != nil {
				cp = 0
			}
			setCheck(&s, ck, cp)
		}
		out = append(out, s)
	}
	return out
}
