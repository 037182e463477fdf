package desired

import (
	"net/netip"
	"strconv"
	"strings"
)

// frontendTimeout says why a timeout has no effect in a frontend ("" when it has).
func frontendTimeout(key string) string {
	switch key {
	case "connect", "server", "queue", "tunnel", "check":
		return "set it on the backend"
	}
	return ""
}

// backendTimeout says why a timeout has no effect in a backend ("" when it has).
func backendTimeout(key string) string {
	if key == "client" {
		return "set it on the frontend or fleet-wide"
	}
	return ""
}

// frontend checks one frontend of zone z.
func (v *validator) frontend(z *Zone, i int, fe *Frontend, names map[string]int, binds *bindSet) {
	file, p := z.File, idx("frontends", i)
	if v.str(file, p+".name", fe.Name, ruleName) {
		if first, dup := names[fe.Name]; dup {
			v.errorf(file, p+".name", "frontend %q is already defined at frontends[%d] (%s)", fe.Name, first, v.at(file, idx("frontends", first)+".name"))
		} else {
			names[fe.Name] = i
		}
	}
	modeOK := v.oneOf(file, p+".mode", fe.Mode, "http", "grpc", "tcp")
	tcp := fe.Mode == "tcp"

	if len(fe.Binds) == 0 {
		v.errorf(file, p+".binds", "frontend %q has no binds: it needs at least one address and port to listen on", fe.Name)
	}
	for j := range fe.Binds {
		v.bind(file, idx(p+".binds", j), &fe.Binds[j], "frontend "+strconv.Quote(fe.Name), binds)
	}

	if fe.DefaultBackend == "" {
		v.errorf(file, p+".defaultBackend", "defaultBackend is required")
	} else if b := v.backendRef(file, p+".defaultBackend", fe.DefaultBackend); b != nil && modeOK {
		v.modeMatch(file, p+".defaultBackend", fe, b)
	}

	if tcp && len(fe.Routes) > 0 {
		v.errorf(file, p+".routes", "routes need an http or grpc frontend; a tcp frontend sends everything to its defaultBackend")
	} else {
		for j, r := range fe.Routes {
			rp := idx(p+".routes", j)
			if r.PathPrefix == "" && r.Host == "" {
				v.errorf(file, rp, "a route needs pathPrefix, host or both")
			}
			v.optStr(file, rp+".pathPrefix", r.PathPrefix, ruleURLPath)
			v.optStr(file, rp+".host", r.Host, ruleHostname)
			if r.Backend == "" {
				v.errorf(file, rp+".backend", "backend is required")
			} else if b := v.backendRef(file, rp+".backend", r.Backend); b != nil && modeOK {
				v.modeMatch(file, rp+".backend", fe, b)
			}
		}
	}

	if tcp && len(fe.SetHeaders) > 0 {
		v.errorf(file, p+".setHeaders", "setHeaders needs an http or grpc frontend; a tcp frontend does not parse HTTP")
	} else {
		seen := make(map[string]int, len(fe.SetHeaders))
		for j, h := range fe.SetHeaders {
			hp := idx(p+".setHeaders", j)
			if v.str(file, hp+".name", h.Name, ruleHeaderName) {
				lower := strings.ToLower(h.Name)
				if first, dup := seen[lower]; dup {
					v.errorf(file, hp+".name", "header %q is already set by setHeaders[%d]; the later one would win", h.Name, first)
				} else {
					seen[lower] = j
				}
			}
			v.optStr(file, hp+".value", h.Value, ruleHeaderValue)
		}
	}

	if t := fe.TLS; t != nil {
		v.tls(file, p+".tls", fe, t)
	}
	v.intRange(file, p+".maxconn", fe.Maxconn, 0, MaxMaxconn)
	v.timeouts(file, p+".timeouts", &fe.Timeouts, frontendTimeout)
	if tcp && fe.Options.HTTPLog != nil && *fe.Options.HTTPLog {
		v.errorf(file, p+".options.httpLog", "httpLog needs an http or grpc frontend")
	}
	if tcp && fe.Options.ForwardFor != nil && *fe.Options.ForwardFor {
		v.errorf(file, p+".options.forwardFor", "forwardFor needs an http or grpc frontend (a tcp frontend cannot add headers)")
	}
}

// modeMatch checks that a frontend and a backend it uses speak the same layer.
func (v *validator) modeMatch(file, field string, fe *Frontend, b *Backend) {
	if b.Mode != "http" && b.Mode != "grpc" && b.Mode != "tcp" {
		return // reported in the backend's file
	}
	if (fe.Mode == "tcp") != (b.Mode == "tcp") {
		want := "an http or grpc"
		if fe.Mode == "tcp" {
			want = "a tcp"
		}
		v.errorf(file, field, "backend %q is %s backend; %s frontend needs %s backend", b.Name, article(b.Mode), article(fe.Mode), want)
	}
}

