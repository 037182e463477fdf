package desired

import (
	"fmt"
	"net/netip"
)

// PlaceContainer picks, for a new container in zone, its container host
// and its address, deterministically: the zone's container host running
// the fewest containers (the first in the zone file on a tie), and the
// lowest address of the zone's containers.cidr (not its network or
// broadcast address) that no host, VIP, node or container of the fleet
// uses. It needs a decoded fleet, not a valid one.
func PlaceContainer(f *Fleet, zone string) (host, address string, err error) {
	z := f.Zone(zone)
	if z == nil {
		return "", "", fmt.Errorf("zone %q does not exist", zone)
	}
	if z.Containers == nil || len(z.Containers.Hosts) == 0 {
		return "", "", fmt.Errorf("zone %q declares no container hosts (containers: {cidr: ..., hosts: [...]} in %s)", zone, z.File)
	}
	load := map[string]int{}
	used := map[netip.Addr]bool{}
	mark := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil {
			used[a] = true
		}
	}
	for _, c := range f.Containers {
		load[c.Host]++
		mark(c.Address)
	}
	for _, zz := range f.Zones {
		for _, h := range zz.Hosts {
			mark(h.Address)
		}
		for _, v := range zz.VIPs {
			mark(v.Address)
		}
		if zz.Containers != nil {
			mark(zz.Containers.Gateway)
			for _, h := range zz.Containers.Hosts {
				mark(h.Address)
			}
		}
	}
	for _, n := range f.Nodes {
		mark(n.Host)
	}
	best := -1
	for i, h := range z.Containers.Hosts {
		if best < 0 || load[h.Name] < load[z.Containers.Hosts[best].Name] {
			best = i
		}
	}
	p, err := netip.ParsePrefix(z.Containers.CIDR)
	if err != nil {
		return "", "", fmt.Errorf("zone %q containers.cidr %q: %w", zone, z.Containers.CIDR, err)
	}
	p = p.Masked()
	for a := p.Addr(); p.Contains(a); a = a.Next() {
		if used[a] || reservedInPrefix(p, a) != "" {
			continue
		}
		return z.Containers.Hosts[best].Name, a.String(), nil
	}
	return "", "", fmt.Errorf("zone %q has no free address left in containers.cidr %s", zone, p)
}
