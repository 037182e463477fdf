package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/internal/netns"
)

// The lab's geo DNS (docs/dns.md): a namespace per dns.nameservers entry on
// its own network, running pdns_server under the DNS host's agent, and one
// client namespace per zone inside the zone's first client network. These
// networks hang off a second router, "drt", on the core network, so the
// zone networks' router and the zone APIs stay as they are.
var drtCoreAddr = netip.MustParseAddr("198.19.255.3")

const (
	dnsRouterName = "drt"
	dnsAgentTop   = 190 // agentAddr(190) = 198.19.255.200
)

// DNSInfo describes the lab's DNS (nil in Info when the fleet has no dns block).
type DNSInfo struct {
	// Zone is the DNS zone; Names its records' FQDNs (without the final dot).
	Zone  string
	Names []string
	// Servers are the DNS hosts, Clients the client namespaces, one per zone.
	Servers []DNSServerInfo
	Clients []DNSClientInfo
}

// DNSServerInfo is one DNS host: pdns_server answers on Address:53 in
// Netns, its agent's API is AgentURL.
type DNSServerInfo struct {
	Name, Address, Netns, AgentURL, ConfigDir string
}

// DNSClientInfo is a client namespace inside a zone's client network.
type DNSClientInfo struct {
	Zone, Machine, Netns, Address string
	// Network is the zone's client network the address lies in.
	Network string
}

// dnsNet is one network of the DNS part: the nameservers' or a zone's clients'.
type dnsNet struct {
	name   string // bridge br-<name>
	cidr   netip.Prefix
	router netip.Addr // drt's address there
}

// dnsPlan is the DNS part of the lab's topology.
type dnsPlan struct {
	zone     string
	names    []string
	nets     []dnsNet
	servers  []dnsMachine
	clients  []dnsMachine
	poll     time.Duration
	agentURL map[string]string
}

// dnsMachine is a namespace of the DNS part.
type dnsMachine struct {
	name, zone, net string // zone: the client's zone; net: the dnsNet it is on
	addr            netip.Prefix
}

// planDNS maps the fleet's dns block onto the lab: nil when there is none.
func planDNS(f *desired.Fleet, p *plan) (*dnsPlan, error) {
	if f.DNS == nil {
		return nil, nil
	}
	d := &dnsPlan{zone: f.DNS.Zone, agentURL: map[string]string{}}
	for _, r := range f.DNS.Records {
		d.names = append(d.names, strings.TrimSuffix(desired.FQDN(r.Name, f.DNS.Zone), "."))
	}
	taken := []netip.Prefix{coreNet}
	for _, z := range p.zones {
		taken = append(taken, z.cidr)
	}
	addNet := func(name string, cidr netip.Prefix) (*dnsNet, error) {
		for _, n := range d.nets {
			if n.cidr == cidr {
				return &n, nil
			}
		}
		if !cidr.Addr().Is4() || !labRange.Contains(cidr.Addr()) || cidr.Bits() < labRange.Bits() || cidr.Bits() > 29 {
			return nil, fmt.Errorf("dns network %s %v: the lab needs an IPv4 network of /15 to /29 inside %v", name, cidr, labRange)
		}
		for _, t := range taken {
			if t.Overlaps(cidr) {
				return nil, fmt.Errorf("dns network %s %v overlaps the lab network %v", name, cidr, t)
			}
		}
		if len(netns.BridgeName(name)) > 15 {
			return nil, fmt.Errorf("dns network %s: name too long for a bridge", name)
		}
		taken = append(taken, cidr)
		d.nets = append(d.nets, dnsNet{name: name, cidr: cidr, router: cidr.Addr().Next()})
		return &d.nets[len(d.nets)-1], nil
	}
	for _, ns := range f.DNS.Nameservers {
		a, err := netip.ParseAddr(ns.Address)
		if err != nil || !a.Is4() {
			return nil, fmt.Errorf("nameserver %s: the lab needs an IPv4 address, got %q", ns.Name, ns.Address)
		}
		n, err := addNet("dns", netip.PrefixFrom(a, 24).Masked())
		if err != nil {
			return nil, err
		}
		if a == n.router || a == lastAddr(n.cidr) {
			return nil, fmt.Errorf("nameserver %s: %v is the lab router's or the broadcast address of %v", ns.Name, a, n.cidr)
		}
		d.servers = append(d.servers, dnsMachine{name: ns.Name, net: n.name, addr: netip.PrefixFrom(a, n.cidr.Bits())})
	}
	for _, z := range f.Zones {
		nets := desired.ParseClientNetworks(z)
		if len(nets) == 0 {
			continue
		}
		n, err := addNet(z.Name+"-cl", nets[0])
		if err != nil {
			return nil, fmt.Errorf("zone %s: %w", z.Name, err)
		}
		d.clients = append(d.clients, dnsMachine{name: z.Name + "-client", zone: z.Name, net: n.name,
			addr: netip.PrefixFrom(n.router.Next(), n.cidr.Bits())})
	}
	return d, nil
}

