package netns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"sync"
	"time"
)

// switchSuffix names the namespace that holds a lab's bridges.
const switchSuffix = "sw"

// Lab is a topology of hosts, each in its own namespace "<prefix>-<host>",
// joined per zone by a bridge "br-<zone>". All bridges live in a dedicated
// switch namespace "<prefix>-sw", so the current namespace is never touched:
// every host link is a veth whose host end sits in the host's namespace and
// whose other end is a port of its zone's bridge.
//
// Close removes everything; Cleanup(prefix) does the same after a crash.
// A Lab is safe for concurrent use.
type Lab struct {
	prefix string
	log    *slog.Logger

	mu     sync.Mutex
	hosts  map[string]*Host
	order  []string
	zones  map[string]string // zone -> bridge name
	ports  int
	closed bool
}

// Host is one machine of a Lab.
type Host struct {
	// Name is the host's name in the lab; Netns its namespace.
	Name  string
	Netns string
	// Links are the host's interfaces, as requested and completed
	// (Iface filled in).
	Links []Link
}

// Link is one interface of a host, attached to a zone's bridge.
type Link struct {
	// Zone names the L2 segment (bridge) the link joins.
	Zone string
	// Iface is the interface name inside the host; default eth0, eth1, ...
	Iface string
	// Addr is the interface address (inside Range); zero for none.
	Addr netip.Prefix

	port string // the bridge-side end, in the switch namespace
}

