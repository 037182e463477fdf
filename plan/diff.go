package plan

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/render"
)

// Diff compares one host's rendered configs in two revisions. old nil means
// the host is new (a full deploy and reload); new nil means it was removed.
func Diff(old, new *render.Host) HostPlan {
	switch {
	case old == nil && new == nil:
		return HostPlan{HAProxy: ActionNone, Keepalived: ActionNone}
	case old == nil:
		hp := HostPlan{Host: new.Name, Zone: new.Zone, New: true, HAProxy: ActionReload, Keepalived: ActionNone,
			Reasons: []string{"new host: first deploy of haproxy.cfg"}}
		if len(new.Keepalived) > 0 {
			hp.Keepalived = ActionReload
			hp.Reasons[0] += " and keepalived.conf"
		}
		return hp
	case new == nil:
		return HostPlan{Host: old.Name, Zone: old.Zone, Removed: true, HAProxy: ActionNone, Keepalived: ActionNone,
			Reasons: []string{"host removed from the desired state: its agent has nothing to apply"}}
	}

	hp := HostPlan{Host: new.Name, Zone: new.Zone, HAProxy: ActionNone, Keepalived: ActionNone}
	if !bytes.Equal(old.HAProxy, new.HAProxy) {
		diffHAProxy(&hp, old, new)
	}
	if !bytes.Equal(old.Keepalived, new.Keepalived) {
		hp.Keepalived = ActionReload
		reasons := sectionChanges(old.Keepalived, new.Keepalived, func(key string) string {
			return "keepalived " + key + " changed"
		}, nil)
		if len(reasons) == 0 {
			reasons = []string{"keepalived.conf changed"}
		}
		for i, r := range reasons {
			if !strings.HasPrefix(r, "keepalived ") {
				reasons[i] = "keepalived " + r
			}
		}
		hp.Reasons = append(hp.Reasons, reasons...)
	}
	return hp
}

// diffHAProxy fills hp's HAProxy action, ops, reasons and warnings for two
// differing haproxy.cfg.
func diffHAProxy(hp *HostPlan, old, new *render.Host) {
	var reasons []string
	if !skeletonEqual(old.HAProxy, new.HAProxy) {
		reasons = skeletonChanges(render.Skeleton(old.HAProxy), render.Skeleton(new.HAProxy))
	}
	skeletonReload := len(reasons) > 0

	oldBE := make(map[string]*render.Backend, len(old.Backends))
	for i := range old.Backends {
		oldBE[old.Backends[i].Name] = &old.Backends[i]
	}
	var serverReasons []string
	for i := range new.Backends {
		nb := &new.Backends[i]
		ob := oldBE[nb.Name]
		if ob == nil {
			continue // a new backend: its section is new, the reload creates it
		}
		d := diffBackend(ob, nb)
		hp.Ops = append(hp.Ops, d.ops...)
		serverReasons = append(serverReasons, d.reasons...)
		hp.Warnings = append(hp.Warnings, d.warnings...)
	}
	reasons = append(reasons, serverReasons...)

	switch {
	case skeletonReload || len(serverReasons) > 0:
		hp.HAProxy = ActionReload
	default:
		// Only server lines differ. With no op, they differ only in order:
		// the file is rewritten so the next reload matches it.
		hp.HAProxy = ActionRuntime
		if len(hp.Ops) == 0 {
			reasons = append(reasons, "server lines reordered: haproxy.cfg is rewritten, nothing to change at runtime")
		}
	}
	hp.Reasons = append(hp.Reasons, reasons...)
}