// startDNS builds the DNS networks (router drt, nameserver and client
// namespaces, routes) and starts each DNS host's agent with --supervise,
// which runs pdns_server in the host's namespace.
func (l *lab) startDNS(ctx context.Context, repoURL, tokenFile string) error {
	d := l.dns
	if d == nil {
		return nil
	}
	for _, n := range d.nets {
		out, err := netns.IP(ctx, "route", "show", "match", n.cidr.String())
		if err != nil {
			return fmt.Errorf("lab: dns: checking the root namespace's routes: %w", err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line != "" && !strings.HasPrefix(line, "default") {
				return fmt.Errorf("lab: dns: the root namespace already routes %v (%s): another lab running? (`ddc-gitops lab down`)", n.cidr, line)
			}
		}
	}
	links := []netns.Link{{Zone: coreZone, Iface: coreZone, Addr: netip.PrefixFrom(drtCoreAddr, coreNet.Bits())}}
	for _, n := range d.nets {
		links = append(links, netns.Link{Zone: n.name, Iface: n.name, Addr: netip.PrefixFrom(n.router, n.cidr.Bits())})
	}
	drt, err := l.net.AddHost(ctx, dnsRouterName, links...)
	if err != nil {
		return fmt.Errorf("lab: dns router: %w", err)
	}
	if err := netns.SetForwarding(drt.Netns, true); err != nil {
		return fmt.Errorf("lab: dns router: %w", err)
	}
	rt := l.net.Host(routerName)
	for _, z := range l.plan.zones {
		if err := netns.AddRoute(ctx, drt.Netns, z.cidr, routerCoreAddr); err != nil {
			return fmt.Errorf("lab: dns router: %w", err)
		}
	}
	for _, n := range d.nets {
		for _, ns := range []string{"", rt.Netns} {
			if err := netns.AddRoute(ctx, ns, n.cidr, drtCoreAddr); err != nil {
				return fmt.Errorf("lab: route to %v: %w", n.cidr, err)
			}
		}
	}
	for _, m := range append(append([]dnsMachine{}, d.servers...), d.clients...) {
		h, err := l.net.AddHost(ctx, m.name, netns.Link{Zone: m.net, Iface: "eth0", Addr: m.addr})
		if err != nil {
			return fmt.Errorf("lab: %w", err)
		}
		gw := d.nets[0].router
		for _, n := range d.nets {
			if n.name == m.net {
				gw = n.router
			}
		}
		if err := netns.AddRoute(ctx, h.Netns, labRange, gw); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
	}
	d.poll = time.Second
	for i, s := range d.servers {
		hd := filepath.Join(l.o.StateDir, "hosts", s.name)
		if err := os.MkdirAll(hd, 0o755); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
		// DNS agents count down from the top of the agents' range
		// (198.19.255.200), clear of the HAProxy and container hosts'
		// agents, which count up from 198.19.255.10.
		addr, err := agentAddr(dnsAgentTop - i)
		if err != nil {
			return err
		}
		if err := netns.AddAddr(ctx, "", uplinkName(l.o.Prefix), netip.PrefixFrom(addr, 32)); err != nil {
			return fmt.Errorf("lab: address for the agent of %s: %w", s.name, err)
		}
		listen := net.JoinHostPort(addr.String(), strconv.Itoa(AgentPort))
		// The DNS agent polls every second: the lab's push webhooks reach
		// the HAProxy hosts' agents through the zone APIs only.
		args := []string{"agent", "--repo", repoURL, "--host", s.name, "--state-dir", filepath.Join(hd, "state"),
			"--supervise", "--netns", l.o.Prefix + "-" + s.name,
			"--pdns-config-dir", filepath.Join(hd, "pdns"), "--pdns-health-interval", "1s",
			"--listen", listen, "--sync-token-file", tokenFile, "--poll", d.poll.String()}
		if _, err := l.start(s.name, "", args); err != nil {
			return err
		}
		d.agentURL[s.name] = "http://" + listen
	}
	l.progress("dns: %d DNS hosts (pdns_server under the agent), %d client namespaces", len(d.servers), len(d.clients))
	return nil
}

// waitDNS waits until every DNS host answers every record, then fills info.DNS.
func (l *lab) waitDNS(ctx context.Context, info *Info) error {
	d := l.dns
	if d == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, l.o.StartTimeout)
	defer cancel()
	di := &DNSInfo{Zone: d.zone, Names: d.names}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for _, s := range d.servers {
		server := net.JoinHostPort(s.addr.Addr().String(), "53")
		var last error
		for {
			if last = answersAll(ctx, server, d.names); last == nil {
				break
			}
			if c := l.deadChild(); c != nil {
				return fmt.Errorf("lab: %s exited (%v) while the lab started; the end of its log %s:\n%s", c.name, c.err, c.logPath, c.tail(15))
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("lab: DNS host %s did not answer within %v (last: %v); see %s", s.name, l.o.StartTimeout, last, filepath.Join(l.o.StateDir, "logs", s.name+".log"))
			case <-tick.C:
			}
		}
		l.progress("DNS host %s answers on %s", s.name, server)
		di.Servers = append(di.Servers, DNSServerInfo{Name: s.name, Address: s.addr.Addr().String(), Netns: l.o.Prefix + "-" + s.name,
			AgentURL: d.agentURL[s.name], ConfigDir: filepath.Join(l.o.StateDir, "hosts", s.name, "pdns")})
	}
	for _, c := range d.clients {
		network := ""
		for _, n := range d.nets {
			if n.name == c.net {
				network = n.cidr.String()
			}
		}
		di.Clients = append(di.Clients, DNSClientInfo{Zone: c.zone, Machine: c.name, Netns: l.o.Prefix + "-" + c.name,
			Address: c.addr.Addr().String(), Network: network})
	}
	info.DNS = di
	return nil
}

