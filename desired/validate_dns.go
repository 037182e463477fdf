package desired

import (
	"net/netip"
	"strconv"
)

// Bounds of dns.ttl, in seconds: at least 1 (0 would defeat caching
// resolvers' protection of the DNS hosts), at most an hour (failover in DNS
// takes up to TTL plus the health-check interval).
const (
	MinDNSTTL = 1
	MaxDNSTTL = 3600
)

// clientNet is one client network and where it is declared, for overlap messages.
type clientNet struct {
	prefix      netip.Prefix
	zone        string
	file, field string
}

// clientNetworks checks every zone's clientNetworks: canonical prefixes that
// overlap no other client network of the fleet.
func (v *validator) clientNetworks() {
	var seen []clientNet
	for _, z := range v.f.Zones {
		for i, s := range z.ClientNetworks {
			field := idx("clientNetworks", i)
			p, err := netip.ParsePrefix(s)
			switch {
			case err != nil:
				v.errorf(z.File, field, "clientNetwork %q is not a network prefix like 198.18.10.0/24", s)
				continue
			case p.Masked() != p:
				v.errorf(z.File, field, "clientNetwork %q has host bits set: did you mean %q?", s, p.Masked().String())
				continue
			case p.String() != s:
				v.errorf(z.File, field, "clientNetwork %q is not in canonical form: write %q", s, p.String())
				continue
			}
			c := clientNet{p, z.Name, z.File, field}
			for _, o := range seen {
				if o.prefix.Overlaps(p) {
					v.errorf(z.File, field, "clientNetwork %q overlaps %q of zone %q (%s): a client network belongs to exactly one zone", s, o.prefix.String(), o.zone, v.at(o.file, o.field))
					break
				}
			}
			seen = append(seen, c)
		}
	}
}

// dns checks fleet.yaml's dns block against the zones it draws VIPs from.
func (v *validator) dns() {
	d := v.f.DNS
	if d == nil || v.broken.fleet {
		return
	}
	const file = FleetFile
	zoneOK := v.str(file, "dns.zone", d.Zone, ruleDNSZone)
	if d.TTL < MinDNSTTL || d.TTL > MaxDNSTTL {
		v.errorf(file, "dns.ttl", "ttl %d is out of range %d..%d seconds", d.TTL, MinDNSTTL, MaxDNSTTL)
	}
	if d.DefaultZone == "" {
		v.errorf(file, "dns.defaultZone", "defaultZone is required: the zone that answers clients outside every zone's clientNetworks")
	} else {
		v.zoneRef(file, "dns.defaultZone", d.DefaultZone)
	}

	names := map[string]string{} // owner name in the zone -> field that defines it
	if len(d.Nameservers) == 0 {
		v.errorf(file, "dns.nameservers", "nameservers is required: at least one DNS host serves the zone")
	}
	for i, ns := range d.Nameservers {
		p := "dns.nameservers[" + strconv.Itoa(i) + "]"
		if ns == nil {
			v.errorf(file, p, "nameserver entry is empty")
			continue
		}
		if v.str(file, p+".name", ns.Name, ruleDNSLabel) {
			switch first, dup := names[ns.Name]; {
			case dup:
				v.errorf(file, p+".name", "name %q is already defined in %s", ns.Name, v.at(file, first))
			default:
				names[ns.Name] = p + ".name"
				if h, dup := v.hostNames[ns.Name]; dup {
					v.errorf(file, p+".name", "nameserver %q has the name of host %q (%s): the agent finds its role by host name", ns.Name, h.name, v.where(h))
				} else if zoneOK && !fqdnFits(ns.Name, d.Zone) {
					v.errorf(file, p+".name", "name %q makes %q longer than 253 characters", ns.Name, FQDN(ns.Name, d.Zone))
				}
			}
		}
		if v.str(file, p+".address", ns.Address, ruleIP) {
			a := netip.MustParseAddr(ns.Address)
			if first, dup := v.addrs[a]; dup {
				v.errorf(file, p+".address", "address %q is already the address of %s %q (%s)", ns.Address, first.what, first.name, v.where(first))
			} else {
				v.addrs[a] = ref{what: "nameserver", name: ns.Name, file: file, field: p + ".address"}
			}
		}
	}

	for i, r := range d.Records {
		p := dnsRecordField(i)
		if r == nil {
			v.errorf(file, p, "record entry is empty")
			continue
		}
		if v.str(file, p+".name", r.Name, ruleDNSRecordName) {
			if first, dup := names[r.Name]; dup {
				v.errorf(file, p+".name", "name %q is already defined in %s", r.Name, v.at(file, first))
			} else {
				names[r.Name] = p + ".name"
				if zoneOK && !fqdnFits(r.Name, d.Zone) {
					v.errorf(file, p+".name", "name %q makes %q longer than 253 characters", r.Name, FQDN(r.Name, d.Zone))
				}
			}
		}
		v.str(file, p+".checkPath", r.CheckPath, ruleDNSCheckPath)
		if v.str(file, p+".frontend", r.Frontend, ruleName) {
			v.recordFrontend(p, r)
		}
	}
}

// recordFrontend checks that a record's frontend exists, can be health
// checked over plain HTTP and listens on the same port on some VIPs in
// every zone that has it.
func (v *validator) recordFrontend(p string, r *DNSRecord) {
	const file = FleetFile
	field := p + ".frontend"
	found := false
	for _, z := range v.f.Zones {
		fe := zoneFrontend(z, r.Frontend)
		if fe == nil {
			continue
		}
		found = true
		if fe.Mode != "http" || fe.TLS != nil {
			v.errorf(file, field, "frontend %q of zone %q is not a plain HTTP frontend (mode http without tls): DNS health checks fetch %s from each VIP over HTTP", r.Frontend, z.Name, r.CheckPath)
			return
		}
	}
	if !found {
		v.errorf(file, field, "unknown frontend %q: no zone has a frontend of that name (frontends: %s)", r.Frontend, v.frontendList())
		return
	}
	targets := RecordTargets(v.f, r)
	if len(targets) == 0 {
		v.errorf(file, field, "frontend %q listens on no VIP in any zone: the record would have no address", r.Frontend)
		return
	}
	for _, t := range targets[1:] {
		if t.Port != targets[0].Port {
			v.errorf(file, field, "frontend %q listens on port %d in zone %q but %d in zone %q: a DNS name has one port, so the frontend needs the same port in every zone", r.Frontend, targets[0].Port, targets[0].Zone.Name, t.Port, t.Zone.Name)
			return
		}
	}
}

// frontendList names every frontend of the fleet, for "unknown frontend" messages.
func (v *validator) frontendList() string {
	seen := map[string]bool{}
	var names []string
	for _, z := range v.f.Zones {
		for _, fe := range z.Frontends {
			if fe != nil && !seen[fe.Name] {
				seen[fe.Name] = true
				names = append(names, fe.Name)
			}
		}
	}
	return listNames(names, func(s string) string { return s })
}