// tls checks a frontend's TLS settings.
func (v *validator) tls(file, field string, fe *Frontend, t *TLS) {
	v.str(file, field+".certificate", t.Certificate, ruleCertFile)
	seen := make(map[string]int, len(t.ALPN))
	for j, a := range t.ALPN {
		ap := idx(field+".alpn", j)
		if first, dup := seen[a]; dup {
			v.errorf(file, ap, "alpn %q is already listed at alpn[%d]", a, first)
			continue
		}
		seen[a] = j
		v.oneOf(file, ap, a, "h2", "http/1.1")
	}
	if _, h2 := seen["h2"]; fe.Mode == "grpc" && !h2 && len(t.ALPN) > 0 {
		v.errorf(file, field+".alpn", "a grpc frontend must offer h2 in alpn: gRPC runs over HTTP/2")
	}
	v.oneOf(file, field+".minVersion", t.MinVersion, "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
}

// stats checks the zone's stats listener.
func (v *validator) stats(z *Zone, binds *bindSet) {
	file, s := z.File, z.Stats
	v.bind(file, "stats.bind", &s.Bind, "the stats page", binds)
	uriOK := v.str(file, "stats.uri", s.URI, ruleURLPath)
	v.dur(file, "stats.refresh", s.Refresh)
	if s.Prometheus != nil && *s.Prometheus {
		if v.str(file, "stats.metricsPath", s.MetricsPath, ruleURLPath) && uriOK && s.MetricsPath == s.URI {
			v.errorf(file, "stats.metricsPath", "metricsPath %q is also the stats uri: give the Prometheus exporter its own path", s.MetricsPath)
		}
	} else {
		v.optStr(file, "stats.metricsPath", s.MetricsPath, ruleURLPath)
	}
}

// bindSet finds listeners of one zone that would take the same port. A
// wildcard takes the port on every address, so it clashes with any bind on
// that port.
type bindSet struct {
	exact    map[bindKey]bindRef
	wildcard map[int]bindRef
	specific map[int]bindRef // the first non-wildcard bind of each port
}

type bindKey struct {
	addr netip.Addr
	port int
}

type bindRef struct {
	field, addr, owner string
}

func newBindSet() *bindSet {
	return &bindSet{exact: map[bindKey]bindRef{}, wildcard: map[int]bindRef{}, specific: map[int]bindRef{}}
}

// bind checks one listening address and port, and that no other listener of
// the zone takes them.
func (v *validator) bind(file, field string, b *Bind, owner string, set *bindSet) {
	addrOK := true
	var a netip.Addr
	switch {
	case b.Address == "*":
	case b.Address == "":
		v.errorf(file, field+".address", "address is required: \"*\" or an IP address")
		addrOK = false
	case ValidIP(b.Address):
		a = netip.MustParseAddr(b.Address)
	default:
		v.errorf(file, field+".address", "bind address %q must be \"*\" or an IP address", b.Address)
		addrOK = false
	}
	if !v.port(file, field+".port", b.Port) || !addrOK {
		return
	}
	me := bindRef{field, b.Address, owner}
	wild := b.Address == "*" || a.IsUnspecified()
	var clash bindRef
	var found bool
	if wild {
		if clash, found = set.wildcard[b.Port]; !found {
			clash, found = set.specific[b.Port]
		}
	} else if clash, found = set.exact[bindKey{a, b.Port}]; !found {
		clash, found = set.wildcard[b.Port]
	}
	if found {
		v.errorf(file, field, "bind %s:%d clashes with %s:%d of %s (%s)", b.Address, b.Port, clash.addr, b.Port, clash.owner, v.at(file, clash.field))
		return
	}
	if wild {
		set.wildcard[b.Port] = me
		return
	}
	set.exact[bindKey{a, b.Port}] = me
	if _, ok := set.specific[b.Port]; !ok {
		set.specific[b.Port] = me
	}
}

// listens reports whether zone z has a frontend listening on port on a
// wildcard address or on one of its VIPs.
func listens(z *Zone, port int) bool {
	for _, fe := range z.Frontends {
		for _, b := range fe.Binds {
			if b.Port != port {
				continue
			}
			if b.Address == "*" || b.Address == "0.0.0.0" || b.Address == "::" || !ValidIP(b.Address) {
				return true // an invalid address is reported at the bind
			}
			for _, vip := range z.VIPs {
				if vip.Address == b.Address {
					return true
				}
			}
		}
	}
	return false
}

// article prefixes a mode with "a" or "an".
func article(mode string) string {
	if mode == "http" {
		return "an " + mode
	}
	return "a " + mode
}
