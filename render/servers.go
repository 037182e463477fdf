package render

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// backends lists every backend of the fleet with the servers a host of the
// context's zone runs, in the fleet's backend order (sorted by name).
func (c *hostCtx) backends() ([]Backend, error) {
	out := make([]Backend, 0, len(c.f.Backends))
	for _, b := range c.f.Backends {
		servers, err := c.servers(b)
		if err != nil {
			return nil, fmt.Errorf("backend %s: %w", b.Name, err)
		}
		out = append(out, Backend{
			Name:    b.Name,
			Balance: b.Balance,
			Dynamic: desired.DynamicBalance(b.Balance),
			Servers: servers,
		})
	}
	return out, nil
}

// serverBase holds a backend's per-server settings before a server's own.
type serverBase struct {
	weight, maxconn int
	slowstart       time.Duration
	proto           string
	check           *desired.Check
}

func (c *hostCtx) base(b *desired.Backend) serverBase {
	sb := serverBase{weight: desired.DefaultServerWeight, check: b.Check}
	if w := b.ServerDefaults.Weight; w != nil {
		sb.weight = *w
	}
	if m := b.ServerDefaults.Maxconn; m != nil {
		sb.maxconn = *m
	}
	sb.slowstart = b.ServerDefaults.Slowstart.D()
	if b.Mode == "grpc" {
		sb.proto = "h2"
	}
	return sb
}

// servers selects a backend's servers for the context's zone: admitted
// nodes (sorted by name), then static servers (YAML order), then the
// containers that serve it (sorted by name), then the failover zones' VIPs
// as backups.
func (c *hostCtx) servers(b *desired.Backend) ([]Server, error) {
	sb := c.base(b)
	var out []Server
	if sel := b.Nodes; sel != nil {
		// Sized first: at 10,000 nodes, growing the slice by appends
		// allocated twice what it kept, at every render.
		n := len(b.Servers)
		for _, node := range c.f.Nodes {
			if _, ok := selected(node, sel, c.zone.Name); ok {
				n++
			}
		}
		out = make([]Server, 0, n)
		for _, n := range c.f.Nodes {
			port, ok := selected(n, sel, c.zone.Name)
			if !ok {
				continue
			}
			s := Server{
				Name:      n.Name,
				Address:   n.Host,
				Hostname:  !desired.ValidIP(n.Host),
				Port:      port,
				Weight:    sb.weight,
				Maxconn:   sb.maxconn,
				Slowstart: sb.slowstart,
				Proto:     sb.proto,
				State:     state(n.State),
			}
			if n.Weight != nil {
				s.Weight = *n.Weight
			}
			if n.SSL {
				s.SSL = true
				s.SNI = n.Domain
				if s.Proto == "h2" {
					s.ALPN = "h2"
				}
			}
			if ck := sb.check; ck != nil {
				cp, err := checkPort(ck.Port, n)
				if err != nil {
					return nil, fmt.Errorf("node %s: %w", n.Name, err)
				}
				setCheck(&s, ck, cp)
			}
			out = append(out, s)
		}
	}
	for _, st := range b.Servers {
		if st.Zone != "" && st.Zone != c.zone.Name {
			continue
		}
		s := Server{
			Name:      st.Name,
			Address:   st.Address,
			Hostname:  !desired.ValidIP(st.Address),
			Port:      st.Port,
			Weight:    sb.weight,
			Maxconn:   sb.maxconn,
			Slowstart: sb.slowstart,
			Backup:    st.Backup,
			Proto:     sb.proto,
			State:     state(st.State),
		}
		if st.Weight != nil {
			s.Weight = *st.Weight
		}
		if st.Maxconn != nil {
			s.Maxconn = *st.Maxconn
		}
		if st.Slowstart != 0 {
			s.Slowstart = st.Slowstart.D()
		}
		if ck := sb.check; ck != nil {
			cp, err := checkPort(ck.Port, nil)
			if err != nil {
				return nil, fmt.Errorf("server %s: %w", st.Name, err)
			}
			setCheck(&s, ck, cp)
		}
		out = append(out, s)
	}
	out = append(out, c.containerServers(b, sb)...)
	backups, err := c.failoverServers(b, sb)
	if err != nil {
		return nil, err
	}
	return append(out, backups...), nil
}

