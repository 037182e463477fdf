package reconciler

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// serverOp is one runtime change to one server.
type serverOp struct {
	Op      string // add, del, replace, set-addr, set-weight, set-state, admit
	Backend string
	Server  render.Server // desired server (name only for del)
	Detail  string        // human-readable, for drift reports
}

func (o serverOp) key() string { return o.Backend + "/" + o.Server.Name }

// serverDiff is what it takes to make the runtime servers match the desired ones.
type serverDiff struct {
	Ops []serverOp
	// NeedReload lists why a server change cannot be made at runtime.
	NeedReload []string
}

// diffServers compares the desired backends with the servers HAProxy runs
// (actual, from the runtime API) and the server lines of the config on disk
// (for the settings the runtime API does not show; nil when the file on disk
// is exactly the desired config). Servers in pending are held in
// maintenance until their first check passes and are not drift.
func diffServers(want []render.Backend, actual map[string][]haproxy.ActualServer, disk map[string]map[string]string, pending map[string]bool) serverDiff {
	var d serverDiff
	for _, b := range want {
		have := indexServers(b.Servers, actual[b.Name])
		if _, ok := actual[b.Name]; !ok && len(b.Servers) > 0 {
			// An empty backend has no rows in `show servers state`: only
			// a problem when we want servers there and the backend is unknown,
			// which a reload fixes.
			if _, known := disk[b.Name]; !known && disk != nil {
				d.NeedReload = append(d.NeedReload, fmt.Sprintf("backend %s is not running", b.Name))
				continue
			}
		}
		for _, s := range b.Servers {
			a, ok := have.get(s.Name)
			k := b.Name + "/" + s.Name
			switch {
			case !ok && (!b.Dynamic || s.Hostname):
				d.NeedReload = append(d.NeedReload, reloadReason(b, s, "add"))
			case !ok:
				d.Ops = append(d.Ops, serverOp{Op: "add", Backend: b.Name, Server: s, Detail: "missing"})
			default:
				if line, ok := disk[b.Name][s.Name]; ok && line != s.Line() && staticKeywords(line) != staticKeywords(s.Line()) {
					if !b.Dynamic || s.Hostname {
						d.NeedReload = append(d.NeedReload, reloadReason(b, s, "change"))
					} else {
						d.Ops = append(d.Ops, serverOp{Op: "replace", Backend: b.Name, Server: s, Detail: "settings changed"})
					}
					continue
				}
				if a.Address != s.Address || a.Port != s.Port {
					if s.Hostname {
						d.NeedReload = append(d.NeedReload, reloadReason(b, s, "readdress"))
						continue
					}
					d.Ops = append(d.Ops, serverOp{Op: "set-addr", Backend: b.Name, Server: s, Detail: fmt.Sprintf("address %s:%d -> %s", a.Address, a.Port, s.Addr())})
				}
				if pending[k] {
					continue // held in maintenance until admitted
				}
				if w := runtimeWeight(s); a.Weight != w && !(s.State == haproxy.StateDrain && a.State == haproxy.StateDrain) {
					d.Ops = append(d.Ops, serverOp{Op: "set-weight", Backend: b.Name, Server: s, Detail: fmt.Sprintf("weight %d -> %d", a.Weight, w)})
				}
				// A drained server is written as weight 0 in the file, so after a
				// reload it runs as ready with weight 0: the same thing.
				drainedByWeight := stateOf(s) == haproxy.StateDrain && a.State == haproxy.StateReady && a.Weight == 0
				if st := stateOf(s); a.State != st && !drainedByWeight {
					if a.State == haproxy.StateMaint && st != haproxy.StateMaint && s.Check && !haproxy.CheckPassed(a.CheckStatus) {
						// Out of service and never checked (or failing): it goes
						// back in only through the admission gate, never blindly.
						d.Ops = append(d.Ops, serverOp{Op: "admit", Backend: b.Name, Server: s, Detail: fmt.Sprintf("state %s -> %s after its first check passes", a.State, st)})
						continue
					}
					d.Ops = append(d.Ops, serverOp{Op: "set-state", Backend: b.Name, Server: s, Detail: fmt.Sprintf("state %s -> %s", a.State, st)})
				}
			}
		}
		extra := have.extra(b.Servers)
		for _, name := range extra {
			if !b.Dynamic {
				d.NeedReload = append(d.NeedReload, fmt.Sprintf("backend %s uses balance %s: removing server %s needs a reload", b.Name, b.Balance, name))
				continue
			}
			d.Ops = append(d.Ops, serverOp{Op: "del", Backend: b.Name, Server: render.Server{Name: name}, Detail: "not in desired state"})
		}
	}
	return d
}

