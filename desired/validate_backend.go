package desired

import (
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"
)

// backend checks one backend file.
func (v *validator) backend(b *Backend) {
	file := b.File
	v.kind(file, b.Kind, KindBackend)
	if v.str(file, "name", b.Name, ruleName) {
		if first := v.backends[b.Name]; first != b {
			v.errorf(file, "name", "backend %q is already defined in %s", b.Name, v.at(first.File, "name"))
		}
	}
	if path.Dir(file) == BackendsDir {
		v.placement(file, "backend", b.Name, strings.TrimSuffix(path.Base(file), ".yaml"), BackendsDir+"/<name>.yaml")
	}
	modeOK := v.oneOf(file, "mode", b.Mode, "http", "grpc", "tcp")
	v.oneOf(file, "balance", b.Balance, BalanceAlgorithms()...)
	if b.Check != nil {
		v.check(b, b.Check)
	}
	v.timeouts(file, "timeouts", &b.Timeouts, backendTimeout)

	// Settings inherited from fleet.yaml were checked there.
	sd, fsd := b.ServerDefaults, &v.f.HAProxy.ServerDefaults
	if sd.Weight == fsd.Weight {
		sd.Weight = nil
	}
	if sd.Maxconn == fsd.Maxconn {
		sd.Maxconn = nil
	}
	if sd.Slowstart == fsd.Slowstart {
		sd.Slowstart = 0
	}
	v.serverDefaults(file, "serverDefaults", &sd)

	if b.Retries != nil {
		v.intRange(file, "retries", *b.Retries, 0, 100)
	}
	if b.Mode == "tcp" && b.ForwardFor != nil && *b.ForwardFor {
		v.errorf(file, "forwardFor", "forwardFor needs an http or grpc backend (a tcp backend cannot add headers)")
	}
	if b.Nodes != nil {
		v.nodeSelector(b, modeOK)
	}
	failover := b.Failover != nil && b.Failover.Enabled != nil && *b.Failover.Enabled
	if failover {
		if b.Failover.Port == 0 && !v.f.Source.has(file, "failover.port") {
			v.errorf(file, "failover.port", "failover.port is required when failover is enabled: the port of the failover zones' frontend (e.g. 80)")
		} else if v.port(file, "failover.port", b.Failover.Port) {
			v.failoverTargets(b)
		}
	} else if b.Failover != nil && b.Failover.Port != 0 {
		v.port(file, "failover.port", b.Failover.Port)
	}

	names := make(map[string]int, len(b.Servers))
	for i, s := range b.Servers {
		v.server(b, i, s, names)
	}
	if b.Nodes == nil && len(b.Servers) == 0 && !failover {
		v.errorf(file, "name", "backend %q has no servers: set nodes, servers or failover", b.Name)
	}
}

// check checks a backend's health check.
func (v *validator) check(b *Backend, c *Check) {
	file := b.File
	if v.oneOf(file, "check.type", c.Type, "http", "tcp") {
		if c.Type == "http" {
			v.oneOf(file, "check.method", c.Method, "GET", "HEAD", "OPTIONS")
			v.str(file, "check.path", c.Path, ruleURLPath)
			v.optStr(file, "check.hostHeader", c.HostHeader, ruleHostname)
			v.intRange(file, "check.expectStatus", c.ExpectStatus, 100, 599)
		} else {
			for _, f := range []struct {
				key string
				set bool
			}{{"method", c.Method != ""}, {"path", c.Path != ""}, {"hostHeader", c.HostHeader != ""}, {"expectStatus", c.ExpectStatus != 0}} {
				if f.set {
					v.errorf(file, "check."+f.key, "%s applies only to http checks (check.type is tcp)", f.key)
				}
			}
		}
	}
	if c.Interval < Duration(100*time.Millisecond) {
		v.errorf(file, "check.interval", "interval %s is too short: at least 100ms", c.Interval.D())
	} else {
		v.dur(file, "check.interval", c.Interval)
	}
	v.intRange(file, "check.rise", c.Rise, 1, 100)
	v.intRange(file, "check.fall", c.Fall, 1, 100)
	switch c.Port {
	case "":
	case "http", "grpc", "p2p":
		if b.Nodes == nil {
			v.errorf(file, "check.port", "check.port %q names a node port, but this backend selects no nodes: use a port number", c.Port)
		}
	default:
		n, err := strconv.Atoi(c.Port)
		switch {
		case err != nil || strconv.Itoa(n) != c.Port:
			v.errorf(file, "check.port", "check.port %q must be http, grpc, p2p or a port number", c.Port)
		case !ValidPort(n):
			v.errorf(file, "check.port", "check.port %d is out of range 1..65535", n)
		}
	}
}