// selected reports whether backend selector sel takes node n in zone, and
// the port it serves there.
func selected(n *desired.Node, sel *desired.NodeSelector, zone string) (port int, ok bool) {
	if !n.Admitted || n.Zone != zone {
		return 0, false
	}
	if len(sel.Modes) > 0 && !slices.Contains(sel.Modes, n.Mode) {
		return 0, false
	}
	if len(sel.Clusters) > 0 && !slices.Contains(sel.Clusters, n.ClusterID) {
		return 0, false
	}
	port = nodePort(n, sel.Port)
	return port, port != 0 // 0: the node does not serve on this port
}

// failoverServers are the backup servers pointing at the failover zones'
// VIPs, in the zone's failover order then VIP order.
func (c *hostCtx) failoverServers(b *desired.Backend, sb serverBase) ([]Server, error) {
	if b.Failover == nil || b.Failover.Enabled == nil || !*b.Failover.Enabled {
		return nil, nil
	}
	var out []Server
	for _, zn := range c.zone.Failover {
		fz := c.zoneByName(zn)
		if fz == nil {
			return nil, fmt.Errorf("failover zone %s of zone %s does not exist", zn, c.zone.Name)
		}
		for _, v := range fz.VIPs {
			s := Server{
				Name:    v.Name,
				Address: v.Address,
				Port:    b.Failover.Port,
				Weight:  sb.weight,
				Maxconn: sb.maxconn,
				Backup:  true,
				Proto:   sb.proto,
				State:   "ready",
			}
			// The backup is checked over the traffic path: the failover
			// zone's frontend on failover.port, with the backup's protocol.
			// An h2 backend whose nodes are checked on a separate HTTP/1
			// port cannot be checked that way (the remote gRPC frontend
			// speaks h2 only and its nodes do not answer the check there),
			// so its backups go unchecked rather than always down: when
			// the failover zone is down too, it answers 503 itself.
			if ck := sb.check; ck != nil && !(sb.proto == "h2" && ck.Port != "" && ck.Port != "grpc") {
				setCheck(&s, ck, 0)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// setCheck turns on the backend's health check for s, on checkPort (0: the
// traffic port).
func setCheck(s *Server, ck *desired.Check, checkPort int) {
	s.Check = true
	if checkPort == s.Port {
		checkPort = 0 // the file cannot tell an explicit traffic port apart
	}
	s.CheckPort = checkPort
	s.Inter = ck.Interval.D()
	s.Rise = ck.Rise
	s.Fall = ck.Fall
	if s.Proto == "h2" && checkPort != 0 && ck.Type == "http" {
		s.CheckProto = "h1"
	}
	if s.SSL {
		s.CheckSSL = true
	}
}

// nodePort is the node's port named by a selector's port (http, grpc, p2p).
func nodePort(n *desired.Node, which string) int {
	switch which {
	case "grpc":
		return n.GRPCPort
	case "p2p":
		return n.P2PPort
	default:
		return n.HTTPPort
	}
}

// checkPort resolves a check's port: a node port name (for nodes; static
// servers are checked on their traffic port) or a number. 0 means the
// traffic port.
func checkPort(p string, n *desired.Node) (int, error) {
	switch p {
	case "":
		return 0, nil
	case "http", "grpc", "p2p":
		if n == nil {
			return 0, nil
		}
		return nodePort(n, p), nil
	}
	v, err := strconv.Atoi(p)
	if err != nil || !desired.ValidPort(v) {
		return 0, fmt.Errorf("check port %q: want http, grpc, p2p or a port number", p)
	}
	return v, nil
}

// state normalises an administrative state (empty means ready).
func state(s string) string {
	if s == "" {
		return "ready"
	}
	return s
}