// skeletonEqual reports whether a and b have equal skeletons (see
// render.Skeleton) without building them.
func skeletonEqual(a, b []byte) bool {
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

var serverPrefix = []byte(render.ServerIndent + "server ")

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

// skeletonChanges names what differs between two haproxy.cfg skeletons,
// section by section.
func skeletonChanges(old, new []byte) []string {
	var reasons []string
	og, ng := reloadGeneration(old), reloadGeneration(new)
	if og != ng {
		reasons = append(reasons, fmt.Sprintf("reload generation %s -> %s", orUnset(og), orUnset(ng)))
	}
	reasons = append(reasons, sectionChanges(old, new, func(key string) string {
		if strings.HasPrefix(key, "backend ") {
			return key + " settings changed"
		}
		return sectionName(key) + " changed"
	}, func(_ string, a, b []byte) bool {
		// A section that differs only in its reload generation line is
		// already explained by the generation reason.
		return og != ng && bytes.Equal(withoutGeneration(a), withoutGeneration(b))
	})...)
	if len(reasons) == 0 {
		reasons = append(reasons, "sections reordered")
	}
	return reasons
}

func orUnset(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}

// backendDiff is the server changes of one backend.
type backendDiff struct {
	ops      []Op
	reasons  []string // why these changes need a reload
	warnings []string
}

// diffBackend compares the servers of a backend present in both revisions.
// Servers are matched by name.
func diffBackend(ob, nb *render.Backend) backendDiff {
	var d backendDiff
	os, ns := ob.Servers, nb.Servers
	// Fast path: the common prefix where names line up.
	n := 0
	for n < len(os) && n < len(ns) && os[n].Name == ns[n].Name {
		n++
	}
	var (
		static   []string // what needs a reload because the balance algorithm is static
		dnsNames []string
	)
	change := func(o, s *render.Server) {
		if *o == *s {
			return
		}
		ops, replace := serverOps(nb.Name, o, s)
		d.ops = append(d.ops, ops...)
		if replace && !nb.Dynamic {
			static = append(static, "replace "+s.Name)
		}
		if !nb.Dynamic && !replace && hasOp(ops, OpSetWeight) {
			static = append(static, "weight of "+s.Name)
		}
		if s.Hostname && (replace || o.Address != s.Address || o.Port != s.Port || !o.Hostname) {
			dnsNames = append(dnsNames, s.Name+" ("+s.Address+")")
		}
	}
	for i := 0; i < n; i++ {
		change(&os[i], &ns[i])
	}
	if n < len(os) || n < len(ns) {
		oldIdx := make(map[string]int, len(os)-n)
		for i := n; i < len(os); i++ {
			oldIdx[os[i].Name] = i
		}
		seen := make(map[string]bool, len(ns)-n)
		for i := n; i < len(ns); i++ {
			s := &ns[i]
			seen[s.Name] = true
			j, ok := oldIdx[s.Name]
			if ok {
				change(&os[j], s)
				continue
			}
			d.ops = append(d.ops, Op{Op: OpAdd, Backend: nb.Name, Server: s.Name, To: s.Addr(), New: s, Line: s.Line()})
			if !nb.Dynamic {
				static = append(static, "add "+s.Name)
			}
			if s.Hostname {
				dnsNames = append(dnsNames, s.Name+" ("+s.Address+")")
			}
		}
		for i := n; i < len(os); i++ {
			o := &os[i]
			if seen[o.Name] {
				continue
			}
			d.ops = append(d.ops, Op{Op: OpDel, Backend: nb.Name, Server: o.Name, From: o.Addr()})
			if !nb.Dynamic {
				static = append(static, "del "+o.Name)
			}
		}
	}
	if len(static) > 0 {
		d.reasons = append(d.reasons, fmt.Sprintf("backend %s uses balance %s: server changes need a reload", nb.Name, nb.Balance))
		d.warnings = append(d.warnings, fmt.Sprintf("backend %s uses balance %s, which forbids runtime server changes (%s): HAProxy reloads",
			nb.Name, nb.Balance, summarize(static, 5)))
	}
	if len(dnsNames) > 0 {
		d.reasons = append(d.reasons, fmt.Sprintf("backend %s: the runtime API does not resolve DNS names, a reload sets up %s",
			nb.Name, summarize(dnsNames, 5)))
	}
	return d
}

func hasOp(ops []Op, kind string) bool {
	for _, op := range ops {
		if op.Op == kind {
			return true
		}
	}
	return false
}

// summarize joins at most max items and counts the rest.
func summarize(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:max], ", ") + fmt.Sprintf(" and %d more", len(items)-max)
}

// serverOps lists the runtime changes that turn server o into s (same
// name, different settings). replace is set when a setting the runtime API
// cannot change in place differs: the single op is then a replace, whose
// From and To list every changed setting.
func serverOps(backend string, o, s *render.Server) (ops []Op, replace bool) {
	var sets []Op
	op := func(kind, from, to string) {
		sets = append(sets, Op{Op: kind, Backend: backend, Server: s.Name, From: from, To: to, New: s})
	}
	if o.Address != s.Address || o.Port != s.Port {
		op(OpSetAddr, o.Addr(), s.Addr())
	}
	// A drained server is written with weight 0: one loaded from the file
	// in drain has weight 0, so leaving drain sets the weight back too.
	if leavingDrain := o.State == "drain" && s.State != "drain"; o.Weight != s.Weight || leavingDrain {
		from := strconv.Itoa(o.Weight)
		if leavingDrain {
			from = "0"
		}
		op(OpSetWeight, from, strconv.Itoa(s.Weight))
	}
	if o.Maxconn != s.Maxconn {
		op(OpSetMaxconn, strconv.Itoa(o.Maxconn), strconv.Itoa(s.Maxconn))
	}
	if o.State != s.State {
		op(OpSetState, o.State, s.State)
	}
	if !needsReplace(o, s) {
		return sets, false
	}
	from, to := replaceChanges(o, s)
	if len(from) == 0 { // a setting this package does not name: show the keywords
		from, to = []string{"`" + o.Keywords() + "`"}, []string{"`" + s.Keywords() + "`"}
	}
	var f, t []string
	for _, c := range sets {
		name := strings.TrimPrefix(c.Op, "set-")
		f = append(f, name+" "+c.From)
		t = append(t, name+" "+c.To)
	}
	f, t = append(f, from...), append(t, to...)
	return []Op{{Op: OpReplace, Backend: backend, Server: s.Name, From: strings.Join(f, ", "), To: strings.Join(t, ", "), New: s, Line: s.Line()}}, true
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

// replaceChanges describes the settings of o and s that only a replace (del
// then add) can change, as "name value" items; both are empty when none differs.
func replaceChanges(o, s *render.Server) (from, to []string) {
	diff := func(name, a, b string) {
		if a != b {
			from = append(from, name+" "+a)
			to = append(to, name+" "+b)
		}
	}
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
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
		diff("check port", checkPort(o), checkPort(s))
		diff("inter", render.FormatDuration(o.Inter), render.FormatDuration(s.Inter))
		diff("rise", strconv.Itoa(o.Rise), strconv.Itoa(s.Rise))
		diff("fall", strconv.Itoa(o.Fall), strconv.Itoa(s.Fall))
		diff("check-proto", orNone(o.CheckProto), orNone(s.CheckProto))
		diff("check-ssl", onOff(o.CheckSSL), onOff(s.CheckSSL))
		if o.CheckSSL && s.CheckSSL && !(o.SSL && s.SSL) {
			diff("check-sni", orNone(o.SNI), orNone(s.SNI))
		}
	}
	return from, to
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
