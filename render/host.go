// Package render turns the desired state of a fleet into the exact
// haproxy.cfg and keepalived.conf one host must run, plus a structured view
// of every backend's servers that the plan and the agent's runtime driver use.
//
// Output is deterministic: the same fleet and options give the same bytes.
package render

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// ServerIndent prefixes every server line in a backend section; Skeleton
// relies on it.
const ServerIndent = "    "

// Options change where rendered configs point on the host.
type Options struct {
	// CrtBase overrides the fleet's haproxy.crtBase (an absolute directory).
	CrtBase string
	// FleetDir is the absolute path of the fleet root; a relative crtBase in
	// fleet.yaml is resolved against it. Empty leaves a relative crtBase as is.
	FleetDir string
	// AdminSocket overrides the fleet's haproxy.adminSocket (tests use temp dirs).
	AdminSocket string
	// HAProxyArgv0 is the path the host's haproxy runs as: the argv[0] of
	// its master and workers (an agent that supervises haproxy starts it
	// under a path of its own and reads it back from the running master).
	// When set, keepalived tracks only the processes started under that
	// path (vrrp_track_process with full_command), not every process named
	// keepalived.trackProcess on the machine; argv[0] survives the master's
	// re-execution at each reload, so reloads never count as a stop. Empty:
	// any process named trackProcess. It must be an absolute path of
	// letters, digits, '_', '.', '-' and '/' (Render refuses anything else).
	HAProxyArgv0 string
	// Now, when set, applies the fleet's overrides in force at Now for the
	// host (overrides.go); zero renders the base state.
	Now time.Time
}

// Host is everything one HAProxy host runs.
type Host struct {
	Name string
	Zone string
	// HAProxy is the complete haproxy.cfg.
	HAProxy []byte
	// Keepalived is the complete keepalived.conf.
	Keepalived []byte
	// Backends lists every backend with its servers exactly as rendered into HAProxy.
	Backends []Backend
	// Overrides are the overrides applied (in force at Options.Now for
	// this host), sorted by name.
	Overrides []*desired.Override
}

// Backend is a backend's server list as rendered.
type Backend struct {
	Name    string
	Balance string
	// Dynamic reports whether the balance algorithm allows runtime
	// `add server`/`del server` (HAProxy 2.6 refuses them for static-rr and
	// map-based hashing such as `balance source` without `hash-type consistent`).
	Dynamic bool
	Servers []Server
	// Frozen: an override freezes the backend, so its servers are to stay
	// as the host runs them (the agent keeps them; overrides.go).
	Frozen bool
}

// Server is one server line. Keywords renders the same keywords for the
// config file and for the runtime `add server` command, so a runtime-added
// server is identical to the one a reload would create (runtime `add server`
// ignores default-server, so every setting is explicit).
type Server struct {
	Name    string
	Address string // an IP address, or a hostname when Hostname is set
	// Hostname is set when Address is a DNS name: the runtime API does not
	// resolve names, so such a server can only be changed by a reload.
	Hostname  bool
	Port      int
	Weight    int
	Maxconn   int
	Slowstart time.Duration
	Check     bool
	CheckPort int // 0: the traffic port
	Inter     time.Duration
	Rise      int
	Fall      int
	Backup    bool
	Proto     string // "h2" for gRPC backends, else empty
	SSL       bool
	SNI       string // sent when SSL is set
	// ALPN is the protocol list offered over TLS (e.g. "h2" for gRPC over
	// TLS, since gRPC servers require ALPN); used only when SSL is set.
	ALPN string
	// CheckProto forces the health check's protocol ("h1" when an h2 server
	// is checked on a separate HTTP/1 port: HAProxy otherwise checks with the
	// server's proto).
	CheckProto string
	// CheckSSL runs health checks over TLS (with SNI as check-sni): HAProxy
	// does not inherit ssl for checks on a separate port.
	CheckSSL bool
	// State is the administrative state: ready, drain or maint. maint renders
	// as `disabled`; drain renders as `weight 0` in the file (the runtime
	// driver uses `set server state drain`).
	State string
}

// Addr is address:port as written on the server line.
func (s Server) Addr() string {
	a := s.Address
	if strings.Contains(a, ":") { // IPv6
		a = "[" + a + "]"
	}
	return a + ":" + strconv.Itoa(s.Port)
}

// Keywords are the server's settings after its address, in a fixed order.
func (s Server) Keywords() string { return string(s.AppendKeywords(nil)) }

