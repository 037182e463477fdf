package desired

import "fmt"

// dropNulls removes empty list entries (a bare "-" decodes to a nil
// pointer) and reports each one, so defaults and validation never see them.
func dropNulls(f *Fleet) Errors {
	var errs Errors
	report := func(file, path string) {
		p := f.Source.Pos(file, path)
		errs = append(errs, Error{File: file, Line: p.Line, Col: p.Col, Field: path, Msg: "empty list entry"})
	}
	for _, z := range f.Zones {
		z.VIPs = compact(z.VIPs, func(i int) { report(z.File, fmt.Sprintf("vips[%d]", i)) })
		z.Hosts = compact(z.Hosts, func(i int) { report(z.File, fmt.Sprintf("hosts[%d]", i)) })
		z.Frontends = compact(z.Frontends, func(i int) { report(z.File, fmt.Sprintf("frontends[%d]", i)) })
	}
	for _, b := range f.Backends {
		b.Servers = compact(b.Servers, func(i int) { report(b.File, fmt.Sprintf("servers[%d]", i)) })
	}
	dropContainerNulls(f, report)
	if d := f.DNS; d != nil {
		d.Nameservers = compact(d.Nameservers, func(i int) { report(FleetFile, fmt.Sprintf("dns.nameservers[%d]", i)) })
		d.Records = compact(d.Records, func(i int) { report(FleetFile, fmt.Sprintf("dns.records[%d]", i)) })
	}
	return errs
}

func compact[T any](s []*T, onNil func(i int)) []*T {
	out := s[:0]
	for i, v := range s {
		if v == nil {
			onNil(i)
			continue
		}
		out = append(out, v)
	}
	return out
}
