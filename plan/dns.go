package plan

import (
	"bufio"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// DNSPlan is what the fleet's DNS hosts do between two revisions: reload
// the zone (every revision changes its serial and revision record) and,
// listed, the changes to what it answers.
type DNSPlan struct {
	// Zone is the new revision's zone (the old one's when dns is removed).
	Zone string `json:"zone"`
	// Nameservers are the DNS hosts that apply the change.
	Nameservers []string `json:"nameservers"`
	// Action is ActionReload: the DNS hosts write, check and reload the zone.
	Action  Action   `json:"action"`
	Changes []string `json:"changes,omitempty"`
}

// DiffDNS plans the dns block of two revisions; nil when neither has one
// or nothing it answers changes.
func DiffDNS(old, new *desired.Fleet) (*DNSPlan, error) {
	oz, err := renderDNS(old)
	if err != nil {
		return nil, fmt.Errorf("planning DNS: the old revision: %w", err)
	}
	nz, err := renderDNS(new)
	if err != nil {
		return nil, fmt.Errorf("planning DNS: the new revision: %w", err)
	}
	if oz == nil && nz == nil {
		return nil, nil
	}
	p := &DNSPlan{}
	switch {
	case nz == nil:
		p.Zone = oz.Zone
		p.Changes = append(p.Changes, fmt.Sprintf("dns removed: zone %s is no longer rendered (its DNS hosts keep serving the last zone)", oz.Zone))
		p.Action = ActionReload
		return p, nil
	case oz == nil:
		p.Zone = nz.Zone
		p.Changes = append(p.Changes, fmt.Sprintf("new zone %s with %d records", nz.Zone, len(nz.Records)))
		p.Action = ActionReload
		oz = &render.DNSZone{Zone: nz.Zone}
	default:
		p.Zone = nz.Zone
	}
	for _, ns := range nz.Nameservers {
		p.Nameservers = append(p.Nameservers, strings.TrimSuffix(ns.Name, "."+nz.Zone))
	}
	if oz.Zone != nz.Zone && oz.Records != nil {
		p.Changes = append(p.Changes, fmt.Sprintf("zone %s renamed to %s", oz.Zone, nz.Zone))
	}
	if oz.TTL != nz.TTL && oz.TTL != 0 {
		p.Changes = append(p.Changes, fmt.Sprintf("ttl %d -> %d", oz.TTL, nz.TTL))
	}
	if a, b := nsText(oz), nsText(nz); a != b && oz.Nameservers != nil {
		p.Changes = append(p.Changes, fmt.Sprintf("nameservers %s -> %s", a, b))
	}
	prev := map[string]*render.DNSRecord{}
	for i := range oz.Records {
		r := &oz.Records[i]
		prev[r.Name+" "+r.Type] = r
	}
	seen := map[string]bool{}
	for i := range nz.Records {
		r := &nz.Records[i]
		k := r.Name + " " + r.Type
		seen[k] = true
		o := prev[k]
		switch {
		case o == nil:
			p.Changes = append(p.Changes, fmt.Sprintf("add %s %s: %s", r.Name, r.Type, answersText(r)))
		case answersText(o) != answersText(r) || o.CheckURL != r.CheckURL:
			p.Changes = append(p.Changes, fmt.Sprintf("change %s %s: %s -> %s", r.Name, r.Type, answersText(o), answersText(r)))
		}
	}
	var removed []string
	for k := range prev {
		if !seen[k] {
			removed = append(removed, "remove "+k)
		}
	}
	sort.Strings(removed)
	p.Changes = append(p.Changes, removed...)
	if len(p.Changes) == 0 {
		return nil, nil // only the serial moves: nothing to review
	}
	p.Action = ActionReload
	return p, nil
}

func renderDNS(f *desired.Fleet) (*render.DNSZone, error) {
	if f == nil || f.DNS == nil {
		return nil, nil
	}
	return render.RenderDNS(f, 1, "")
}

func nsText(z *render.DNSZone) string {
	var s []string
	for _, ns := range z.Nameservers {
		s = append(s, ns.Name+"="+ns.Address.String())
	}
	return "[" + strings.Join(s, " ") + "]"
}

// answersText describes a record's answers: per client zone, its zones'
// VIPs in order ("eu clients: eu 198.18.1.100,198.18.1.101, then us ...").
func answersText(r *render.DNSRecord) string {
	var parts []string
	for _, a := range r.Answers {
		var sets []string
		for _, s := range a.Sets {
			sets = append(sets, s.Zone+" "+addrsText(s.Addrs))
		}
		who := a.Zone + " clients"
		if a.Zone == r.Default {
			who += " and the rest"
		}
		parts = append(parts, who+": "+strings.Join(sets, ", then "))
	}
	return strings.Join(parts, "; ") + " (checked " + r.CheckURL + ")"
}

func addrsText(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// writeDNS adds the DNS section to a plan's Markdown.
func writeDNS(bw *bufio.Writer, d *DNSPlan) {
	if d == nil {
		return
	}
	fmt.Fprintf(bw, "\n#### DNS zone %s (%s): %s\n", d.Zone, strings.Join(d.Nameservers, ", "), dnsActionText(d))
	for _, c := range d.Changes {
		fmt.Fprintf(bw, "- %s\n", c)
	}
}

func dnsActionText(d *DNSPlan) string {
	return fmt.Sprintf("%d %s", len(d.Changes), plural(len(d.Changes), "change", "changes"))
}