// NewLab creates the switch namespace of a new lab. Names of the lab's
// namespaces start with prefix + "-". log may be nil.
func NewLab(ctx context.Context, prefix string, log *slog.Logger) (*Lab, error) {
	if !validName(prefix) || len(prefix) < minCleanupPrefix || len(prefix) > 32 {
		return nil, fmt.Errorf("invalid lab prefix %q: 3 to 32 letters, digits, '-', '_' or '.'", prefix)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Lab{prefix: prefix, log: log, hosts: map[string]*Host{}, zones: map[string]string{}}
	if Exists(l.SwitchNetns()) {
		return nil, fmt.Errorf("creating lab %s: namespace %s already exists (leftover? see Cleanup)", prefix, l.SwitchNetns())
	}
	if err := Add(ctx, l.SwitchNetns()); err != nil {
		return nil, fmt.Errorf("creating lab %s: %w", prefix, err)
	}
	log.Debug("lab created", "prefix", prefix, "switch", l.SwitchNetns())
	return l, nil
}

// Prefix is the lab's name prefix.
func (l *Lab) Prefix() string { return l.prefix }

// SwitchNetns is the namespace holding the lab's bridges.
func (l *Lab) SwitchNetns() string { return l.prefix + "-" + switchSuffix }

// BridgeName is the bridge (in SwitchNetns) of zone.
func BridgeName(zone string) string { return "br-" + zone }

// AddHost creates host name in its own namespace with the given links, each
// up, addressed and attached to its zone's bridge (created on first use).
// On error nothing of the host remains.
func (l *Lab) AddHost(ctx context.Context, name string, links ...Link) (*Host, error) {
	if !validName(name) || name == switchSuffix {
		return nil, fmt.Errorf("invalid lab host name %q", name)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, fmt.Errorf("adding host %s: lab %s is closed", name, l.prefix)
	}
	if _, dup := l.hosts[name]; dup {
		return nil, fmt.Errorf("adding host %s: already in lab %s", name, l.prefix)
	}
	h := &Host{Name: name, Netns: l.prefix + "-" + name}
	for i, lk := range links {
		if lk.Iface == "" {
			lk.Iface = fmt.Sprintf("eth%d", i)
		}
		if err := checkIfName(lk.Iface); err != nil {
			return nil, fmt.Errorf("adding host %s: %w", name, err)
		}
		if err := checkIfName(BridgeName(lk.Zone)); err != nil || !validName(lk.Zone) {
			return nil, fmt.Errorf("adding host %s: invalid zone %q (at most %d characters)", name, lk.Zone, maxIfName-len(BridgeName("")))
		}
		if lk.Addr.IsValid() {
			if err := CheckPrefix(lk.Addr); err != nil {
				return nil, fmt.Errorf("adding host %s: %w", name, err)
			}
		}
		h.Links = append(h.Links, lk)
	}
	if err := Add(ctx, h.Netns); err != nil {
		return nil, fmt.Errorf("adding host %s: %w", name, err)
	}
	for i := range h.Links {
		if err := l.attach(ctx, h, &h.Links[i]); err != nil {
			// Deleting the namespace takes the host's veths, and so their
			// bridge ports, along.
			return nil, errors.Join(fmt.Errorf("adding host %s: %w", name, err), Delete(ctx, h.Netns))
		}
	}
	l.hosts[name] = h
	l.order = append(l.order, name)
	l.log.Debug("lab host added", "host", name, "netns", h.Netns, "links", len(h.Links))
	return h, nil
}

// attach wires lk of host h to its zone's bridge. Callers hold l.mu.
func (l *Lab) attach(ctx context.Context, h *Host, lk *Link) error {
	sw := l.SwitchNetns()
	br, ok := l.zones[lk.Zone]
	if !ok {
		br = BridgeName(lk.Zone)
		if err := AddBridge(ctx, sw, br); err != nil {
			return err
		}
		l.zones[lk.Zone] = br
	}
	l.ports++
	lk.port = fmt.Sprintf("p%d-%s", l.ports, h.Name)
	if len(lk.port) > maxIfName {
		lk.port = lk.port[:maxIfName]
	}
	if err := AddVeth(ctx, h.Netns, lk.Iface, sw, lk.port); err != nil {
		return err
	}
	if err := SetMaster(ctx, sw, lk.port, br); err != nil {
		return err
	}
	if err := SetLink(ctx, sw, lk.port, true); err != nil {
		return err
	}
	if lk.Addr.IsValid() {
		if err := AddAddr(ctx, h.Netns, lk.Iface, lk.Addr); err != nil {
			return err
		}
	}
	if err := SetLink(ctx, h.Netns, lk.Iface, true); err != nil {
		return err
	}
	// Packets sent before the veth has carrier are dropped (a lost first
	// ARP request costs a one-second retransmit): return once it has.
	return WaitOperUp(ctx, h.Netns, lk.Iface, 5*time.Second)
}

// Host returns the named host, or nil.
func (l *Lab) Host(name string) *Host {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hosts[name]
}

// Hosts returns the hosts in the order they were added.
func (l *Lab) Hosts() []*Host {
	l.mu.Lock()
	defer l.mu.Unlock()
	hs := make([]*Host, 0, len(l.order))
	for _, n := range l.order {
		hs = append(hs, l.hosts[n])
	}
	return hs
}

// SetConnected plugs (true) or pulls (false) the cable of host's interface
// iface: the bridge-side end goes up or down, so the host sees its link
// lose carrier, as with a switch-port failure. Plugging returns once the
// host's interface has carrier again.
func (l *Lab) SetConnected(ctx context.Context, host, iface string, connected bool) error {
	l.mu.Lock()
	h := l.hosts[host]
	l.mu.Unlock()
	if h == nil {
		return fmt.Errorf("lab %s has no host %s", l.prefix, host)
	}
	for _, lk := range h.Links {
		if lk.Iface != iface {
			continue
		}
		if err := SetLink(ctx, l.SwitchNetns(), lk.port, connected); err != nil || !connected {
			return err
		}
		return WaitOperUp(ctx, h.Netns, iface, 5*time.Second)
	}
	return fmt.Errorf("host %s has no interface %s", host, iface)
}

// Close kills every process left inside the lab's namespaces and deletes
// them, the switch last. It is idempotent.
func (l *Lab) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for _, n := range l.order {
		h := l.hosts[n]
		if pids, err := Pids(ctx, h.Netns); err == nil && len(pids) > 0 {
			l.log.Warn("killing processes left in lab namespace", "netns", h.Netns, "pids", pids)
		}
		errs = append(errs, destroy(ctx, h.Netns))
	}
	errs = append(errs, destroy(ctx, l.SwitchNetns()))
	l.log.Debug("lab closed", "prefix", l.prefix)
	return errors.Join(errs...)
}

// Addr is the address of the host's first addressed link (zero if none).
func (h *Host) Addr() netip.Addr {
	for _, lk := range h.Links {
		if lk.Addr.IsValid() {
			return lk.Addr.Addr()
		}
	}
	return netip.Addr{}
}

// Command returns a command running name with args in the host's namespace.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return Command(ctx, h.Netns, name, args...)
}

// Do runs fn inside the host's namespace (see the package function Do).
func (h *Host) Do(fn func() error) error { return Do(h.Netns, fn) }

// Dial connects from the host to address (an IP literal with port).
func (h *Host) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	return Dial(ctx, h.Netns, network, address)
}

// Listen opens a listener in the host's namespace.
func (h *Host) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	return Listen(ctx, h.Netns, network, address)
}
