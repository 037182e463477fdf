package render

import (
	"bytes"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// DNSZone is the fleet's DNS zone rendered for PowerDNS Authoritative 4.7
// with the bind backend: a zone file whose LUA records answer each client
// with the healthy VIPs of its nearest zone first (docs/dns.md).
type DNSZone struct {
	// Zone is the zone's name with its trailing dot ("ddc.example.").
	Zone string
	// Serial is the SOA serial, Revision the git revision it was rendered from.
	Serial   uint32
	Revision string
	TTL      int
	// Nameservers are the NS records' targets (FQDNs) and their glue.
	Nameservers []DNSNameserver
	// Records say what each name may answer, for verification and plans.
	Records []DNSRecord
	// File is the zone file.
	File []byte
}

// DNSNameserver is one NS of the zone.
type DNSNameserver struct {
	Name    string // FQDN with the trailing dot
	Address netip.Addr
}

// DNSRecord is one LUA record of the zone.
type DNSRecord struct {
	// Name is the FQDN with the trailing dot; Type is A or AAAA.
	Name, Type string
	// CheckURL is the URL PowerDNS fetches from each VIP (ifurlup).
	CheckURL string
	// Answers are the ordered address sets per client zone: the first set
	// with a live address is answered. The default zone's entry has no networks.
	Answers []DNSAnswer
	// Default is the zone whose order answers every other client.
	Default string
}

// DNSAnswer is how a record answers the clients of one zone.
type DNSAnswer struct {
	Zone     string
	Networks []netip.Prefix
	// Sets are the zones' VIPs in order of preference: the client's zone first.
	Sets []DNSSet
}

// DNSSet is one zone's VIPs in an ordered answer.
type DNSSet struct {
	Zone  string
	Addrs []netip.Addr
}

// Addrs returns every address the record may answer, sorted.
func (r *DNSRecord) Addrs() []netip.Addr {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	for _, a := range r.Answers {
		for _, s := range a.Sets {
			for _, ad := range s.Addrs {
				if !seen[ad] {
					seen[ad] = true
					out = append(out, ad)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

// RevisionLabel is the TXT record, relative to the zone, that names the
// revision the zone was rendered from; the agent reads it back to verify
// that PowerDNS serves what it wrote.
const RevisionLabel = "_ddc-revision"

// DNS timing: the SOA's refresh, retry, expire; the negative-answer TTL is
// the zone's TTL.
const (
	soaRefresh = 3600
	soaRetry   = 600
	soaExpire  = 604800
)

// DNSSerial is the SOA serial for a revision committed at t: its Unix time,
// which fits an unsigned 32-bit serial until 2106.
func DNSSerial(t time.Time) uint32 {
	if t.Unix() <= 0 {
		return 1
	}
	return uint32(t.Unix())
}

// RenderDNS renders the fleet's DNS zone with the given serial, naming
// revision in a TXT record. f must come from desired.Load (defaulted and
// validated); RenderDNS still refuses any string outside the characters its
// Lua and zone-file syntax can hold, so nothing can inject either.
func RenderDNS(f *desired.Fleet, serial uint32, revision string) (*DNSZone, error) {
	if f == nil || f.DNS == nil {
		return nil, fmt.Errorf("rendering DNS zone: the fleet has no dns block")
	}
	d := f.DNS
	if !desired.ValidDNSZone(d.Zone) {
		return nil, fmt.Errorf("rendering DNS zone: invalid zone %q", d.Zone)
	}
	if revision != "" && !isLuaSafe(revision) {
		return nil, fmt.Errorf("rendering DNS zone: invalid revision %q", revision)
	}
	if len(d.Nameservers) == 0 {
		return nil, fmt.Errorf("rendering DNS zone %s: no nameservers", d.Zone)
	}
	z := &DNSZone{Zone: d.Zone, Serial: serial, Revision: revision, TTL: d.TTL}
	for _, ns := range d.Nameservers {
		a, err := netip.ParseAddr(ns.Address)
		if err != nil || !desired.ValidDNSLabel(ns.Name) {
			return nil, fmt.Errorf("rendering DNS zone %s: invalid nameserver %q %q", d.Zone, ns.Name, ns.Address)
		}
		z.Nameservers = append(z.Nameservers, DNSNameserver{Name: desired.FQDN(ns.Name, d.Zone), Address: a})
	}
	for _, r := range d.Records {
		recs, err := dnsRecords(f, r)
		if err != nil {
			return nil, fmt.Errorf("rendering DNS zone %s: record %s: %w", d.Zone, r.Name, err)
		}
		z.Records = append(z.Records, recs...)
	}
	sort.SliceStable(z.Records, func(i, j int) bool {
		if z.Records[i].Name != z.Records[j].Name {
			return z.Records[i].Name < z.Records[j].Name
		}
		return z.Records[i].Type < z.Records[j].Type
	})
	z.File = z.zoneFile()
	return z, nil
}

// dnsRecords is the A and/or AAAA LUA record of one name: the VIPs of each
// address family, ordered per client zone.
func dnsRecords(f *desired.Fleet, r *desired.DNSRecord) ([]DNSRecord, error) {
	if !desired.ValidDNSRecordName(r.Name) || !desired.ValidDNSCheckPath(r.CheckPath) {
		return nil, fmt.Errorf("invalid name or checkPath %q %q", r.Name, r.CheckPath)
	}
	targets := desired.RecordTargets(f, r)
	if len(targets) == 0 {
		return nil, fmt.Errorf("frontend %q listens on no VIP", r.Frontend)
	}
	byZone := map[string]desired.RecordTarget{}
	for _, t := range targets {
		byZone[t.Zone.Name] = t
	}
	fqdn := desired.FQDN(r.Name, f.DNS.Zone)
	url := "http://" + strings.TrimSuffix(fqdn, ".") + ":" + strconv.Itoa(targets[0].Port) + r.CheckPath
	var out []DNSRecord
	for _, fam := range []struct {
		typ string
		is  func(netip.Addr) bool
	}{{"A", netip.Addr.Is4}, {"AAAA", netip.Addr.Is6}} {
		rec := DNSRecord{Name: fqdn, Type: fam.typ, CheckURL: url, Default: f.DNS.DefaultZone}
		for _, cz := range f.Zones {
			nets := desired.ParseClientNetworks(cz)
			if len(nets) == 0 && cz.Name != f.DNS.DefaultZone {
				continue
			}
			a := DNSAnswer{Zone: cz.Name, Networks: nets}
			for _, zn := range answerOrder(f, cz) {
				t, ok := byZone[zn]
				if !ok {
					continue
				}
				s := DNSSet{Zone: zn}
				for _, ad := range t.VIPs {
					if fam.is(ad) {
						s.Addrs = append(s.Addrs, ad)
					}
				}
				if len(s.Addrs) > 0 {
					a.Sets = append(a.Sets, s)
				}
			}
			if len(a.Sets) > 0 {
				rec.Answers = append(rec.Answers, a)
			}
		}
		if len(rec.Answers) > 0 {
			out = append(out, rec)
		}
	}
	return out, nil
}

// answerOrder is the order in which a client of zone z is sent to zones:
// z itself, then z's failover zones in their order, then every other zone
// by name. It is the same preference as HAProxy's cross-zone backup servers.
func answerOrder(f *desired.Fleet, z *desired.Zone) []string {
	seen := map[string]bool{z.Name: true}
	out := []string{z.Name}
	for _, n := range z.Failover {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, o := range f.Zones {
		if !seen[o.Name] {
			seen[o.Name] = true
			out = append(out, o.Name)
		}
	}
	return out
}

// zoneFile writes the zone in BIND format, as PowerDNS's bind backend reads it.
func (z *DNSZone) zoneFile() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "; Rendered by ddc-gitops from revision %s; the agent replaces this file.\n", orUnknown(z.Revision))
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL %d\n", z.Zone, z.TTL)
	fmt.Fprintf(&b, "@ IN SOA %s hostmaster.%s %d %d %d %d %d\n", z.Nameservers[0].Name, z.Zone, z.Serial, soaRefresh, soaRetry, soaExpire, z.TTL)
	for _, ns := range z.Nameservers {
		fmt.Fprintf(&b, "@ IN NS %s\n", ns.Name)
	}
	for _, ns := range z.Nameservers {
		typ := "A"
		if ns.Address.Is6() {
			typ = "AAAA"
		}
		fmt.Fprintf(&b, "%s IN %s %s\n", strings.TrimSuffix(ns.Name, "."+z.Zone), typ, ns.Address)
	}
	if z.Revision != "" {
		fmt.Fprintf(&b, "%s IN TXT \"%s\"\n", RevisionLabel, z.Revision)
	}
	for i := range z.Records {
		r := &z.Records[i]
		fmt.Fprintf(&b, "%s IN LUA %s \"%s\"\n", strings.TrimSuffix(r.Name, "."+z.Zone), r.Type, r.lua())
	}
	return b.Bytes()
}

// lua is the record's Lua body: one netmask() branch per client zone, and
// the default zone's order for everyone else. netmask() matches the EDNS
// Client Subnet when the query carries one (edns-subnet-processing=yes),
// else the source address. ifurlup answers the first set with a live
// address; when none is live it answers every address.
func (r *DNSRecord) lua() string {
	var b strings.Builder
	b.WriteString(";")
	var def *DNSAnswer
	for i := range r.Answers {
		a := &r.Answers[i]
		if a.Zone == r.Default {
			def = a
		}
		if len(a.Networks) == 0 {
			continue
		}
		b.WriteString("if netmask({")
		for j, n := range a.Networks {
			if j > 0 {
				b.WriteString(",")
			}
			b.WriteString(luaString(n.String()))
		}
		b.WriteString("}) then return ")
		r.ifurlup(&b, a.Sets)
		b.WriteString(" end ")
	}
	if def == nil {
		def = &r.Answers[0] // the default zone has no VIP of this family
	}
	b.WriteString("return ")
	r.ifurlup(&b, def.Sets)
	return b.String()
}

func (r *DNSRecord) ifurlup(b *strings.Builder, sets []DNSSet) {
	b.WriteString("ifurlup(")
	b.WriteString(luaString(r.CheckURL))
	b.WriteString(", {")
	for i, s := range sets {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("{")
		for j, a := range s.Addrs {
			if j > 0 {
				b.WriteString(",")
			}
			b.WriteString(luaString(a.String()))
		}
		b.WriteString("}")
	}
	b.WriteString("}, {selector='all', backupSelector='all'})")
}

// luaString quotes s as a Lua string literal. Every value it is given comes
// from a validated address, prefix, name or path; it panics on anything
// that could end the literal, so a gap in validation cannot become an
// injection.
func luaString(s string) string {
	if !isLuaSafe(s) {
		panic(fmt.Sprintf("render: %q cannot be written into a Lua record", s))
	}
	return "'" + s + "'"
}

// isLuaSafe reports whether s holds only characters that neither end a Lua
// string literal nor a quoted zone-file field.
func isLuaSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnumByte(c) && !strings.ContainsRune(".:/_~-", rune(c)) {
			return false
		}
	}
	return true
}

func isAlnumByte(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// BindConfig is the named.conf the bind backend reads: the one zone, its
// file at zoneFile (an absolute path).
func BindConfig(zone, zoneFile string) ([]byte, error) {
	if !desired.ValidDNSZone(zone) {
		return nil, fmt.Errorf("rendering named.conf: invalid zone %q", zone)
	}
	if !reAbsPath.MatchString(zoneFile) {
		return nil, fmt.Errorf("rendering named.conf: zone file %q is not an absolute path of letters, digits, '_', '.', '-'", zoneFile)
	}
	return []byte(fmt.Sprintf("# Rendered by ddc-gitops; the agent replaces this file.\nzone \"%s\" { type master; file \"%s\"; };\n", strings.TrimSuffix(zone, "."), zoneFile)), nil
}
