package reconciler

import (
	"bytes"
	"log/slog"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/render"
)

// A frozen backend (an override's freeze:) keeps the servers the host
// runs: the desired servers of such a backend are those of haproxy.cfg on
// disk, so no server change is applied to it, a reload keeps them, and
// drift correction puts them back as they were.

// hasFrozen reports whether any backend of h is frozen.
func hasFrozen(h *render.Host) bool {
	for i := range h.Backends {
		if h.Backends[i].Frozen {
			return true
		}
	}
	return false
}

// keepFrozen returns want with each frozen backend's servers replaced by
// the server lines of disk (the haproxy.cfg the host runs), in their order.
// A backend the file lacks, or one with a line ddc-gitops did not write,
// keeps its rendered servers: nothing known to keep. want is not changed.
func keepFrozen(want *render.Host, disk []byte, log *slog.Logger) *render.Host {
	if !hasFrozen(want) || len(disk) == 0 {
		return want
	}
	out := *want
	out.Backends = append([]render.Backend(nil), want.Backends...)
	for i := range out.Backends {
		b := &out.Backends[i]
		if !b.Frozen {
			continue
		}
		lines, ok := backendServerLines(disk, b.Name)
		if !ok {
			continue
		}
		servers := make([]render.Server, 0, len(lines))
		for _, l := range lines {
			s, err := render.ParseServerLine(l)
			if err != nil {
				log.Warn("frozen backend has a server line ddc-gitops did not write: applying the desired servers", "backend", b.Name, "err", err)
				servers = nil
				break
			}
			servers = append(servers, s)
		}
		if servers == nil && len(lines) > 0 {
			continue
		}
		b.Servers = servers
		out.HAProxy = withBackendServers(out.HAProxy, b.Name, lines)
	}
	return &out
}

// backendServerLines returns the server lines (without indent) of backend
// name in cfg, in order, and whether cfg has that backend.
func backendServerLines(cfg []byte, name string) ([]string, bool) {
	var lines []string
	in, found := false, false
	for _, line := range strings.Split(string(cfg), "\n") {
		if line != "" && line[0] != ' ' && line[0] != '\t' && line[0] != '#' {
			f := strings.Fields(line)
			in = len(f) == 2 && f[0] == "backend" && f[1] == name
			found = found || in
			continue
		}
		if in && strings.HasPrefix(line, render.ServerIndent+"server ") {
			lines = append(lines, strings.TrimSpace(line))
		}
	}
	return lines, found
}

// withBackendServers returns cfg with the server lines of backend name
// replaced by lines (rendered server lines come last in a backend section,
// which ends with a blank line).
func withBackendServers(cfg []byte, name string, lines []string) []byte {
	var out bytes.Buffer
	out.Grow(len(cfg))
	in := false
	flush := func() {
		for _, l := range lines {
			out.WriteString(render.ServerIndent + l + "\n")
		}
		in = false
	}
	rest := cfg
	for len(rest) > 0 {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = nil
		}
		t := bytes.TrimRight(line, "\n")
		switch {
		case len(t) > 0 && t[0] != ' ' && t[0] != '\t' && t[0] != '#':
			if in {
				flush()
			}
			f := strings.Fields(string(t))
			in = len(f) == 2 && f[0] == "backend" && f[1] == name
		case in && len(t) == 0:
			flush()
		case in && bytes.HasPrefix(t, []byte(render.ServerIndent+"server ")):
			continue
		}
		out.Write(line)
	}
	if in {
		flush()
	}
	return out.Bytes()
}
