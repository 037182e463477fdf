package keepalived

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/ddc-gitops/ddc-gitops/internal/netns"
)

// statePoll is the interval of WaitState's checks.
const statePoll = 10 * time.Millisecond

// ParseVIP accepts a VIP as an address ("198.18.0.100") or as keepalived
// writes it with a prefix length ("198.18.0.100/24").
func ParseVIP(vip string) (netip.Addr, error) {
	s := vip
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("parsing VIP %q: %w", vip, err)
	}
	return a.Unmap(), nil
}

// State reports whether this host currently holds vip: whether the address
// is on interface iface in network namespace netnsName (empty: the current
// namespace). keepalived adds a VIP when it becomes MASTER and removes it
// when it leaves that state.
func State(ctx context.Context, netnsName, iface, vip string) (bool, error) {
	want, err := ParseVIP(vip)
	if err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	held := false
	err = netns.Do(netnsName, func() error {
		ifc, err := net.InterfaceByName(iface)
		if err != nil {
			return err
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if got, ok := netip.AddrFromSlice(n.IP); ok && got.Unmap() == want {
					held = true
					return nil
				}
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("reading addresses of %s in namespace %q: %w", iface, netnsName, err)
	}
	return held, nil
}

// WaitState polls State until it equals want or ctx ends.
func WaitState(ctx context.Context, netnsName, iface, vip string, want bool) error {
	tick := time.NewTicker(statePoll)
	defer tick.Stop()
	for {
		got, err := State(ctx, netnsName, iface, vip)
		if err != nil {
			return err
		}
		if got == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for VIP %s held=%v on %s in %q: %w", vip, want, iface, netnsName, ctx.Err())
		case <-tick.C:
		}
	}
}

// Holders returns which of the namespaces hold vip on iface.
func Holders(ctx context.Context, iface, vip string, namespaces ...string) ([]string, error) {
	var out []string
	for _, ns := range namespaces {
		held, err := State(ctx, ns, iface, vip)
		if err != nil {
			return nil, err
		}
		if held {
			out = append(out, ns)
		}
	}
	return out, nil
}
