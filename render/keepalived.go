package render

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// TrackProcess is the name of the vrrp_track_process block tracking haproxy.
const TrackProcess = "track_haproxy"

// CheckHAProxyArgv0 reports whether argv0 can be rendered as
// Options.HAProxyArgv0: empty, or an absolute path whose segments are
// letters, digits, '_', '.' and '-' (no "." or ".." segment). keepalived's
// parser splits on blanks and treats quotes, '#' and '!' specially, so
// anything else is refused rather than quoted.
func CheckHAProxyArgv0(argv0 string) error {
	if argv0 == "" || reAbsPath.MatchString(argv0) {
		return nil
	}
	return fmt.Errorf("haproxy path %q for keepalived's vrrp_track_process: want an absolute path of letters, digits, '_', '.', '-' and '/' (no spaces or quotes)", argv0)
}

// keepalived renders keepalived.conf: one VRRP instance per VIP of the zone,
// unicast between the zone's hosts, every instance tracking haproxy.
func (c *hostCtx) keepalived() ([]byte, error) {
	if err := CheckHAProxyArgv0(c.haproxyArgv0); err != nil {
		return nil, err
	}
	k := &c.f.Keepalived
	w := &cfgWriter{}
	w.comment("", "keepalived.conf of host "+c.host.Name+" (zone "+c.zone.Name+", fleet "+c.f.Name+").\n"+
		"Rendered by ddc-gitops from the fleet's desired state: do not edit, changes are overwritten.")
	w.blank()
	w.line("global_defs", "{")
	w.in("router_id", c.host.Name)
	w.in("enable_script_security")
	w.in("script_user", k.ScriptUser)
	w.line("}")
	if len(c.zone.VIPs) == 0 {
		return w.b.Bytes(), nil
	}

	prefix, err := netip.ParsePrefix(c.zone.Network.CIDR)
	if err != nil {
		return nil, fmt.Errorf("zone %s: network cidr %q: %w", c.zone.Name, c.zone.Network.CIDR, err)
	}

	w.blank()
	// trackWeight is subtracted whatever its sign; 0 means FAULT.
	weight := k.TrackWeight
	if weight < 0 {
		weight = -weight
	}
	if weight > 0 {
		w.comment("", fmt.Sprintf("Without a running %s process, every instance's priority drops by %d.", k.TrackProcess, weight))
	} else {
		w.comment("", "Without a running "+k.TrackProcess+" process, every instance goes to FAULT and releases its VIP.")
	}
	if c.haproxyArgv0 != "" {
		w.comment("", "Only the haproxy started as "+c.haproxyArgv0+" counts (master and workers keep that argv[0],\n"+
			"also across reloads): another haproxy on this machine does not hold this host's VIPs.")
	}
	w.line("vrrp_track_process", TrackProcess, "{")
	if c.haproxyArgv0 != "" {
		w.in("process", c.haproxyArgv0)
		w.in("full_command")
	} else {
		w.in("process", k.TrackProcess)
	}
	w.in("weight", itoa(-weight))
	w.line("}")

	var peers []string
	for _, h := range c.zone.Hosts {
		if h != c.host && h.Address != c.host.Address {
			peers = append(peers, h.Address)
		}
	}
	adv := k.AdvertInt.D()
	if adv <= 0 {
		adv = time.Second
	}
	for _, v := range c.zone.VIPs {
		iface := v.Interface
		if iface == "" {
			iface = c.host.Interface
		}
		prio := c.host.Priority
		if slices.Contains(c.host.Owns, v.Name) {
			prio = k.OwnerPriority
		}
		w.blank()
		w.line("vrrp_instance", v.Name, "{")
		w.in("state", "BACKUP")
		w.in("interface", iface)
		w.in("virtual_router_id", itoa(v.RouterID))
		w.in("priority", itoa(prio))
		if adv%time.Second != 0 {
			// VRRPv2 advertises whole seconds only.
			w.in("version", "3")
		}
		w.in("advert_int", secs(adv))
		switch {
		case !k.Preempts():
			w.in("nopreempt")
		case k.PreemptDelay > 0:
			w.in("preempt_delay", secs(k.PreemptDelay.D()))
		}
		if len(peers) > 0 {
			w.in("unicast_src_ip", c.host.Address)
			w.in("unicast_peer", "{")
			for _, p := range peers {
				w.in(indent + p)
			}
			w.in("}")
		}
		w.in("virtual_ipaddress", "{")
		w.in(indent+v.Address+"/"+itoa(prefix.Bits()), "dev", iface)
		w.in("}")
		w.in("track_process", "{")
		w.in(indent + TrackProcess)
		w.in("}")
		w.line("}")
	}
	return w.b.Bytes(), nil
}
