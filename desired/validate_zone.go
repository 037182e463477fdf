package desired

import (
	"math"
	"net/netip"
	"path"
)

// zone checks one zone file: its network, VIPs, hosts, failover, frontends
// and stats.
func (v *validator) zone(z *Zone) {
	file := z.File
	v.kind(file, z.Kind, KindZone)
	if v.str(file, "name", z.Name, ruleName) {
		if first := v.zones[z.Name]; first != z {
			v.errorf(file, "name", "zone %q is already defined in %s", z.Name, v.at(first.File, "name"))
		}
	}
	if dir := path.Dir(file); path.Base(file) == ZoneFile && path.Dir(dir) == ZonesDir {
		v.placement(file, "zone", z.Name, path.Base(dir), ZonesDir+"/<name>/"+ZoneFile)
	}
	v.intRange(file, "reloadGeneration", z.ReloadGeneration, 0, math.MaxInt32)

	v.str(file, "network.name", z.Network.Name, ruleName)
	prefix, prefixOK := v.cidr(file, "network.cidr", z.Network.CIDR)

	v.failover(z)

	vipIndex := make(map[string]int, len(z.VIPs))
	for i, vip := range z.VIPs {
		v.vip(z, i, vip, prefix, prefixOK)
		if _, dup := vipIndex[vip.Name]; !dup {
			vipIndex[vip.Name] = i
		}
	}
	if len(z.Hosts) == 0 {
		v.errorf(file, "hosts", "zone %q has no hosts: a zone needs at least one HAProxy host", z.Name)
	}
	owner := make([]ownerRef, len(z.VIPs))
	for i, h := range z.Hosts {
		v.host(z, i, h, prefix, prefixOK, vipIndex, owner)
	}
	for i, vip := range z.VIPs {
		if owner[i].field == "" && vipIndex[vip.Name] == i && len(z.Hosts) > 0 {
			v.errorf(file, idx("vips", i), "vip %q has no owner: list it in the owns of exactly one host of zone %q", vip.Name, z.Name)
		}
	}

	binds := newBindSet()
	feNames := make(map[string]int, len(z.Frontends))
	for i, fe := range z.Frontends {
		v.frontend(z, i, fe, feNames, binds)
	}
	if z.Stats != nil {
		v.stats(z, binds)
	}
	if z.Containers != nil {
		v.zoneContainers(z, prefix, prefixOK)
	}
}

// cidr checks the zone's network prefix.
func (v *validator) cidr(file, field, s string) (netip.Prefix, bool) {
	if s == "" {
		v.errorf(file, field, "cidr is required (the zone's network, e.g. 198.18.1.0/24)")
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		v.errorf(file, field, "cidr %q is not a network prefix like 198.18.1.0/24", s)
		return netip.Prefix{}, false
	}
	if p.Masked() != p {
		v.errorf(file, field, "cidr %q has host bits set: did you mean %q?", s, p.Masked().String())
		return netip.Prefix{}, false
	}
	return p, true
}

// failover checks the zone's failover list.
func (v *validator) failover(z *Zone) {
	seen := make(map[string]int, len(z.Failover))
	for i, name := range z.Failover {
		field := idx("failover", i)
		switch first, dup := seen[name]; {
		case name == "":
			v.errorf(z.File, field, "failover entry is empty: name a zone")
		case name == z.Name:
			v.errorf(z.File, field, "zone %q cannot fail over to itself", name)
		case dup:
			v.errorf(z.File, field, "zone %q is already listed in failover[%d]", name, first)
		default:
			seen[name] = i
			v.zoneRef(z.File, field, name)
		}
	}
}

// vip checks one VIP and records its name, address and router ID fleet-wide.
func (v *validator) vip(z *Zone, i int, vip *VIP, prefix netip.Prefix, prefixOK bool) {
	file, p := z.File, idx("vips", i)
	if v.str(file, p+".name", vip.Name, ruleName) {
		r := ref{what: "vip", name: vip.Name, zone: z.Name, file: file, field: p + ".name"}
		if first, dup := v.vipNames[vip.Name]; dup {
			v.errorf(file, r.field, "vip name %q is already used in %s (VIP names are unique fleet-wide)", vip.Name, v.where(first))
		} else {
			v.vipNames[vip.Name] = r
		}
	}
	v.address(file, p+".address", "vip", vip.Name, vip.Address, prefix, prefixOK, z)
	if v.intRange(file, p+".routerId", vip.RouterID, 1, 255) && z.Network.Name != "" {
		k := vrid{z.Network.Name, vip.RouterID}
		if first, dup := v.routerIDs[k]; dup {
			v.errorf(file, p+".routerId", "routerId %d is already used by vip %q (%s) on network %q", vip.RouterID, first.name, v.where(first), z.Network.Name)
		} else {
			v.routerIDs[k] = ref{what: "vip", name: vip.Name, zone: z.Name, file: file, field: p + ".routerId"}
		}
	}
	v.optStr(file, p+".interface", vip.Interface, ruleInterface)
}

