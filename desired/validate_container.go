package desired

import (
	"net/netip"
)

// containerZone is what validation learnt about a zone's containers block.
type containerZone struct {
	prefix   netip.Prefix
	prefixOK bool
	hosts    map[string]bool
}

// zoneContainers checks a zone's containers block: its address range inside
// the zone network, its gateway and its container hosts.
func (v *validator) zoneContainers(z *Zone, zonePrefix netip.Prefix, zoneOK bool) {
	file, c := z.File, z.Containers
	cz := &containerZone{hosts: map[string]bool{}}
	if v.containerZones == nil {
		v.containerZones = map[string]*containerZone{}
	}
	if _, dup := v.containerZones[z.Name]; !dup {
		v.containerZones[z.Name] = cz
	}
	cz.prefix, cz.prefixOK = v.cidr(file, "containers.cidr", c.CIDR)
	if cz.prefixOK && zoneOK && (cz.prefix.Bits() < zonePrefix.Bits() || !zonePrefix.Contains(cz.prefix.Addr())) {
		v.errorf(file, "containers.cidr", "containers.cidr %q is not inside the network %q of zone %q", c.CIDR, z.Network.CIDR, z.Name)
		cz.prefixOK = false
	}
	if v.optStr(file, "containers.gateway", c.Gateway, ruleIP) && c.Gateway != "" {
		g := netip.MustParseAddr(c.Gateway)
		switch {
		case zoneOK && !zonePrefix.Contains(g):
			v.errorf(file, "containers.gateway", "gateway %q is outside the network %q of zone %q", c.Gateway, z.Network.CIDR, z.Name)
		case cz.prefixOK && cz.prefix.Contains(g):
			v.errorf(file, "containers.gateway", "gateway %q is inside containers.cidr %q: it would be handed to a container", c.Gateway, c.CIDR)
		}
	}
	if len(c.Hosts) == 0 {
		v.errorf(file, "containers.hosts", "containers of zone %q need at least one container host", z.Name)
	}
	for i, h := range c.Hosts {
		p := idx("containers.hosts", i)
		if v.str(file, p+".name", h.Name, ruleName) {
			r := ref{what: "container host", name: h.Name, zone: z.Name, file: file, field: p + ".name"}
			if first, dup := v.hostNames[h.Name]; dup {
				v.errorf(file, r.field, "host name %q is already used in %s (host names are unique fleet-wide)", h.Name, v.where(first))
			} else {
				v.hostNames[h.Name] = r
				cz.hosts[h.Name] = true
			}
		}
		v.address(file, p+".address", "container host", h.Name, h.Address, zonePrefix, zoneOK, z)
		if a, err := netip.ParseAddr(h.Address); err == nil && cz.prefixOK && cz.prefix.Contains(a) {
			v.errorf(file, p+".address", "address %q is inside containers.cidr %q, which is for containers", h.Address, c.CIDR)
		}
		v.str(file, p+".interface", h.Interface, ruleInterface)
	}
}

// containers checks every container file.
func (v *validator) containers() {
	seen := make(map[string]*Container, len(v.f.Containers))
	for _, c := range v.f.Containers {
		if first, dup := seen[c.Name]; !dup || (!filePlaced(first.File, first.Name) && filePlaced(c.File, c.Name)) {
			seen[c.Name] = c
		}
	}
	for _, c := range v.f.Containers {
		v.container(c, seen)
	}
}