// answersAll reports whether server answers an A record for every name.
func answersAll(ctx context.Context, server string, names []string) error {
	c := &dns.Client{Timeout: time.Second}
	for _, n := range names {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(n), dns.TypeA)
		resp, _, err := c.ExchangeContext(ctx, m, server)
		if err != nil {
			return err
		}
		if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) == 0 {
			return fmt.Errorf("%s: %s with %d answers", n, dns.RcodeToString[resp.Rcode], len(resp.Answer))
		}
	}
	return nil
}

// printDNS prints the DNS part of the lab and a dig / curl walkthrough.
func printDNS(w io.Writer, info Info) {
	d := info.DNS
	if d == nil || len(d.Servers) == 0 || len(d.Names) == 0 {
		return
	}
	s := d.Servers[0]
	for _, sv := range d.Servers {
		fmt.Fprintf(w, "  DNS server       %s (%s) at %s port 53, zone %s; agent %s\n", sv.Address, sv.Name, sv.Netns, d.Zone, sv.AgentURL)
	}
	for _, c := range d.Clients {
		fmt.Fprintf(w, "  DNS client       %s (%s, in zone %s's client network %s)\n", c.Netns, c.Address, c.Zone, c.Network)
	}
	name := d.Names[0]
	fmt.Fprintf(w, "\nGeo DNS (docs/dns.md):\n  dig +short @%[1]s %[2]s                      # from this machine: the default zone's VIPs\n", s.Address, name)
	for _, c := range d.Clients {
		fmt.Fprintf(w, "  dig +short @%[1]s %[2]s +subnet=%[3]s  # EDNS Client Subnet: zone %[4]s's VIPs\n", s.Address, name, c.Network, c.Zone)
	}
	for _, c := range d.Clients {
		fmt.Fprintf(w, "  ip netns exec %[1]s sh -c 'curl -s --resolve %[2]s:80:$(dig +short @%[3]s %[2]s | head -1) http://%[2]s/health'  # zone %[4]s's client\n",
			c.Netns, name, s.Address, c.Zone)
	}
}