// host checks one host, its address and the VIPs it owns.
func (v *validator) host(z *Zone, i int, h *Host, prefix netip.Prefix, prefixOK bool, vipIndex map[string]int, owner []ownerRef) {
	file, p := z.File, idx("hosts", i)
	if v.str(file, p+".name", h.Name, ruleName) {
		r := ref{what: "host", name: h.Name, zone: z.Name, file: file, field: p + ".name"}
		if first, dup := v.hostNames[h.Name]; dup {
			v.errorf(file, r.field, "host name %q is already used in %s (host names are unique fleet-wide)", h.Name, v.where(first))
		} else {
			v.hostNames[h.Name] = r
		}
	}
	v.address(file, p+".address", "host", h.Name, h.Address, prefix, prefixOK, z)
	v.str(file, p+".interface", h.Interface, ruleInterface)

	k := &v.f.Keepalived
	if v.intRange(file, p+".priority", h.Priority, 1, 254) {
		if h.Priority >= k.OwnerPriority {
			v.errorf(file, p+".priority", "priority %d must be lower than keepalived.ownerPriority %d, so a VIP's owner wins the election", h.Priority, k.OwnerPriority)
		} else if w := abs(k.TrackWeight); w != 0 && k.OwnerPriority-w >= h.Priority {
			v.errorf(file, p+".priority", "priority %d must be higher than keepalived.ownerPriority %d minus |trackWeight| %d, so a VIP leaves an owner whose haproxy is down", h.Priority, k.OwnerPriority, w)
		}
	}

	own := make(map[string]int, len(h.Owns))
	for j, name := range h.Owns {
		field := idx(p+".owns", j)
		if first, dup := own[name]; dup {
			v.errorf(file, field, "vip %q is already listed in owns[%d]", name, first)
			continue
		}
		own[name] = j
		vi, ok := vipIndex[name]
		if !ok {
			if other := v.vipZone[name]; other != nil {
				v.errorf(file, field, "vip %q belongs to zone %q: a host owns only VIPs of its own zone %q", name, other.Name, z.Name)
			} else {
				v.errorf(file, field, "zone %q has no vip %q", z.Name, name)
			}
			continue
		}
		if prev := owner[vi]; prev.field != "" {
			v.errorf(file, field, "two owners of vip %q: host %q (%s) and host %q; a VIP has exactly one owner", name, prev.host, v.at(file, prev.field), h.Name)
			continue
		}
		owner[vi] = ownerRef{h.Name, field}
	}
}

// ownerRef is the host that owns a VIP and the owns entry that says so.
type ownerRef struct{ host, field string }

// address checks a host or VIP address: an IP literal inside the zone's
// network, not its network or broadcast address, unused elsewhere in the fleet.
func (v *validator) address(file, field, what, name, s string, prefix netip.Prefix, prefixOK bool, z *Zone) {
	if !v.str(file, field, s, ruleIP) {
		return
	}
	a := netip.MustParseAddr(s)
	if prefixOK {
		switch {
		case !prefix.Contains(a):
			v.errorf(file, field, "address %q is outside the network %q of zone %q", s, z.Network.CIDR, z.Name)
		case reservedInPrefix(prefix, a) != "":
			v.errorf(file, field, "address %q is the %s address of %q, not usable by a host or VIP", s, reservedInPrefix(prefix, a), z.Network.CIDR)
		}
	}
	if first, dup := v.addrs[a]; dup {
		v.errorf(file, field, "address %q is already the address of %s %q (%s)", s, first.what, first.name, v.where(first))
		return
	}
	v.addrs[a] = ref{what: what, name: name, zone: z.Name, file: file, field: field}
}

// reservedInPrefix names what a is when it is the network address of p or,
// for IPv4, its broadcast address (both usable in /31 and /32 networks);
// otherwise it returns "".
func reservedInPrefix(p netip.Prefix, a netip.Addr) string {
	if p.Bits() >= p.Addr().BitLen()-1 {
		return ""
	}
	if a == p.Addr() {
		return "network"
	}
	if !a.Is4() {
		return ""
	}
	b := p.Addr().As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n |= 1<<(32-p.Bits()) - 1
	if a == netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}) {
		return "broadcast"
	}
	return ""
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