// serverIndex finds the running servers of a backend by name. HAProxy lists
// them in config order, which is the desired order in the common case: then
// the lookup is positional and no map is built.
type serverIndex struct {
	aligned bool
	list    []haproxy.ActualServer
	byName  map[string]haproxy.ActualServer
	pos     int
}

func indexServers(want []render.Server, have []haproxy.ActualServer) *serverIndex {
	aligned := len(want) == len(have)
	for i := 0; aligned && i < len(want); i++ {
		aligned = want[i].Name == have[i].Name
	}
	x := &serverIndex{aligned: aligned, list: have}
	if !aligned {
		x.byName = make(map[string]haproxy.ActualServer, len(have))
		for _, s := range have {
			x.byName[s.Name] = s
		}
	}
	return x
}

// get returns the running server named name; in the aligned case callers
// ask in order.
func (x *serverIndex) get(name string) (haproxy.ActualServer, bool) {
	if x.aligned {
		s := x.list[x.pos]
		x.pos++
		return s, true
	}
	s, ok := x.byName[name]
	return s, ok
}

// extra lists the running servers that are not wanted, sorted.
func (x *serverIndex) extra(want []render.Server) []string {
	if x.aligned {
		return nil
	}
	wanted := make(map[string]bool, len(want))
	for _, s := range want {
		wanted[s.Name] = true
	}
	var out []string
	for name := range x.byName {
		if !wanted[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func reloadReason(b render.Backend, s render.Server, what string) string {
	if s.Hostname {
		return fmt.Sprintf("server %s/%s has a DNS name (%s): the runtime API cannot %s it, a reload can", b.Name, s.Name, s.Address, what)
	}
	return fmt.Sprintf("backend %s uses balance %s: server changes (%s %s) need a reload", b.Name, b.Balance, what, s.Name)
}

func stateOf(s render.Server) string {
	if s.State == "" {
		return haproxy.StateReady
	}
	return s.State
}

// runtimeWeight is the weight HAProxy shows for s: the rendered config
// writes a drained server as weight 0.
func runtimeWeight(s render.Server) int {
	if s.State == haproxy.StateDrain {
		return 0
	}
	return s.Weight
}

// staticKeywords is a server line without its name, address, weight and
// maintenance flag: the settings only `add server` (or a reload) can set.
func staticKeywords(line string) string {
	f := strings.Fields(line)
	if len(f) < 3 {
		return line
	}
	var out []string
	for i := 3; i < len(f); i++ {
		switch f[i] {
		case "weight":
			i++
		case "disabled":
		default:
			out = append(out, f[i])
		}
	}
	return strings.Join(out, " ")
}

// serverLines indexes the server lines of a haproxy.cfg by backend and name.
// Every backend section appears, even without servers.
func serverLines(cfg []byte) map[string]map[string]string {
	out := map[string]map[string]string{}
	var cur map[string]string
	sc := bufio.NewScanner(bytes.NewReader(cfg))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			cur = nil
			if f := strings.Fields(line); len(f) == 2 && f[0] == "backend" {
				cur = map[string]string{}
				out[f[1]] = cur
			}
			continue
		}
		if cur == nil {
			continue
		}
		t := strings.TrimSpace(line)
		if f := strings.Fields(t); len(f) >= 3 && f[0] == "server" {
			cur[f[1]] = t
		}
	}
	return out
}

// withServerLines returns cfg with the named servers' lines replaced
// (backend -> server -> new line without indent).
func withServerLines(cfg []byte, repl map[string]map[string]string) []byte {
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
		if cur != nil && bytes.HasPrefix(line, []byte(render.ServerIndent+"server ")) {
			if f := strings.Fields(string(line)); len(f) >= 2 {
				if nl, ok := cur[f[1]]; ok {
					out.WriteString(render.ServerIndent + nl + "\n")
					continue
				}
			}
		}
		out.Write(line)
	}
	return out.Bytes()
}
