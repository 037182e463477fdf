package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/render"
)

// This file is the one place that decides how a server change is applied:
// at runtime (and with which ops) or by a reload. `ddc-gitops plan`, the
// bot's pull request text and the agent all call ServerChanges; the agent's
// "before" is what HAProxy and the haproxy.cfg on disk report, the plan's is
// the old revision. Each rule below was checked against HAProxy 2.6.12 (see
// docs/agent.md, "Runtime or reload", and reconciler/haproxy's live tests).

// Before is a server as it runs before a change: as the old revision renders
// it, or as HAProxy's runtime API (address, port, weight, state) and the
// server line on disk (every other setting) report it.
type Before struct {
	render.Server
	// The fields below are facts only a running HAProxy knows; they are all
	// zero when the before is a revision.

	// Unknown: the server's line on disk was not written by ddc-gitops (or
	// is missing while HAProxy runs the server): its settings are unknown,
	// so it is replaced.
	Unknown bool
	// Admitting: the server waits for its first passing health check (held
	// in drain with its check running); no traffic reaches it until then.
	Admitting bool
	// Replacing: Admitting, and it replaced a server that was in service:
	// until its check passed it counts against its backend's replacement
	// budget.
	Replacing bool
	// CheckPassed: HAProxy reports the server up and its last check passed.
	CheckPassed bool
}

// Befores wraps a revision's servers (the plan's before).
func Befores(servers []render.Server) []Before {
	out := make([]Before, len(servers))
	for i := range servers {
		out[i].Server = servers[i]
	}
	return out
}

// BackendChange is what turns a backend's servers before into the rendered
// ones.
type BackendChange struct {
	// Ops are the server changes, in the rendered server order, removals
	// last. With Reasons they are applied by the reload.
	Ops []Op
	// Reasons say why the backend's change needs a reload; empty when every
	// op applies at runtime.
	Reasons  []string
	Warnings []string
}

// ReplaceBatch is how many servers of a backend of n servers may be out of
// service at once because they are being replaced: a quarter, at least one.
func ReplaceBatch(n int) int { return max(1, n/4) }

