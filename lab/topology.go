package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/internal/netns"
)

// The core network joins the root namespace (rootAddr, on the veth
// <prefix>-up) to the lab router (routerCoreAddr), which has a leg in every
// zone network. It lies at the far end of 198.18.0.0/15 to stay clear of
// fleets' zone networks.
var (
	coreNet        = netip.MustParsePrefix("198.19.255.0/24")
	rootAddr       = netip.MustParseAddr("198.19.255.1")
	routerCoreAddr = netip.MustParseAddr("198.19.255.2")
	labRange       = netip.MustParsePrefix(netns.Range)
)

const (
	routerName = "rt"      // the router's host name (namespace <prefix>-rt)
	coreZone   = "core"    // the core network's bridge is br-core
	uplinkPort = "uplink0" // the switch-side end of the root veth
)

// zoneNet is one zone's network as the lab builds it.
type zoneNet struct {
	zone   *desired.Zone
	cidr   netip.Prefix
	router netip.Addr // the lab router's address in the zone
}

// machine is a namespace the lab creates for a fleet host or a node.
type machine struct {
	name, zone, iface string
	addr              netip.Prefix
	node              *desired.Node          // nil for an HAProxy host
	host              *desired.Host          // nil for a node
	ctr               *desired.ContainerHost // set for a container host
	// spare is set for a node that is not in the fleet: a DDC node the lab
	// runs so that it can be registered on the chain and admitted (its
	// node's Name is the machine's; the simulator reports spare.chainName).
	spare *spare
}

// spare is a node the lab runs outside the fleet, waiting for admission.
type spare struct {
	clusterID string
	chainName string // the name the bot gives it (set once its key is made)
}

// plan is the lab's topology, derived from the fleet.
type plan struct {
	zones    []zoneNet
	machines []machine
	skipped  []string // nodes not simulated, with the reason
	// preempt: an owner takes its VIP back (KeepalivedConf.Preempts), so a
	// settled zone has each VIP on its owner (vips.go).
	preempt bool
}

// planTopology maps the fleet onto namespaces: one per HAProxy host and one
// per node whose host is an address in its zone's network.
func planTopology(f *desired.Fleet) (*plan, error) {
	p := &plan{preempt: f.Keepalived.Preempts()}
	used := map[netip.Addr]bool{}
	for _, z := range f.Zones {
		for _, h := range z.Hosts {
			if a, err := netip.ParseAddr(h.Address); err == nil {
				used[a] = true
			}
		}
		for _, v := range z.VIPs {
			if a, err := netip.ParseAddr(v.Address); err == nil {
				used[a] = true
			}
		}
	}
	for _, n := range f.Nodes {
		if a, err := netip.ParseAddr(n.Host); err == nil {
			used[a] = true
		}
	}
	for _, z := range f.Zones {
		cidr, err := netip.ParsePrefix(z.Network.CIDR)
		if err != nil {
			return nil, fmt.Errorf("zone %s: network %q: %w", z.Name, z.Network.CIDR, err)
		}
		cidr = cidr.Masked()
		if !cidr.Addr().Is4() || !labRange.Contains(cidr.Addr()) || cidr.Bits() < labRange.Bits() || cidr.Overlaps(coreNet) {
			return nil, fmt.Errorf("zone %s: the lab needs zone networks inside %v and outside %v, got %v", z.Name, labRange, coreNet, cidr)
		}
		if len(netns.BridgeName(z.Name)) > 15 {
			return nil, fmt.Errorf("zone %s: the name is too long for the lab's bridge br-%s (at most 12 characters)", z.Name, z.Name)
		}
		router, err := freeAddr(cidr, used)
		if err != nil {
			return nil, fmt.Errorf("zone %s: %w", z.Name, err)
		}
		p.zones = append(p.zones, zoneNet{zone: z, cidr: cidr, router: router})
		for _, h := range z.Hosts {
			a, err := netip.ParseAddr(h.Address)
			if err != nil || !cidr.Contains(a) {
				return nil, fmt.Errorf("host %s: address %q is not in zone %s's network %v", h.Name, h.Address, z.Name, cidr)
			}
			p.machines = append(p.machines, machine{name: h.Name, zone: z.Name, iface: h.Interface,
				addr: netip.PrefixFrom(a, cidr.Bits()), host: h})
		}
	}
	for _, n := range f.Nodes {
		a, err := netip.ParseAddr(n.Host)
		i := slices.IndexFunc(p.zones, func(z zoneNet) bool { return z.zone.Name == n.Zone })
		switch {
		case i < 0:
			p.skipped = append(p.skipped, fmt.Sprintf("%s: zone %q is not in the fleet", n.Name, n.Zone))
		case err != nil || !p.zones[i].cidr.Contains(a):
			p.skipped = append(p.skipped, fmt.Sprintf("%s: host %q is not an address in zone %s's network", n.Name, n.Host, n.Zone))
		case n.HTTPPort == 0:
			p.skipped = append(p.skipped, fmt.Sprintf("%s: no httpPort", n.Name))
		default:
			p.machines = append(p.machines, machine{name: n.Name, zone: n.Zone, iface: "eth0",
				addr: netip.PrefixFrom(a, p.zones[i].cidr.Bits()), node: n})
		}
	}
	return p, nil
}

