package netns

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"time"
)

// Range is the only address range this package assigns or routes:
// 198.18.0.0/15, reserved for network benchmarks (RFC 2544).
const Range = "198.18.0.0/15"

var allowedRange = netip.MustParsePrefix(Range)

// CheckPrefix returns an error unless p is an IPv4 prefix inside Range.
func CheckPrefix(p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("invalid address prefix %v", p)
	}
	if !p.Addr().Is4() || p.Bits() < allowedRange.Bits() || !allowedRange.Contains(p.Addr()) {
		return fmt.Errorf("address %v is outside %v: test networks use only that range", p, Range)
	}
	return nil
}

// CheckAddr returns an error unless a is an IPv4 address inside Range.
func CheckAddr(a netip.Addr) error {
	if !a.IsValid() || !a.Is4() || !allowedRange.Contains(a) {
		return fmt.Errorf("address %v is outside %v: test networks use only that range", a, Range)
	}
	return nil
}

// AddBridge creates bridge name in namespace ns (empty: the current one)
// and brings it up. STP stays off, so ports forward at once.
func AddBridge(ctx context.Context, ns, name string) error {
	if err := checkIfName(name); err != nil {
		return err
	}
	if _, err := ipIn(ctx, ns, "link", "add", "name", name, "type", "bridge"); err != nil {
		return fmt.Errorf("creating bridge %s in %q: %w", name, ns, err)
	}
	return SetLink(ctx, ns, name, true)
}

// AddVeth creates a veth pair whose ends are created directly in their
// namespaces (nameA in nsA, nameB in nsB), so neither end ever appears in
// the current namespace. Both ends stay down.
func AddVeth(ctx context.Context, nsA, nameA, nsB, nameB string) error {
	for _, n := range []string{nameA, nameB} {
		if err := checkIfName(n); err != nil {
			return err
		}
	}
	args := []string{"link", "add", "name", nameA}
	if nsA != "" {
		args = append(args, "netns", nsA)
	}
	args = append(args, "type", "veth", "peer", "name", nameB)
	if nsB != "" {
		args = append(args, "netns", nsB)
	}
	if _, err := IP(ctx, args...); err != nil {
		return fmt.Errorf("creating veth %s(%q)<->%s(%q): %w", nameA, nsA, nameB, nsB, err)
	}
	return nil
}

// SetMaster enslaves link dev to bridge br, both in namespace ns.
func SetMaster(ctx context.Context, ns, dev, br string) error {
	if _, err := ipIn(ctx, ns, "link", "set", "dev", dev, "master", br); err != nil {
		return fmt.Errorf("adding %s to bridge %s in %q: %w", dev, br, ns, err)
	}
	return nil
}

// SetLink brings link dev in namespace ns up or down.
func SetLink(ctx context.Context, ns, dev string, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	if _, err := ipIn(ctx, ns, "link", "set", "dev", dev, state); err != nil {
		return fmt.Errorf("setting %s %s in %q: %w", dev, state, ns, err)
	}
	return nil
}

// DeleteLink removes link dev from namespace ns (a veth takes its peer along).
func DeleteLink(ctx context.Context, ns, dev string) error {
	if _, err := ipIn(ctx, ns, "link", "delete", "dev", dev); err != nil {
		return fmt.Errorf("deleting %s in %q: %w", dev, ns, err)
	}
	return nil
}

// AddAddr assigns p (inside Range) to dev in namespace ns.
func AddAddr(ctx context.Context, ns, dev string, p netip.Prefix) error {
	if err := CheckPrefix(p); err != nil {
		return err
	}
	if _, err := ipIn(ctx, ns, "addr", "add", p.String(), "dev", dev); err != nil {
		return fmt.Errorf("adding %v to %s in %q: %w", p, dev, ns, err)
	}
	return nil
}

// DelAddr removes p from dev in namespace ns.
func DelAddr(ctx context.Context, ns, dev string, p netip.Prefix) error {
	if err := CheckPrefix(p); err != nil {
		return err
	}
	if _, err := ipIn(ctx, ns, "addr", "del", p.String(), "dev", dev); err != nil {
		return fmt.Errorf("removing %v from %s in %q: %w", p, dev, ns, err)
	}
	return nil
}

// AddRoute routes dst via gateway in namespace ns; both inside Range.
func AddRoute(ctx context.Context, ns string, dst netip.Prefix, via netip.Addr) error {
	if err := CheckPrefix(dst); err != nil {
		return err
	}
	if err := CheckAddr(via); err != nil {
		return err
	}
	if _, err := ipIn(ctx, ns, "route", "add", dst.Masked().String(), "via", via.String()); err != nil {
		return fmt.Errorf("adding route %v via %v in %q: %w", dst, via, ns, err)
	}
	return nil
}

// SetForwarding turns IPv4 forwarding on or off in namespace ns, making a
// host with links in several zones a router.
func SetForwarding(ns string, on bool) error {
	v := []byte("0\n")
	if on {
		v = []byte("1\n")
	}
	// /proc/sys/net follows the network namespace of the opening thread.
	return Do(ns, func() error {
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", v, 0o644); err != nil {
			return fmt.Errorf("setting ip_forward in %q: %w", ns, err)
		}
		return nil
	})
}

// Addrs returns the addresses on dev in namespace ns, as `ip -j addr show`
// reports them.
func Addrs(ctx context.Context, ns, dev string) ([]netip.Prefix, error) {
	out, err := ipIn(ctx, ns, "-j", "addr", "show", "dev", dev)
	if err != nil {
		return nil, fmt.Errorf("listing addresses of %s in %q: %w", dev, ns, err)
	}
	var links []struct {
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("parsing addresses of %s in %q: %w", dev, ns, err)
	}
	var ps []netip.Prefix
	for _, l := range links {
		for _, a := range l.AddrInfo {
			addr, err := netip.ParseAddr(a.Local)
			if err != nil {
				return nil, fmt.Errorf("parsing address %q of %s in %q: %w", a.Local, dev, ns, err)
			}
			ps = append(ps, netip.PrefixFrom(addr, a.PrefixLen))
		}
	}
	return ps, nil
}

// LinkNames returns the names of all links in namespace ns.
func LinkNames(ctx context.Context, ns string) ([]string, error) {
	out, err := ipIn(ctx, ns, "-j", "link", "show")
	if err != nil {
		return nil, fmt.Errorf("listing links in %q: %w", ns, err)
	}
	var links []struct {
		IfName string `json:"ifname"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("parsing links in %q: %w", ns, err)
	}
	names := make([]string, 0, len(links))
	for _, l := range links {
		names = append(names, l.IfName)
	}
	return names, nil
}

// WaitOperUp polls until link dev in namespace ns is operationally up
// (carrier on), for at most timeout.
func WaitOperUp(ctx context.Context, ns, dev string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		out, err := ipIn(ctx, ns, "-j", "link", "show", "dev", dev)
		if err != nil {
			return fmt.Errorf("waiting for %s in %q to come up: %w", dev, ns, err)
		}
		var links []struct {
			OperState string `json:"operstate"`
		}
		if err := json.Unmarshal(out, &links); err != nil {
			return fmt.Errorf("parsing state of %s in %q: %w", dev, ns, err)
		}
		if len(links) == 1 && links[0].OperState == "UP" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s in %q not up after %v: %w", dev, ns, timeout, ctx.Err())
		case <-tick.C:
		}
	}
}