// ServerChanges is the rule. Servers are matched by name.
//
//   - add: runtime `add server` on a dynamic balance algorithm, for an IP
//     address; a reload for static-rr/map-based balance (HAProxy refuses
//     `add server`) and for a DNS name (the runtime API resolves none).
//   - del: runtime drain, maint, `del server` on a dynamic backend; a reload
//     on a static one.
//   - set-addr: runtime on any backend, for an IP address; a reload to set
//     or change a DNS name.
//   - set-weight: runtime on a dynamic backend; on a static one HAProxy
//     accepts only 0 and the file's weight, so only a change to 0 is runtime,
//     any other weight reloads.
//   - set-maxconn: runtime (`set maxconn server`) on any backend.
//   - set-state: runtime on any backend; a server with a check leaving maint
//     is an admit instead.
//   - admit: `enable health` + drain; in service once its first check passes.
//   - replace: any other setting (check, inter, rise, fall, slowstart, ssl,
//     sni, alpn, proto, backup, check port) differs: del then add on a
//     dynamic backend, in rolling batches of ReplaceBatch servers, each
//     admitted before the next (Op.Batch); a reload on a static backend or
//     for a DNS name.
func ServerChanges(nb *render.Backend, before []Before) BackendChange {
	var c BackendChange
	n := 0 // fast path: the common prefix where names line up
	for n < len(before) && n < len(nb.Servers) && before[n].Name == nb.Servers[n].Name {
		n++
	}
	var (
		static    []string // what needs a reload because the balance algorithm is static
		dnsNames  []string
		replaces  []int // indexes in c.Ops
		replacing int
	)
	for i := range before {
		if before[i].Replacing && !before[i].CheckPassed {
			replacing++ // out of service until admitted (admitted now if its check passed)
		}
	}
	change := func(o *Before, s *render.Server) {
		if *o == (Before{Server: *s}) {
			return
		}
		r := serverChange(nb, o, s)
		if r.replace >= 0 {
			replaces = append(replaces, len(c.Ops)+r.replace)
		}
		c.Ops = append(c.Ops, r.ops...)
		static = append(static, r.static...)
		if r.dns {
			dnsNames = append(dnsNames, s.Name+" ("+s.Address+")")
		}
	}
	add := func(s *render.Server) {
		c.Ops = append(c.Ops, Op{Op: OpAdd, Backend: nb.Name, Server: s.Name, To: s.Addr(), New: s, Line: s.Line()})
		if !nb.Dynamic {
			static = append(static, "add "+s.Name)
		}
		if s.Hostname {
			dnsNames = append(dnsNames, s.Name+" ("+s.Address+")")
		}
	}
	for i := 0; i < n; i++ {
		change(&before[i], &nb.Servers[i])
	}
	if n < len(before) || n < len(nb.Servers) {
		oldIdx := make(map[string]int, len(before)-n)
		for i := n; i < len(before); i++ {
			oldIdx[before[i].Name] = i
		}
		seen := make(map[string]bool, len(nb.Servers)-n)
		for i := n; i < len(nb.Servers); i++ {
			s := &nb.Servers[i]
			seen[s.Name] = true
			if j, ok := oldIdx[s.Name]; ok {
				change(&before[j], s)
			} else {
				add(s)
			}
		}
		for i := n; i < len(before); i++ {
			o := &before[i]
			if seen[o.Name] {
				continue
			}
			c.Ops = append(c.Ops, Op{Op: OpDel, Backend: nb.Name, Server: o.Name, From: o.Addr()})
			if !nb.Dynamic {
				static = append(static, "del "+o.Name)
			}
		}
	}
	if len(static) > 0 {
		c.Reasons = append(c.Reasons, fmt.Sprintf("backend %s uses balance %s: server changes need a reload", nb.Name, nb.Balance))
		c.Warnings = append(c.Warnings, fmt.Sprintf("backend %s uses balance %s, which forbids runtime server changes (%s): HAProxy reloads",
			nb.Name, nb.Balance, summarize(static, 5)))
	}
	if len(dnsNames) > 0 {
		c.Reasons = append(c.Reasons, fmt.Sprintf("backend %s: the runtime API does not resolve DNS names, a reload sets up %s",
			nb.Name, summarize(dnsNames, 5)))
	}
	if len(replaces) > 0 && len(c.Reasons) == 0 {
		size := ReplaceBatch(len(nb.Servers))
		batches := (replacing + len(replaces) + size - 1) / size
		for k, i := range replaces {
			c.Ops[i].Batch = (replacing+k)/size + 1
		}
		c.Warnings = append(c.Warnings, fmt.Sprintf("backend %s: %d %s replaced (del + add) in %d rolling %s of at most %d of %d servers, each admitted (first health check passed) before the next",
			nb.Name, len(replaces), plural(len(replaces), "server", "servers"), batches, plural(batches, "batch", "batches"), size, len(nb.Servers)))
	}
	return c
}

// serverResult is the change of one server present before and after.
type serverResult struct {
	ops     []Op
	replace int      // index in ops of the replace op, -1 without
	static  []string // changes the static balance algorithm refuses at runtime
	dns     bool     // a reload must resolve the new DNS name
}

// serverChange lists what turns server o into s (same name).
func serverChange(nb *render.Backend, o *Before, s *render.Server) serverResult {
	res := serverResult{replace: -1}
	op := func(kind, from, to string) {
		res.ops = append(res.ops, Op{Op: kind, Backend: nb.Name, Server: s.Name, From: from, To: to, New: s})
	}
	if s.Hostname && (o.Address != s.Address || o.Port != s.Port || !o.Hostname) {
		res.dns = true
	}
	if o.Unknown || needsReplace(&o.Server, s) {
		if !nb.Dynamic {
			res.static = append(res.static, "replace "+s.Name)
		}
		if s.Hostname {
			res.dns = true
		}
		from, to := replaceChanges(o, s)
		res.replace = 0
		res.ops = []Op{{Op: OpReplace, Backend: nb.Name, Server: s.Name, From: from, To: to, New: s, Line: s.Line()}}
		return res
	}
	if o.Address != s.Address || o.Port != s.Port {
		op(OpSetAddr, o.Addr(), s.Addr())
	}
	os, ns := stateOf(o.State), stateOf(s.State)
	// The file writes a drained server as weight 0: one running from it is
	// ready with weight 0, which is the same as drained.
	if ns == "drain" && os == "ready" && o.Weight == 0 {
		os = "drain"
	}
	if ns != "drain" {
		from := o.Weight
		if os == "drain" && !o.Admitting {
			from = 0 // the file wrote it as weight 0: the weight comes back too
		}
		if from != s.Weight {
			op(OpSetWeight, strconv.Itoa(from), strconv.Itoa(s.Weight))
			if !nb.Dynamic && s.Weight != 0 {
				res.static = append(res.static, "weight of "+s.Name)
			}
		}
	}
	if o.Maxconn != s.Maxconn {
		op(OpSetMaxconn, strconv.Itoa(o.Maxconn), strconv.Itoa(s.Maxconn))
	}
	switch {
	case o.Admitting && os == "maint" && ns != "maint":
		// Held in maintenance (a reload or restart read it `disabled`):
		// back to admission.
		op(OpAdmit, os, ns)
	case o.Admitting && ns != "maint":
		if o.CheckPassed && ns != "drain" {
			op(OpSetState, "drain", ns) // admitted: its first check passed
		}
	case os == ns:
	case os == "maint" && s.Check:
		op(OpAdmit, os, ns)
	default:
		op(OpSetState, os, ns)
	}
	return res
}