// addSpares plans one spare node per zone that has nodes with a cluster id:
// a namespace <zone>-spare at the first free address after the zone's
// nodes, with the ports of the zone's first node.
func (p *plan) addSpares(f *desired.Fleet) {
	used := map[netip.Addr]bool{}
	for _, z := range p.zones {
		used[z.router] = true
	}
	for _, m := range p.machines {
		used[m.addr.Addr()] = true
	}
	for _, z := range p.zones {
		var first *desired.Node
		var last netip.Addr
		for _, m := range p.machines {
			if m.node == nil || m.zone != z.zone.Name || m.node.ClusterID == "" {
				continue
			}
			if first == nil {
				first = m.node
			}
			if a := m.addr.Addr(); !last.IsValid() || last.Less(a) {
				last = a
			}
		}
		if first == nil {
			p.skipped = append(p.skipped, fmt.Sprintf("%s-spare: zone %s has no node with a clusterId to copy", z.zone.Name, z.zone.Name))
			continue
		}
		a := last.Next()
		for z.cidr.Contains(a) && used[a] {
			a = a.Next()
		}
		if !z.cidr.Contains(a) || a == lastAddr(z.cidr) {
			p.skipped = append(p.skipped, fmt.Sprintf("%s-spare: no free address in %v", z.zone.Name, z.cidr))
			continue
		}
		used[a] = true
		name := z.zone.Name + "-spare"
		n := &desired.Node{Name: name, Zone: z.zone.Name, Host: a.String(), HTTPPort: first.HTTPPort, GRPCPort: first.GRPCPort,
			P2PPort: first.P2PPort, ClusterID: first.ClusterID}
		p.machines = append(p.machines, machine{name: name, zone: z.zone.Name, iface: "eth0",
			addr: netip.PrefixFrom(a, z.cidr.Bits()), node: n, spare: &spare{clusterID: first.ClusterID}})
	}
}