// container checks one container file.
func (v *validator) container(c *Container, seen map[string]*Container) {
	file := c.File
	v.kind(file, c.Kind, KindContainer)
	if v.str(file, "name", c.Name, ruleName) {
		if first := seen[c.Name]; first != c {
			v.errorf(file, "name", "container %q is already defined in %s", c.Name, v.at(first.File, "name"))
		}
		if n := v.nodes[c.Name]; n != nil {
			v.errorf(file, "name", "container name %q is already the name of node %s (%s): HAProxy server names must not clash", c.Name, n.Name, v.at(n.File, "name"))
		}
		if z := v.vipZone[c.Name]; z != nil {
			v.errorf(file, "name", "container name %q is already the name of a VIP of zone %q (backup servers are named after VIPs)", c.Name, z.Name)
		}
	}
	v.placement(file, "container", c.Name, fileStem(file), ContainersDir+"/<name>.yaml")
	v.str(file, "image", c.Image, ruleImage)
	v.oneOf(file, "pullPolicy", c.PullPolicy, PullNever, PullIfNotPresent)
	v.oneOf(file, "restart", c.Restart, RestartPolicies()...)

	var cz *containerZone
	if v.str(file, "zone", c.Zone, ruleName) {
		if z := v.zoneRef(file, "zone", c.Zone); z != nil {
			if cz = v.containerZones[z.Name]; cz == nil {
				v.errorf(file, "zone", "zone %q declares no containers: add containers: {cidr: ..., hosts: [...]} to %s", z.Name, z.File)
			}
		}
	}
	if v.str(file, "host", c.Host, ruleName) && cz != nil && !cz.hosts[c.Host] {
		v.errorf(file, "host", "%q is not a container host of zone %q (containers.hosts: %s)", c.Host, c.Zone, listNames(keys(cz.hosts), func(s string) string { return s }))
	}
	if v.str(file, "address", c.Address, ruleIP) {
		a := netip.MustParseAddr(c.Address)
		if cz != nil && cz.prefixOK {
			switch {
			case !cz.prefix.Contains(a):
				v.errorf(file, "address", "address %q is outside containers.cidr %q of zone %q", c.Address, cz.prefix, c.Zone)
			case reservedInPrefix(cz.prefix, a) != "":
				v.errorf(file, "address", "address %q is the %s address of %q, not usable by a container", c.Address, reservedInPrefix(cz.prefix, a), cz.prefix)
			}
		}
		if first, dup := v.addrs[a]; dup {
			v.errorf(file, "address", "address %q is already the address of %s %q (%s)", c.Address, first.what, first.name, v.where(first))
		} else {
			v.addrs[a] = ref{what: "container", name: c.Name, zone: c.Zone, file: file, field: "address"}
		}
	}
	for i, s := range c.Command {
		v.str(file, idx("command", i), s, ruleArg)
	}
	for i, s := range c.Args {
		v.str(file, idx("args", i), s, ruleArg)
	}
	env := make(map[string]int, len(c.Env))
	for i, e := range c.Env {
		p := idx("env", i)
		if v.str(file, p+".name", e.Name, ruleEnvName) {
			if first, dup := env[e.Name]; dup {
				v.errorf(file, p+".name", "env %q is already set in env[%d]", e.Name, first)
			} else {
				env[e.Name] = i
			}
		}
		v.optStr(file, p+".value", e.Value, ruleEnvValue)
	}
	v.port(file, "port", c.Port)
	if l := c.Limits; l.MilliCPU != 0 {
		v.intRange(file, "limits.milliCPU", l.MilliCPU, 10, 1024000)
	}
	if l := c.Limits; l.MemoryMiB != 0 {
		v.intRange(file, "limits.memoryMiB", l.MemoryMiB, 6, 1<<24)
	}
	if h := c.Health; h != nil {
		v.str(file, "health.path", h.Path, ruleURLPath)
		if v.f.Source.has(file, "health.port") {
			v.port(file, "health.port", h.Port)
		}
		v.intRange(file, "health.expectStatus", h.ExpectStatus, 100, 599)
		v.positiveDur(file, "health.interval", h.Interval)
		v.positiveDur(file, "health.timeout", h.Timeout)
		v.intRange(file, "health.retries", h.Retries, 1, 100)
	}
	if s := c.Serve; s != nil {
		if v.str(file, "serve.backend", s.Backend, ruleName) {
			if b := v.backendRef(file, "serve.backend", s.Backend); b != nil {
				for i, st := range b.Servers {
					if st.Name == c.Name && (st.Zone == "" || st.Zone == c.Zone) {
						v.errorf(file, "name", "container name %q clashes with server %s of backend %q (%s): server names are unique within a backend", c.Name, idx("servers", i), b.Name, v.at(b.File, idx("servers", i)+".name"))
					}
				}
			}
		}
		if v.f.Source.has(file, "serve.port") {
			v.port(file, "serve.port", s.Port)
		}
		if s.Weight != nil {
			v.intRange(file, "serve.weight", *s.Weight, 0, 256)
		}
	}
}

// positiveDur checks a required duration greater than zero, in whole milliseconds.
func (v *validator) positiveDur(file, field string, d Duration) {
	if d <= 0 {
		v.errorf(file, field, "%s must be a positive duration such as 500ms or 2s", key(field))
		return
	}
	v.dur(file, field, d)
}

// fileStem is a file's base name without .yaml.
func fileStem(file string) string {
	b := file
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '/' {
			b = b[i+1:]
			break
		}
	}
	if len(b) > 5 && b[len(b)-5:] == ".yaml" {
		return b[:len(b)-5]
	}
	return b
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
