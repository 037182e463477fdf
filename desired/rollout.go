package desired

import (
	"net"
	"regexp"
	"strconv"
	"time"
)

// Rollout waves (docs/rollouts.md, "Waves"). Every HAProxy host has a wave;
// a host applies a revision that needs a reload, a keepalived change or a
// frontend/backend change only after every host of every earlier wave
// reports that revision done. The hosts of one zone share its VIPs (one
// VRRP group), so they are never in the same wave: one host of every pair
// keeps running the previous revision until the other proved the new one.

// Values of rollout.serverChanges.
const (
	ServerChangesSkip  = "skip"  // pure server changes apply at once on every host
	ServerChangesWaves = "waves" // every change goes wave by wave
)

// Rollout defaults (fleet.yaml `rollout:`).
const (
	DefaultServerChanges   = ServerChangesSkip
	DefaultPeerTimeout     = 2 * time.Second
	DefaultAgentPort       = 9100
	DefaultRecheckInterval = 3 * time.Second
	// MaxWave bounds wave numbers.
	MaxWave = 1000
)

// PatternAgentURL: where a host's agent answers GET /v1/status, as
// http(s)://host[:port] with no path, user info, query or fragment.
const PatternAgentURL = `^https?://(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$`

var reAgentURL = regexp.MustCompile(PatternAgentURL)

// ValidAgentURL reports whether s matches PatternAgentURL.
func ValidAgentURL(s string) bool { return reAgentURL.MatchString(s) }

var ruleAgentURL = rule{ValidAgentURL,
	"%[1]s %[2]q is invalid: http:// or https://, a host name or IP address ([...] for IPv6) and an optional port, no path"}

// Rollout is fleet.yaml's `rollout:` section.
type Rollout struct {
	// ServerChanges says whether pure server changes (membership, weight,
	// state: what the runtime API applies without a reload) go wave by
	// wave: skip (default) applies them at once everywhere, waves holds
	// them like any other change.
	ServerChanges string `yaml:"serverChanges"`
	// PeerTimeout bounds one GET /v1/status of an earlier-wave host.
	PeerTimeout Duration `yaml:"peerTimeout"`
	// AgentPort is the port of the agents' HTTP listener, where peers read
	// http://<host address>:<agentPort>/v1/status (a host's agentURL
	// overrides it).
	AgentPort int `yaml:"agentPort"`
	// RecheckInterval is how often a holding host asks its earlier waves again.
	RecheckInterval Duration `yaml:"recheckInterval"`
}

// setRolloutDefaults fills the rollout section and every host's wave. The
// default wave of a zone is 0 for the first zone (zones sorted by name, as
// loaded) and 1 for the others; a host's default wave is its zone's wave
// plus its index in the zone.
func setRolloutDefaults(f *Fleet) {
	src := f.Source
	ro := &f.Rollout
	setStr(&ro.ServerChanges, DefaultServerChanges)
	setDurAt(&ro.PeerTimeout, DefaultPeerTimeout, src, FleetFile, "rollout.peerTimeout")
	setIntAt(&ro.AgentPort, DefaultAgentPort, src, FleetFile, "rollout.agentPort")
	setDurAt(&ro.RecheckInterval, DefaultRecheckInterval, src, FleetFile, "rollout.recheckInterval")
	for zi, z := range f.Zones {
		zoneWave := 0
		if zi > 0 {
			zoneWave = 1
		}
		setIntPtr(&z.Wave, zoneWave)
		for i, h := range z.Hosts {
			setIntPtr(&h.Wave, *z.Wave+i)
		}
	}
}

// HostWave returns the wave of h (after SetDefaults; 0 before).
func (h *Host) HostWave() int {
	if h.Wave == nil {
		return 0
	}
	return *h.Wave
}

// AgentStatusURL is the base URL of h's agent for peers: its agentURL, or
// http://<address>:<port>.
func (h *Host) AgentStatusURL(port int) string {
	if h.AgentURL != "" {
		return h.AgentURL
	}
	return "http://" + net.JoinHostPort(h.Address, strconv.Itoa(port))
}

// rollout checks fleet.yaml's rollout section and every zone's waves.
func (v *validator) rollout() {
	for _, z := range v.f.Zones {
		v.zoneWaves(z)
	}
	if v.broken.fleet {
		return
	}
	const file = FleetFile
	ro := &v.f.Rollout
	v.oneOf(file, "rollout.serverChanges", ro.ServerChanges, ServerChangesSkip, ServerChangesWaves)
	if ro.PeerTimeout < Duration(10*time.Millisecond) || ro.PeerTimeout > Duration(time.Minute) {
		v.errorf(file, "rollout.peerTimeout", "peerTimeout %s is out of range 10ms..1m", ro.PeerTimeout.D())
	}
	if ro.RecheckInterval < Duration(100*time.Millisecond) || ro.RecheckInterval > Duration(10*time.Minute) {
		v.errorf(file, "rollout.recheckInterval", "recheckInterval %s is out of range 100ms..10m", ro.RecheckInterval.D())
	}
	v.port(file, "rollout.agentPort", ro.AgentPort)
}

// zoneWaves checks a zone's waves and agent URLs: the zone's hosts (one
// VRRP group: they share the VIPs) are never in the same wave.
func (v *validator) zoneWaves(z *Zone) {
	if z.Wave != nil {
		v.intRange(z.File, "wave", *z.Wave, 0, MaxWave)
	}
	first := map[int]int{} // wave -> index of its first host
	for i, h := range z.Hosts {
		field := "hosts[" + strconv.Itoa(i) + "]"
		v.optStr(z.File, field+".agentURL", h.AgentURL, ruleAgentURL)
		if h.Wave == nil {
			continue
		}
		w := *h.Wave
		if w < 0 || w > MaxWave {
			v.errorf(z.File, field+".wave", "wave %d is out of range 0..%d", w, MaxWave)
			continue
		}
		if j, clash := first[w]; clash {
			other := "hosts[" + strconv.Itoa(j) + "]"
			v.errorf(z.File, field+".wave", "host %s is in wave %d like host %s (%s) of the same zone: the hosts of a zone share its VIPs, so at least one of them must keep the previous revision while the other applies a new one; give them different waves",
				h.Name, w, z.Hosts[j].Name, v.at(z.File, waveField(v.f.Source, z.File, other)))
			continue
		}
		first[w] = i
	}
}

// waveField is the field that decided a host's wave: its own wave: when
// the file sets one, else the host itself.
func waveField(src Source, file, host string) string {
	if src.has(file, host+".wave") {
		return host + ".wave"
	}
	return host
}
