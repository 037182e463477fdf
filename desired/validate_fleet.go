package desired

import "time"

// fleet checks fleet.yaml's own fields.
func (v *validator) fleet() {
	if v.broken.fleet {
		return // decode errors reported; the partly decoded values would only repeat them
	}
	f := v.f
	const file = FleetFile
	v.kind(file, f.Kind, KindFleet)
	v.str(file, "name", f.Name, ruleName)
	v.oneOf(file, "nodeLayout", f.NodeLayout, NodeLayoutFlat, NodeLayoutSharded)

	h := &f.HAProxy
	v.intRange(file, "haproxy.maxconn", h.Maxconn, 1, MaxMaxconn)
	v.intRange(file, "haproxy.nbthread", h.Nbthread, 0, 64)
	if h.HardStopAfter <= 0 {
		v.errorf(file, "haproxy.hardStopAfter", "hardStopAfter must be positive, so old workers cannot live forever")
	} else {
		v.dur(file, "haproxy.hardStopAfter", h.HardStopAfter)
	}
	v.str(file, "haproxy.crtBase", h.CrtBase, ruleRelOrAbsPath)
	v.str(file, "haproxy.adminSocket", h.AdminSocket, ruleAbsPath)
	v.str(file, "haproxy.logTarget", h.LogTarget, ruleLogTarget)
	v.timeouts(file, "haproxy.timeouts", &h.Timeouts, nil)
	v.serverDefaults(file, "haproxy.serverDefaults", &h.ServerDefaults)

	k := &f.Keepalived
	const centisecond = Duration(10 * time.Millisecond)
	switch {
	case k.AdvertInt < centisecond || k.AdvertInt > Duration(255*time.Second):
		v.errorf(file, "keepalived.advertInt", "advertInt %s is out of range 10ms..255s", k.AdvertInt.D())
	case k.AdvertInt%centisecond != 0:
		v.errorf(file, "keepalived.advertInt", "advertInt %s is not a multiple of 10ms (keepalived's resolution)", k.AdvertInt.D())
	}
	v.intRange(file, "keepalived.ownerPriority", k.OwnerPriority, 2, 254)
	if k.PreemptDelay > Duration(1000*time.Second) {
		v.errorf(file, "keepalived.preemptDelay", "preemptDelay %s is out of range 0s..1000s", k.PreemptDelay.D())
	}
	v.str(file, "keepalived.scriptUser", k.ScriptUser, ruleUser)
	v.str(file, "keepalived.trackProcess", k.TrackProcess, ruleProcess)
	v.intRange(file, "keepalived.trackWeight", k.TrackWeight, -253, 253)
}

// timeouts checks a Timeouts block; misplaced, when not nil, says why a
// timeout (by YAML key) has no effect where this block is, or "".
func (v *validator) timeouts(file, field string, t *Timeouts, misplaced func(key string) string) {
	for _, e := range []struct {
		key string
		d   Duration
	}{
		{"connect", t.Connect}, {"client", t.Client}, {"server", t.Server},
		{"httpRequest", t.HTTPRequest}, {"httpKeepAlive", t.HTTPKeepAlive},
		{"queue", t.Queue}, {"tunnel", t.Tunnel}, {"check", t.Check},
	} {
		if e.d == 0 {
			continue
		}
		p := field + "." + e.key
		if misplaced != nil {
			if why := misplaced(e.key); why != "" {
				v.errorf(file, p, "timeout %s has no effect here: %s", e.key, why)
				continue
			}
		}
		v.dur(file, p, e.d)
	}
}

// serverDefaults checks per-server settings (fleet-wide or per backend).
func (v *validator) serverDefaults(file, field string, sd *ServerDefaults) {
	if sd.Weight != nil {
		v.intRange(file, field+".weight", *sd.Weight, 0, 256)
	}
	if sd.Maxconn != nil {
		v.intRange(file, field+".maxconn", *sd.Maxconn, 0, MaxMaxconn)
	}
	v.dur(file, field+".slowstart", sd.Slowstart)
}
