package render

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// This file is the only place that reads haproxy.cfg text back: the
// skeleton comparison and the server lines, next to the writer of that text
// (AppendLine, Skeleton). It understands exactly what this package writes.

var serverPrefix = []byte(ServerIndent + "server ")

// SkeletonEqual reports whether a and b have equal skeletons (see Skeleton)
// without building them.
func SkeletonEqual(a, b []byte) bool {
	for {
		la, ra := nextNonServerLine(a)
		lb, rb := nextNonServerLine(b)
		if !bytes.Equal(la, lb) {
			return false
		}
		if la == nil {
			return true
		}
		a, b = ra, rb
	}
}

// nextNonServerLine returns the first line of cfg (newline included) that
// is not a server line, and the rest of cfg after it; nil at the end.
func nextNonServerLine(cfg []byte) (line, rest []byte) {
	for len(cfg) > 0 {
		i := bytes.IndexByte(cfg, '\n')
		if i < 0 {
			line, cfg = cfg, nil
		} else {
			line, cfg = cfg[:i+1], cfg[i+1:]
		}
		if !bytes.HasPrefix(line, serverPrefix) {
			return line, cfg
		}
	}
	return nil, nil
}

// ServerLines indexes the server lines of a haproxy.cfg by backend and
// server name (each line without its indent). Every backend section
// appears, even one without servers.
func ServerLines(cfg []byte) map[string]map[string]string {
	out := map[string]map[string]string{}
	var cur map[string]string
	for len(cfg) > 0 {
		line := cfg
		if i := bytes.IndexByte(cfg, '\n'); i >= 0 {
			line, cfg = cfg[:i], cfg[i+1:]
		} else {
			cfg = nil
		}
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			cur = nil
			if f := strings.Fields(string(line)); len(f) == 2 && f[0] == "backend" {
				cur = map[string]string{}
				out[f[1]] = cur
			}
			continue
		}
		if cur == nil {
			continue
		}
		t := strings.TrimSpace(string(line))
		if f := strings.Fields(t); len(f) >= 3 && f[0] == "server" {
			cur[f[1]] = t
		}
	}
	return out
}

// WithServerLines returns cfg with the named servers' lines replaced
// (backend -> server -> new line without indent).
func WithServerLines(cfg []byte, repl map[string]map[string]string) []byte {
	if len(repl) == 0 {
		return cfg
	}
	var out bytes.Buffer
	out.Grow(len(cfg))
	var cur map[string]string
	for len(cfg) > 0 {
		line := cfg
		if i := bytes.IndexByte(cfg, '\n'); i >= 0 {
			line, cfg = cfg[:i+1], cfg[i+1:]
		} else {
			cfg = nil
		}
		if len(line) > 0 && line[0] != ' ' && line[0] != '\t' && line[0] != '#' && line[0] != '\n' {
			cur = nil
			if f := strings.Fields(string(line)); len(f) == 2 && f[0] == "backend" {
				cur = repl[f[1]]
			}
		}
		if cur != nil && bytes.HasPrefix(line, serverPrefix) {
			// The name is the word after "server" (read without a copy:
			// a backend has thousands of server lines).
			name := bytes.TrimLeft(line[len(serverPrefix):], " \t")
			if i := bytes.IndexAny(name, " \t\r\n"); i >= 0 {
				name = name[:i]
			}
			if nl, ok := cur[string(name)]; ok && len(name) > 0 {
				out.WriteString(ServerIndent)
				out.WriteString(nl)
				out.WriteByte('\n')
				continue
			}
		}
		out.Write(line)
	}
	return out.Bytes()
}

// ErrForeignServerLine means a server line holds something this package
// never writes (edited by hand): its settings are unknown.
var ErrForeignServerLine = errors.New("server line not written by ddc-gitops")

