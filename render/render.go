package render

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// reAbsPath checks the paths that come from Options rather than from the
// validated fleet: they end up in haproxy.cfg too.
var reAbsPath = regexp.MustCompile(desired.PatternAbsPath)

// Render renders the haproxy.cfg and keepalived.conf of the host named host.
// f must come from desired.Load (defaulted and validated).
func Render(f *desired.Fleet, host string, opts Options) (*Host, error) {
	if f == nil {
		return nil, fmt.Errorf("rendering host %s: no fleet", host)
	}
	for _, z := range f.Zones {
		for _, h := range z.Hosts {
			if h.Name == host {
				return renderHost(f, z, h, opts)
			}
		}
	}
	return nil, fmt.Errorf("rendering host %s: no such host in fleet %s", host, f.Name)
}

// RenderAll renders every host of the fleet, sorted by host name.
func RenderAll(f *desired.Fleet, opts Options) ([]*Host, error) {
	if f == nil {
		return nil, fmt.Errorf("rendering fleet: no fleet")
	}
	var out []*Host
	for _, z := range f.Zones {
		// A zone's hosts run the same servers: select them once.
		var backends []Backend
		for i, h := range z.Hosts {
			c, err := newHostCtx(f, z, h, opts)
			if err != nil {
				return nil, fmt.Errorf("rendering host %s: %w", h.Name, err)
			}
			if i == 0 {
				if backends, err = c.backends(); err != nil {
					return nil, fmt.Errorf("rendering host %s: %w", h.Name, err)
				}
			}
			rh, err := c.render(backends)
			if err != nil {
				return nil, err
			}
			out = append(out, rh)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// hostCtx is what rendering one host needs, resolved once.
type hostCtx struct {
	f           *desired.Fleet
	zone        *desired.Zone
	host        *desired.Host
	crtBase     string
	adminSocket string
	// haproxyArgv0 is Options.HAProxyArgv0 (checked by keepalived()).
	haproxyArgv0 string
	// now is Options.Now: the overrides in force then apply.
	now time.Time
	// trusted are the source addresses allowed to send X-DDC-Failover-Hop:
	// the network CIDRs of every zone of the fleet.
	trusted []string
}

func renderHost(f *desired.Fleet, z *desired.Zone, h *desired.Host, opts Options) (*Host, error) {
	c, err := newHostCtx(f, z, h, opts)
	if err != nil {
		return nil, fmt.Errorf("rendering host %s: %w", h.Name, err)
	}
	backends, err := c.backends()
	if err != nil {
		return nil, fmt.Errorf("rendering host %s: %w", h.Name, err)
	}
	return c.render(backends)
}

// render renders the context's host with its zone's backends.
func (c *hostCtx) render(backends []Backend) (*Host, error) {
	z, h := c.zone, c.host
	backends, applied := c.applyOverrides(backends)
	hap := c.haproxy(backends)
	ka, err := c.keepalived()
	if err != nil {
		return nil, fmt.Errorf("rendering host %s: %w", h.Name, err)
	}
	return &Host{Name: h.Name, Zone: z.Name, HAProxy: hap, Keepalived: ka, Backends: backends, Overrides: applied}, nil
}

func newHostCtx(f *desired.Fleet, z *desired.Zone, h *desired.Host, opts Options) (*hostCtx, error) {
	c := &hostCtx{f: f, zone: z, host: h, haproxyArgv0: opts.HAProxyArgv0, now: opts.Now}

	c.crtBase = f.HAProxy.CrtBase
	switch {
	case opts.CrtBase != "":
		if !reAbsPath.MatchString(opts.CrtBase) {
			return nil, fmt.Errorf("crt-base override %q: want an absolute path of letters, digits, '_', '.' and '-'", opts.CrtBase)
		}
		c.crtBase = opts.CrtBase
	case c.crtBase != "" && !path.IsAbs(c.crtBase) && opts.FleetDir != "":
		if !reAbsPath.MatchString(opts.FleetDir) {
			return nil, fmt.Errorf("fleet directory %q: cannot resolve the relative crtBase %q into haproxy.cfg: want an absolute path of letters, digits, '_', '.' and '-' (or pass a crt-base override)", opts.FleetDir, c.crtBase)
		}
		c.crtBase = path.Join(opts.FleetDir, c.crtBase)
	}

	c.adminSocket = f.HAProxy.AdminSocket
	if opts.AdminSocket != "" {
		if !reAbsPath.MatchString(opts.AdminSocket) {
			return nil, fmt.Errorf("admin socket override %q: want an absolute path of letters, digits, '_', '.' and '-'", opts.AdminSocket)
		}
		c.adminSocket = opts.AdminSocket
	}

	seen := map[string]bool{}
	add := func(a string) {
		if a != "" && !seen[a] {
			seen[a] = true
			c.trusted = append(c.trusted, a)
		}
	}
	// Trust the zones' networks rather than each host and VIP address: a
	// VIP or host change inside a network then leaves every other host's
	// frontends (and so its haproxy.cfg skeleton) unchanged, so it needs no
	// reload there.
	for _, oz := range f.Zones {
		add(oz.Network.CIDR)
	}
	return c, nil
}

// zoneByName finds a zone of the fleet.
func (c *hostCtx) zoneByName(name string) *desired.Zone {
	for _, z := range c.f.Zones {
		if z.Name == name {
			return z
		}
	}
	return nil
}
