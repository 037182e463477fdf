package pdns

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/ddc-gitops/ddc-gitops/render"
)

// Resolver queries one DNS server (the server the agent manages) over UDP.
type Resolver struct {
	// Addr is host:port.
	Addr    string
	Timeout time.Duration // per query, default 1s
}

// Query asks the server for name/qtype; subnet, when valid, is sent as EDNS
// Client Subnet.
func (r Resolver) Query(ctx context.Context, name string, qtype uint16, subnet netip.Prefix) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = false
	if subnet.IsValid() {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(1232)
		e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, SourceNetmask: uint8(subnet.Bits()), Address: subnet.Addr().AsSlice()}
		e.Family = 1
		if subnet.Addr().Is6() {
			e.Family = 2
		}
		o.Option = append(o.Option, e)
		m.Extra = append(m.Extra, o)
	}
	timeout := r.Timeout
	if timeout == 0 {
		timeout = time.Second
	}
	c := &dns.Client{Net: "udp", Timeout: timeout}
	resp, _, err := c.ExchangeContext(ctx, m, r.Addr)
	if err != nil {
		return nil, fmt.Errorf("querying %s %s at %s: %w", name, dns.TypeToString[qtype], r.Addr, err)
	}
	return resp, nil
}

// Addrs queries name/qtype (A or AAAA) and returns the answered addresses, sorted.
func (r Resolver) Addrs(ctx context.Context, name string, qtype uint16, subnet netip.Prefix) ([]netip.Addr, error) {
	resp, err := r.Query(ctx, name, qtype, subnet)
	if err != nil {
		return nil, err
	}
	if resp.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("%s %s at %s: %s", name, dns.TypeToString[qtype], r.Addr, dns.RcodeToString[resp.Rcode])
	}
	var out []netip.Addr
	for _, rr := range resp.Answer {
		switch v := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(v.A.To4()); ok {
				out = append(out, a)
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(v.AAAA); ok {
				out = append(out, a)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out, nil
}

// Verify checks that the server answers the zone as rendered: the SOA
// serial, the NS set, the revision TXT record, and for every record an
// answer of addresses that the record may give. It returns every
// difference it finds (nil when the server serves z).
func Verify(ctx context.Context, r Resolver, z *render.DNSZone) []string {
	var diffs []string
	resp, err := r.Query(ctx, z.Zone, dns.TypeSOA, netip.Prefix{})
	switch {
	case err != nil:
		return []string{err.Error()}
	case resp.Rcode != dns.RcodeSuccess || len(resp.Answer) == 0:
		return []string{fmt.Sprintf("SOA %s: %s with %d answers (the zone is not served)", z.Zone, dns.RcodeToString[resp.Rcode], len(resp.Answer))}
	}
	if soa, ok := resp.Answer[0].(*dns.SOA); !ok || soa.Serial != z.Serial {
		got := "none"
		if ok {
			got = fmt.Sprint(soa.Serial)
		}
		diffs = append(diffs, fmt.Sprintf("SOA serial of %s is %s, want %d", z.Zone, got, z.Serial))
	}
	if resp, err := r.Query(ctx, z.Zone, dns.TypeNS, netip.Prefix{}); err != nil {
		diffs = append(diffs, err.Error())
	} else {
		var got, want []string
		for _, rr := range resp.Answer {
			if ns, ok := rr.(*dns.NS); ok {
				got = append(got, ns.Ns)
			}
		}
		for _, ns := range z.Nameservers {
			want = append(want, ns.Name)
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			diffs = append(diffs, fmt.Sprintf("NS of %s are [%s], want [%s]", z.Zone, strings.Join(got, " "), strings.Join(want, " ")))
		}
	}
	if z.Revision != "" {
		name := render.RevisionLabel + "." + z.Zone
		resp, err := r.Query(ctx, name, dns.TypeTXT, netip.Prefix{})
		got := ""
		if err == nil {
			for _, rr := range resp.Answer {
				if t, ok := rr.(*dns.TXT); ok {
					got = strings.Join(t.Txt, "")
				}
			}
		}
		if got != z.Revision {
			diffs = append(diffs, fmt.Sprintf("TXT %s is %q, want %q", name, got, z.Revision))
		}
	}
	for i := range z.Records {
		rec := &z.Records[i]
		qtype := dns.TypeA
		if rec.Type == "AAAA" {
			qtype = dns.TypeAAAA
		}
		got, err := r.Addrs(ctx, rec.Name, qtype, netip.Prefix{})
		if err != nil {
			diffs = append(diffs, err.Error())
			continue
		}
		if len(got) == 0 {
			diffs = append(diffs, fmt.Sprintf("%s %s has no answer", rec.Name, rec.Type))
			continue
		}
		allowed := map[netip.Addr]bool{}
		for _, a := range rec.Addrs() {
			allowed[a] = true
		}
		for _, a := range got {
			if !allowed[a] {
				diffs = append(diffs, fmt.Sprintf("%s %s answers %s, which is none of its VIPs", rec.Name, rec.Type, a))
			}
		}
	}
	return diffs
}