// lastAddr is the last address of cidr (its broadcast address).
func lastAddr(cidr netip.Prefix) netip.Addr {
	b := cidr.Masked().Addr().As4()
	host := uint32(1)<<(32-cidr.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// freeAddr returns the first or last host address of cidr not in used.
func freeAddr(cidr netip.Prefix, used map[netip.Addr]bool) (netip.Addr, error) {
	first := cidr.Addr().Next()
	if !used[first] {
		return first, nil
	}
	last := cidr.Addr()
	for a := cidr.Addr(); cidr.Contains(a); a = a.Next() {
		last = a
	}
	if a := last.Prev(); cidr.Contains(a) && !used[a] && a != first {
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("no free address in %v for the lab router (tried the first and last)", cidr)
}

// checkRootRoutes fails when the root namespace already routes one of the
// lab's networks (another lab running, or a real network in the way).
func checkRootRoutes(ctx context.Context, p *plan) error {
	nets := []netip.Prefix{coreNet}
	for _, z := range p.zones {
		nets = append(nets, z.cidr)
	}
	var errs []error
	for _, n := range nets {
		out, err := netns.IP(ctx, "-j", "route", "show", "match", n.String())
		if err != nil {
			return fmt.Errorf("checking the root namespace's routes: %w", err)
		}
		var routes []struct {
			Dst string `json:"dst"`
			Dev string `json:"dev"`
		}
		if err := json.Unmarshal(out, &routes); err != nil {
			return fmt.Errorf("parsing the root namespace's routes: %w", err)
		}
		for _, r := range routes {
			if r.Dst == "default" {
				continue
			}
			errs = append(errs, fmt.Errorf("the root namespace already routes %s via %s (%v): another lab running? (`ddc-gitops lab down`)", r.Dst, r.Dev, n))
		}
	}
	return errors.Join(errs...)
}

// build creates the topology: the router, the uplink from the root
// namespace, one namespace per machine, and the routes.
func build(ctx context.Context, prefix string, p *plan, log *slog.Logger, progress func(string, ...any)) (*netns.Lab, error) {
	l, err := netns.NewLab(ctx, prefix, log)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*netns.Lab, error) { return nil, errors.Join(err, l.Close()) }
	links := []netns.Link{{Zone: coreZone, Iface: coreZone, Addr: netip.PrefixFrom(routerCoreAddr, coreNet.Bits())}}
	for _, z := range p.zones {
		links = append(links, netns.Link{Zone: z.zone.Name, Iface: z.zone.Name, Addr: netip.PrefixFrom(z.router, z.cidr.Bits())})
	}
	rt, err := l.AddHost(ctx, routerName, links...)
	if err != nil {
		return fail(err)
	}
	if err := netns.SetForwarding(rt.Netns, true); err != nil {
		return fail(err)
	}
	if err := uplink(ctx, l, prefix, p); err != nil {
		return fail(err)
	}
	progress("network: router %s, uplink %s (%v) from the root namespace", rt.Netns, uplinkName(prefix), rootAddr)
	for _, m := range p.machines {
		h, err := l.AddHost(ctx, m.name, netns.Link{Zone: m.zone, Iface: m.iface, Addr: m.addr})
		if err != nil {
			return fail(err)
		}
		gw := p.zones[slices.IndexFunc(p.zones, func(z zoneNet) bool { return z.zone.Name == m.zone })].router
		if err := netns.AddRoute(ctx, h.Netns, labRange, gw); err != nil {
			return fail(err)
		}
	}
	return l, nil
}

// uplinkName is the root namespace's end of the uplink veth; its name starts
// with the prefix, so netns.Cleanup removes it.
func uplinkName(prefix string) string { return prefix + "-up" }

// uplink joins the root namespace to the core bridge and routes the zone
// networks through the lab router.
func uplink(ctx context.Context, l *netns.Lab, prefix string, p *plan) error {
	sw, up := l.SwitchNetns(), uplinkName(prefix)
	steps := []func() error{
		func() error { return netns.AddVeth(ctx, "", up, sw, uplinkPort) },
		func() error { return netns.SetMaster(ctx, sw, uplinkPort, netns.BridgeName(coreZone)) },
		func() error { return netns.SetLink(ctx, sw, uplinkPort, true) },
		func() error { return netns.AddAddr(ctx, "", up, netip.PrefixFrom(rootAddr, coreNet.Bits())) },
		func() error { return netns.SetLink(ctx, "", up, true) },
		func() error { return netns.WaitOperUp(ctx, "", up, defaultLinkWait) },
	}
	for _, z := range p.zones {
		steps = append(steps, func() error { return netns.AddRoute(ctx, "", z.cidr, routerCoreAddr) })
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return fmt.Errorf("connecting the root namespace to the lab: %w", err)
		}
	}
	return nil
}