// nodeSelector checks which nodes a backend selects and on which port.
func (v *validator) nodeSelector(b *Backend, modeOK bool) {
	file, s := b.File, b.Nodes
	if v.oneOf(file, "nodes.port", s.Port, "http", "grpc", "p2p") && modeOK {
		switch {
		case b.Mode == "grpc" && s.Port != "grpc":
			v.errorf(file, "nodes.port", "a grpc backend talks h2 to the nodes' gRPC port: nodes.port must be grpc, got %q", s.Port)
		case b.Mode == "http" && s.Port == "grpc":
			v.errorf(file, "nodes.port", "an http backend cannot use the nodes' gRPC port (it speaks h2 only): use mode grpc or port http")
		}
	}
	modes := make(map[string]int, len(s.Modes))
	for i, m := range s.Modes {
		p := idx("nodes.modes", i)
		if first, dup := modes[m]; dup {
			v.errorf(file, p, "mode %q is already listed at modes[%d]", m, first)
			continue
		}
		modes[m] = i
		v.oneOf(file, p, m, "full", "storage", "cache", "dac")
	}
	clusters := make(map[string]int, len(s.Clusters))
	for i, c := range s.Clusters {
		p := idx("nodes.clusters", i)
		if first, dup := clusters[c]; dup {
			v.errorf(file, p, "cluster %q is already listed at clusters[%d]", c, first)
			continue
		}
		clusters[c] = i
		v.str(file, p, c, ruleClusterID)
	}
}

// failoverTargets checks that every zone another zone fails over to has a
// frontend on the backend's failover port: its VIPs are the backup servers.
func (v *validator) failoverTargets(b *Backend) {
	for _, z := range v.f.Zones {
		for _, name := range z.Failover {
			if t := v.zones[name]; t != nil && t != z && !listens(t, b.Failover.Port) {
				v.errorf(b.File, "failover.port", "failover zone %q has no frontend listening on port %d on a wildcard address or one of its VIPs, so its VIPs cannot serve as backup servers", name, b.Failover.Port)
			}
		}
	}
}

// server checks one static server of a backend.
func (v *validator) server(b *Backend, i int, s *Server, names map[string]int) {
	file, p := b.File, idx("servers", i)
	if v.str(file, p+".name", s.Name, ruleName) {
		if first, dup := names[s.Name]; dup {
			v.errorf(file, p+".name", "server %q is already defined at servers[%d] (%s)", s.Name, first, v.at(file, idx("servers", first)+".name"))
		} else {
			names[s.Name] = i
		}
	}
	if v.str(file, p+".address", s.Address, ruleHost) && v.addressAllowed(file, p+".address", s.Address) {
		v.notLoadBalancer(file, p+".address", s.Address, s.Zone)
	}
	v.port(file, p+".port", s.Port)
	if s.Zone != "" {
		v.zoneRef(file, p+".zone", s.Zone)
	}
	if s.Weight != nil {
		v.intRange(file, p+".weight", *s.Weight, 0, 256)
	}
	if s.Maxconn != nil {
		v.intRange(file, p+".maxconn", *s.Maxconn, 0, MaxMaxconn)
	}
	v.dur(file, p+".slowstart", s.Slowstart)
	v.oneOf(file, p+".state", s.State, "ready", "drain", "maint")
}

// notLoadBalancer reports a server address that is one of the fleet's own
// HAProxy hosts or VIPs in a zone where the server is rendered (zone, or
// every zone when zone is empty): traffic would loop back into HAProxy.
func (v *validator) notLoadBalancer(file, field, address, zone string) {
	a, err := netip.ParseAddr(address)
	if err != nil {
		return
	}
	r, ok := v.addrs[a]
	if !ok {
		return
	}
	if zone != "" && r.zone != zone {
		return
	}
	v.errorf(file, field, "address %q is %s %q of the fleet (%s): traffic would loop back into HAProxy", address, r.what, r.name, v.where(r))
}

// backendServerNames checks that no two servers of a backend share a name
// across the three kinds of servers it renders: static servers, the nodes
// it selects, and the backup servers generated for the failover zones' VIPs
// (named after those VIPs). Node names are looked up by name, so this is
// linear in the number of servers and VIPs.
func (v *validator) backendServerNames() {
	for _, b := range v.f.Backends {
		for i, s := range b.Servers {
			if n := v.nodes[s.Name]; n != nil && selects(b, n) && (s.Zone == "" || s.Zone == n.Zone) {
				v.errorf(b.File, idx("servers", i)+".name", "server name %q clashes with node %q (%s), which this backend selects in zone %q: server names are unique within a backend", s.Name, n.Name, v.at(n.File, "name"), n.Zone)
			}
		}
		if b.Failover == nil || b.Failover.Enabled == nil || !*b.Failover.Enabled {
			continue
		}
		for _, z := range v.f.Zones {
			for _, name := range z.Failover {
				t := v.zones[name]
				if t == nil || t == z {
					continue
				}
				for _, vip := range t.VIPs {
					for i, s := range b.Servers {
						if s.Name == vip.Name && (s.Zone == "" || s.Zone == z.Name) {
							v.errorf(b.File, idx("servers", i)+".name", "server name %q clashes with the backup server this backend generates for vip %q of failover zone %q", s.Name, vip.Name, t.Name)
						}
					}
					if n := v.nodes[vip.Name]; n != nil && n.Zone == z.Name && selects(b, n) {
						v.errorf(n.File, "name", "node name %q clashes with the backup server backend %q generates in zone %q for vip %q of failover zone %q: rename the node", n.Name, b.Name, z.Name, vip.Name, t.Name)
					}
				}
			}
		}
	}
}

// selects reports whether backend b's node selector picks node n (whatever
// its admission: admission changes at run time, names must not clash then).
func selects(b *Backend, n *Node) bool {
	s := b.Nodes
	if s == nil {
		return false
	}
	return (len(s.Modes) == 0 || contains(s.Modes, n.Mode)) && (len(s.Clusters) == 0 || contains(s.Clusters, n.ClusterID))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
