package desired

import (
	"net/netip"
	"strconv"
)

// DNS is fleet.yaml's dns block: one authoritative zone served by the
// fleet's DNS hosts (PowerDNS), whose records answer each client with the
// VIPs of its nearest healthy zone first (docs/dns.md).
type DNS struct {
	// Zone is the DNS zone, fully qualified with its trailing dot (ddc.example.).
	Zone string `yaml:"zone"`
	// TTL is the time to live of every record, in seconds (default 20): a
	// client follows a failover within TTL plus the health-check interval.
	TTL int `yaml:"ttl"`
	// DefaultZone answers clients that are in no zone's clientNetworks.
	DefaultZone string `yaml:"defaultZone"`
	// Nameservers are the DNS hosts: each runs the agent's DNS role (its
	// name is the agent's --host) and is an NS of the zone, NAME.ZONE, with
	// its address as glue.
	Nameservers []*Nameserver `yaml:"nameservers"`
	// Records are the public names, each served by the VIPs of the zones
	// that have its frontend.
	Records []*DNSRecord `yaml:"records"`
}

// Nameserver is one DNS host of the fleet.
type Nameserver struct {
	// Name is a DNS label: the host name of the DNS host and its name in the zone.
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
}

// DNSRecord is one public name of the zone.
type DNSRecord struct {
	// Name is relative to the zone (www, api.eu).
	Name string `yaml:"name"`
	// Frontend names the HTTP frontend whose VIPs and port answer the name;
	// every zone that has it contributes its VIPs.
	Frontend string `yaml:"frontend"`
	// CheckPath is the URL path PowerDNS fetches from each VIP to decide
	// whether it is up (default /health; HTTP 200 means up).
	CheckPath string `yaml:"checkPath"`
}

// DNS defaults, applied by SetDefaults.
const (
	DefaultDNSTTL       = 20
	DefaultDNSCheckPath = "/health"
)

// setDNSDefaults fills the dns block's unset fields.
func setDNSDefaults(f *Fleet) {
	d := f.DNS
	if d == nil {
		return
	}
	setIntAt(&d.TTL, DefaultDNSTTL, f.Source, FleetFile, "dns.ttl")
	for _, r := range d.Records {
		if r != nil {
			setStr(&r.CheckPath, DefaultDNSCheckPath)
		}
	}
}

// Nameserver returns the DNS host named name, or nil: a host the agent runs
// on has the DNS role when it is one of these.
func (f *Fleet) Nameserver(name string) *Nameserver {
	if f.DNS == nil {
		return nil
	}
	for _, ns := range f.DNS.Nameservers {
		if ns != nil && ns.Name == name {
			return ns
		}
	}
	return nil
}

// RecordTarget is what a zone contributes to a DNS record: the VIPs on
// which its frontend listens, and the frontend's port there.
type RecordTarget struct {
	Zone *Zone
	Port int
	VIPs []netip.Addr
}

// RecordTargets returns, for each zone (in name order) that has the
// record's frontend, the VIPs its first bind listens on and that bind's
// port. Zones without the frontend, or whose frontend listens on none of
// the zone's VIPs, are left out. It is the one place that decides which
// addresses answer a record; validation and rendering both use it.
func RecordTargets(f *Fleet, r *DNSRecord) []RecordTarget {
	var out []RecordTarget
	for _, z := range f.Zones {
		fe := zoneFrontend(z, r.Frontend)
		if fe == nil || len(fe.Binds) == 0 {
			continue
		}
		b := fe.Binds[0]
		t := RecordTarget{Zone: z, Port: b.Port}
		for _, vip := range z.VIPs {
			a, err := netip.ParseAddr(vip.Address)
			if err != nil {
				continue
			}
			if b.Address == "" || b.Address == "*" || b.Address == vip.Address {
				t.VIPs = append(t.VIPs, a)
			}
		}
		if len(t.VIPs) > 0 {
			out = append(out, t)
		}
	}
	return out
}

func zoneFrontend(z *Zone, name string) *Frontend {
	for _, fe := range z.Frontends {
		if fe != nil && fe.Name == name {
			return fe
		}
	}
	return nil
}

// ParseClientNetworks returns a zone's client networks as prefixes,
// skipping invalid ones (validation reports them).
func ParseClientNetworks(z *Zone) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(z.ClientNetworks))
	for _, s := range z.ClientNetworks {
		if p, err := netip.ParsePrefix(s); err == nil && p.Masked() == p {
			out = append(out, p)
		}
	}
	return out
}

// dnsRecordField is the field path of dns.records[i].
func dnsRecordField(i int) string { return "dns.records[" + strconv.Itoa(i) + "]" }