// Line is the full server line as written in haproxy.cfg (without indent).
func (s Server) Line() string { return string(s.AppendLine(nil)) }

// AppendLine appends Line to b.
func (s Server) AppendLine(b []byte) []byte {
	b = append(b, "server "...)
	b = append(b, s.Name...)
	b = append(b, ' ')
	if strings.Contains(s.Address, ":") { // IPv6
		b = append(append(append(b, '['), s.Address...), ']')
	} else {
		b = append(b, s.Address...)
	}
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(s.Port), 10)
	b = append(b, ' ')
	return s.AppendKeywords(b)
}

// AppendKeywords appends Keywords to b.
func (s Server) AppendKeywords(b []byte) []byte {
	w := s.Weight
	if s.State == "drain" {
		w = 0
	}
	b = append(b, "weight "...)
	b = strconv.AppendInt(b, int64(w), 10)
	if s.Maxconn > 0 {
		b = append(b, " maxconn "...)
		b = strconv.AppendInt(b, int64(s.Maxconn), 10)
	}
	if s.Slowstart > 0 {
		b = append(b, " slowstart "...)
		b = appendDuration(b, s.Slowstart)
	}
	if s.Backup {
		b = append(b, " backup"...)
	}
	if s.Proto != "" {
		b = append(b, " proto "...)
		b = append(b, s.Proto...)
	}
	if s.SSL {
		b = append(b, " ssl verify none"...)
		if s.SNI != "" {
			b = append(b, " sni str("...)
			b = append(b, s.SNI...)
			b = append(b, ")"...)
		}
		if s.ALPN != "" {
			b = append(b, " alpn "...)
			b = append(b, s.ALPN...)
		}
	}
	if s.Check {
		b = append(b, " check"...)
		if s.CheckPort > 0 && s.CheckPort != s.Port {
			b = append(b, " port "...)
			b = strconv.AppendInt(b, int64(s.CheckPort), 10)
		}
		if s.Inter > 0 {
			b = append(b, " inter "...)
			b = appendDuration(b, s.Inter)
		}
		if s.Rise > 0 {
			b = append(b, " rise "...)
			b = strconv.AppendInt(b, int64(s.Rise), 10)
		}
		if s.Fall > 0 {
			b = append(b, " fall "...)
			b = strconv.AppendInt(b, int64(s.Fall), 10)
		}
		if s.CheckProto != "" {
			b = append(b, " check-proto "...)
			b = append(b, s.CheckProto...)
		}
		if s.CheckSSL {
			b = append(b, " check-ssl"...)
			if s.SNI != "" {
				b = append(b, " check-sni "...)
				b = append(b, s.SNI...)
			}
		}
	}
	if s.State == "maint" {
		b = append(b, " disabled"...)
	}
	return b
}

// appendDuration appends FormatDuration(d) to b.
func appendDuration(b []byte, d time.Duration) []byte {
	ms := d.Milliseconds()
	switch {
	case ms == 0:
		return append(b, '0')
	case ms%3600000 == 0:
		return append(strconv.AppendInt(b, ms/3600000, 10), 'h')
	case ms%60000 == 0:
		return append(strconv.AppendInt(b, ms/60000, 10), 'm')
	case ms%1000 == 0:
		return append(strconv.AppendInt(b, ms/1000, 10), 's')
	default:
		return append(strconv.AppendInt(b, ms, 10), "ms"...)
	}
}

// FormatDuration writes d in HAProxy's time format, in the largest unit
// that represents it exactly (ms, s, m, h).
func FormatDuration(d time.Duration) string {
	ms := d.Milliseconds()
	switch {
	case ms == 0:
		return "0"
	case ms%3600000 == 0:
		return strconv.FormatInt(ms/3600000, 10) + "h"
	case ms%60000 == 0:
		return strconv.FormatInt(ms/60000, 10) + "m"
	case ms%1000 == 0:
		return strconv.FormatInt(ms/1000, 10) + "s"
	default:
		return strconv.FormatInt(ms, 10) + "ms"
	}
}

// Skeleton returns cfg without the server lines of its backends: the part of
// haproxy.cfg that only a reload can change. Two configs with equal skeletons
// differ only in servers, which the runtime API can change without a reload.
func Skeleton(cfg []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(cfg))
	for line, rest := nextNonServerLine(cfg); line != nil; line, rest = nextNonServerLine(rest) {
		out.Write(line)
	}
	return out.Bytes()
}