// ParseServerLine is the inverse of Server.Line for the lines this package
// writes: ParseServerLine(s.Line()) renders back to s.Line(). A drained
// server reads back as ready with weight 0 (how the file writes drain).
// Anything else fails with ErrForeignServerLine.
func ParseServerLine(line string) (Server, error) {
	var s Server
	f := strings.Fields(line)
	bad := func(why string) (Server, error) {
		return Server{}, fmt.Errorf("%w: %s: %q", ErrForeignServerLine, why, line)
	}
	if len(f) < 3 || f[0] != "server" {
		return bad("not a server line")
	}
	s.Name = f[1]
	addr, port, ok := cutPort(f[2])
	if !ok {
		return bad("address")
	}
	s.Address, s.Port = addr, port
	s.Hostname = !desired.ValidIP(addr)
	s.State = "ready"
	i := 3
	next := func() (string, bool) {
		if i >= len(f) {
			return "", false
		}
		i++
		return f[i-1], true
	}
	num := func(dst *int) bool {
		v, ok := next()
		if !ok {
			return false
		}
		n, err := strconv.Atoi(v)
		*dst = n
		return err == nil && n >= 0
	}
	str := func(dst *string) bool {
		v, ok := next()
		*dst = v
		return ok && v != ""
	}
	dur := func(dst *time.Duration) bool {
		v, ok := next()
		if !ok {
			return false
		}
		d, err := parseDuration(v)
		*dst = d
		return err == nil
	}
	for i < len(f) {
		kw := f[i]
		i++
		ok := true
		switch kw {
		case "weight":
			ok = num(&s.Weight)
		case "maxconn":
			ok = num(&s.Maxconn)
		case "slowstart":
			ok = dur(&s.Slowstart)
		case "backup":
			s.Backup = true
		case "proto":
			ok = str(&s.Proto)
		case "ssl":
			s.SSL = true
			v1, ok1 := next()
			v2, ok2 := next()
			ok = ok1 && ok2 && v1 == "verify" && v2 == "none"
		case "sni":
			var v string
			ok = str(&v) && strings.HasPrefix(v, "str(") && strings.HasSuffix(v, ")")
			if ok {
				s.SNI = v[4 : len(v)-1]
			}
		case "alpn":
			ok = str(&s.ALPN)
		case "check":
			s.Check = true
		case "port":
			ok = num(&s.CheckPort)
		case "inter":
			ok = dur(&s.Inter)
		case "rise":
			ok = num(&s.Rise)
		case "fall":
			ok = num(&s.Fall)
		case "check-proto":
			ok = str(&s.CheckProto)
		case "check-ssl":
			s.CheckSSL = true
		case "check-sni":
			var v string
			ok = str(&v)
			if s.SNI == "" {
				s.SNI = v
			}
		case "disabled":
			s.State = "maint"
		default:
			return bad("unknown keyword " + strconv.Quote(kw))
		}
		if !ok {
			return bad("bad value for " + kw)
		}
	}
	if s.Line() != strings.Join(f, " ") {
		return bad("not in the rendered form")
	}
	return s, nil
}

// cutPort splits "ADDR:PORT" or "[V6]:PORT".
func cutPort(s string) (string, int, bool) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return "", 0, false
	}
	addr, p := s[:i], s[i+1:]
	if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
		addr = addr[1 : len(addr)-1]
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, false
	}
	return addr, port, true
}

// parseDuration reads FormatDuration's output.
func parseDuration(v string) (time.Duration, error) {
	unit := time.Millisecond
	num := v
	switch {
	case v == "0":
		return 0, nil
	case strings.HasSuffix(v, "ms"):
		num = v[:len(v)-2]
	case strings.HasSuffix(v, "s"):
		unit, num = time.Second, v[:len(v)-1]
	case strings.HasSuffix(v, "m"):
		unit, num = time.Minute, v[:len(v)-1]
	case strings.HasSuffix(v, "h"):
		unit, num = time.Hour, v[:len(v)-1]
	default:
		return 0, fmt.Errorf("duration %q", v)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("duration %q", v)
	}
	return time.Duration(n) * unit, nil
}
