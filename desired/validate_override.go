package desired

import (
	"fmt"
	"strconv"
	"time"
)

// overrides checks every override file: its fields, its times and its
// references (zones, hosts, backends, servers).
func (v *validator) overrides() {
	seen := make(map[string]*Override, len(v.f.Overrides))
	for _, o := range v.f.Overrides {
		if first, dup := seen[o.Name]; !dup || (!filePlaced(first.File, first.Name) && filePlaced(o.File, o.Name)) {
			seen[o.Name] = o
		}
	}
	for _, o := range v.f.Overrides {
		v.override(o, seen)
	}
}

func (v *validator) override(o *Override, seen map[string]*Override) {
	file := o.File
	v.kind(file, o.Kind, KindOverride)
	if v.str(file, "name", o.Name, ruleName) && seen[o.Name] != o {
		v.errorf(file, "name", "override %q is already defined in %s", o.Name, v.at(seen[o.Name].File, "name"))
	}
	v.placement(file, "override", o.Name, fileStem(file), OverridesDir+"/<name>.yaml")
	if o.Until == "" {
		v.errorf(file, "until", "until is required: the time (RFC 3339) the override ends, at most %s after its commit", MaxOverrideLife)
	} else if t, err := ParseTime(o.Until); err != nil {
		v.errorf(file, "until", "until %q is not an RFC 3339 time such as 2026-12-04T21:00:00Z", o.Until)
	} else {
		o.UntilTime = t
	}
	v.str(file, "reason", o.Reason, ruleReason)
	for i, z := range o.Zones {
		field := "zones[" + strconv.Itoa(i) + "]"
		if v.str(file, field, z, ruleName) {
			v.zoneRef(file, field, z)
		}
	}
	for i, h := range o.Hosts {
		field := "hosts[" + strconv.Itoa(i) + "]"
		if v.str(file, field, h, ruleName) {
			if _, ok := v.hostNames[h]; !ok {
				v.errorf(file, field, "unknown host %q", h)
			}
		}
	}
	if len(o.Servers) == 0 && len(o.Freeze) == 0 {
		v.errorf(file, "servers", "an override needs at least one server action (servers) or frozen backend (freeze)")
	}
	targets := map[string]string{}
	for i, s := range o.Servers {
		p := "servers[" + strconv.Itoa(i) + "]"
		var b *Backend
		if v.str(file, p+".backend", s.Backend, ruleName) {
			b = v.backendRef(file, p+".backend", s.Backend)
		}
		if v.str(file, p+".server", s.Server, ruleName) && b != nil && !v.serverOf(b, s.Server) {
			v.errorf(file, p+".server", "backend %q has no server %q (a static server, a node, a container or a failover VIP)", s.Backend, s.Server)
		}
		if s.State == "" && s.Weight == nil {
			v.errorf(file, p, "a server action needs state (drain or maint) or weight")
		}
		if s.State != "" {
			v.oneOf(file, p+".state", s.State, OverrideDrain, OverrideMaint)
		}
		if s.Weight != nil {
			v.intRange(file, p+".weight", *s.Weight, 0, 256)
		}
		k := s.Backend + "/" + s.Server
		if first, dup := targets[k]; dup {
			v.errorf(file, p, "server %s is already overridden by %s", k, first)
		}
		targets[k] = p
	}
	frozen := map[string]bool{}
	for i, name := range o.Freeze {
		field := "freeze[" + strconv.Itoa(i) + "]"
		if v.str(file, field, name, ruleName) {
			v.backendRef(file, field, name)
			if frozen[name] {
				v.errorf(file, field, "backend %q is listed twice", name)
			}
			frozen[name] = true
		}
	}
}

// serverOf reports whether name can be a server of backend b on some host.
func (v *validator) serverOf(b *Backend, name string) bool {
	for _, s := range b.Servers {
		if s != nil && s.Name == name {
			return true
		}
	}
	if n := v.nodes[name]; n != nil && b.Nodes != nil {
		return true
	}
	for _, c := range v.f.Containers {
		if c.Name == name {
			return true
		}
	}
	_, vip := v.vipZone[name]
	return vip && b.Failover != nil
}

// freeze checks fleet.yaml's freeze windows.
func (v *validator) freeze() {
	if v.broken.fleet {
		return
	}
	names := map[string]bool{}
	for i := range v.f.Freeze {
		w := &v.f.Freeze[i]
		p := "freeze[" + strconv.Itoa(i) + "]"
		if v.str(FleetFile, p+".name", w.Name, ruleName) {
			if names[w.Name] {
				v.errorf(FleetFile, p+".name", "freeze window %q is defined twice", w.Name)
			}
			names[w.Name] = true
		}
		w.FromTime = v.time(FleetFile, p+".from", w.From)
		w.UntilTime = v.time(FleetFile, p+".until", w.Until)
		if !w.FromTime.IsZero() && !w.UntilTime.IsZero() && !w.UntilTime.After(w.FromTime) {
			v.errorf(FleetFile, p+".until", "until %s is not after from %s", w.Until, w.From)
		}
		v.optStr(FleetFile, p+".reason", w.Reason, ruleReason)
	}
}

// time parses a required RFC 3339 time field; zero when it is missing or bad.
func (v *validator) time(file, field, s string) time.Time {
	if s == "" {
		v.errorf(file, field, "%s is required: an RFC 3339 time such as 2026-12-04T21:00:00Z", key(field))
		return time.Time{}
	}
	t, err := ParseTime(s)
	if err != nil {
		v.errorf(file, field, "%s %q is not an RFC 3339 time such as 2026-12-04T21:00:00Z", key(field), s)
		return time.Time{}
	}
	return t
}

// CheckOverrideBounds reports every override of f whose until is more than
// MaxOverrideLife after committed (the time of the commit that carries it,
// or the time the API writes it). f must be validated.
func CheckOverrideBounds(f *Fleet, committed time.Time) Errors {
	var errs Errors
	limit := committed.Add(MaxOverrideLife)
	for _, o := range f.Overrides {
		if o.UntilTime.After(limit) {
			p := f.Source.Pos(o.File, "until")
			errs = append(errs, Error{File: o.File, Line: p.Line, Col: p.Col, Field: "until",
				Msg: fmt.Sprintf("until %s is more than %s after the commit (%s): an override is bounded", o.Until, MaxOverrideLife, committed.UTC().Format(time.RFC3339))})
		}
	}
	return errs
}