func stateOf(s string) string {
	if s == "" {
		return "ready"
	}
	return s
}

// summarize joins at most max items and counts the rest.
func summarize(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:max], ", ") + fmt.Sprintf(" and %d more", len(items)-max)
}

// needsReplace reports whether o and s differ in a setting the runtime API
// cannot change in place: anything on the server line but the address,
// port, weight, maxconn and state. It compares the rendered keywords, so
// settings that are not rendered (check intervals without check) do not count.
func needsReplace(o, s *render.Server) bool {
	if o.Check && s.Check && checkPort(o) != checkPort(s) {
		return true
	}
	a := *o
	a.Address, a.Hostname, a.Port, a.CheckPort = s.Address, s.Hostname, s.Port, s.CheckPort
	a.Weight, a.Maxconn, a.State = s.Weight, s.Maxconn, s.State
	return a.Keywords() != s.Keywords()
}

// replaceChanges describes what a replace changes, as "name value" lists.
func replaceChanges(o *Before, s *render.Server) (from, to string) {
	if o.Unknown {
		return "settings unknown (line on disk not written by ddc-gitops)", "`" + s.Keywords() + "`"
	}
	var f, t []string
	diff := func(name, a, b string) {
		if a != b {
			f = append(f, name+" "+a)
			t = append(t, name+" "+b)
		}
	}
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	diff("addr", o.Addr(), s.Addr())
	diff("weight", strconv.Itoa(o.Weight), strconv.Itoa(s.Weight))
	diff("maxconn", strconv.Itoa(o.Maxconn), strconv.Itoa(s.Maxconn))
	diff("state", stateOf(o.State), stateOf(s.State))
	n := len(f)
	diff("slowstart", render.FormatDuration(o.Slowstart), render.FormatDuration(s.Slowstart))
	diff("backup", onOff(o.Backup), onOff(s.Backup))
	diff("proto", orNone(o.Proto), orNone(s.Proto))
	diff("ssl", onOff(o.SSL), onOff(s.SSL))
	if o.SSL && s.SSL {
		diff("sni", orNone(o.SNI), orNone(s.SNI))
		diff("alpn", orNone(o.ALPN), orNone(s.ALPN))
	}
	diff("check", onOff(o.Check), onOff(s.Check))
	if o.Check && s.Check {
		diff("check port", checkPort(&o.Server), checkPort(s))
		diff("inter", render.FormatDuration(o.Inter), render.FormatDuration(s.Inter))
		diff("rise", strconv.Itoa(o.Rise), strconv.Itoa(s.Rise))
		diff("fall", strconv.Itoa(o.Fall), strconv.Itoa(s.Fall))
		diff("check-proto", orNone(o.CheckProto), orNone(s.CheckProto))
		diff("check-ssl", onOff(o.CheckSSL), onOff(s.CheckSSL))
		if o.CheckSSL && s.CheckSSL && !(o.SSL && s.SSL) {
			diff("check-sni", orNone(o.SNI), orNone(s.SNI))
		}
	}
	if len(f) == n { // a setting this package does not name: show the keywords
		f = append(f, "`"+o.Keywords()+"`")
		t = append(t, "`"+s.Keywords()+"`")
	}
	return strings.Join(f, ", "), strings.Join(t, ", ")
}

// checkPort is the health check port as the runtime sees it: an explicit
// port stays put when the traffic port changes, "traffic port" follows it.
func checkPort(s *render.Server) string {
	if s.CheckPort > 0 && s.CheckPort != s.Port {
		return strconv.Itoa(s.CheckPort)
	}
	return "traffic port"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
