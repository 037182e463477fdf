package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/internal/netns"
)

// waitVIPs waits until every zone's VRRP has settled: each VIP on exactly
// one host, its owner's when the fleet preempts. keepalived starts every
// instance in BACKUP; the first host whose advertisement timer runs out
// takes every VIP, and an owner that started a moment later takes its own
// back only after its preempt delay (5s in the example fleet). Traffic
// started before that sees the VIP move under it (reset connections, or
// "no route to host" while the router's neighbour entry follows), so the
// lab is ready only once it has moved.
func (l *lab) waitVIPs(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.o.StartTimeout)
	defer cancel()
	start := time.Now()
	for _, zn := range l.plan.zones {
		z := zn.zone
		if len(z.VIPs) == 0 {
			continue
		}
		err := l.pollStart(ctx, 100*time.Millisecond, func() error {
			holders, err := l.vipHolders(ctx, z)
			if err != nil {
				return err
			}
			if err := vipsSettled(z, holders, l.plan.preempt); err != nil {
				return err
			}
			l.progress("zone %s: every VIP on its host after %.1fs", z.Name, time.Since(start).Seconds())
			return nil
		}, func(last error) error {
			return fmt.Errorf("lab: zone %s's VIPs did not settle within %v (last: %v)", z.Name, l.o.StartTimeout, last)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// vipHolders returns, for each VIP name of zone z, the hosts whose
// interface holds its address now.
func (l *lab) vipHolders(ctx context.Context, z *desired.Zone) (map[string][]string, error) {
	out := map[string][]string{}
	for _, h := range z.Hosts {
		nh := l.net.Host(h.Name)
		if nh == nil {
			return nil, fmt.Errorf("host %s has no namespace in the lab", h.Name)
		}
		ns := nh.Netns
		addrs := map[string][]netip.Prefix{}
		for _, v := range z.VIPs {
			iface := v.Interface
			if iface == "" {
				iface = h.Interface
			}
			if _, ok := addrs[iface]; !ok {
				ps, err := netns.Addrs(ctx, ns, iface)
				if err != nil {
					return nil, err
				}
				addrs[iface] = ps
			}
			vip, err := netip.ParseAddr(v.Address)
			if err != nil {
				return nil, fmt.Errorf("VIP %s: %w", v.Name, err)
			}
			if slices.ContainsFunc(addrs[iface], func(p netip.Prefix) bool { return p.Addr() == vip }) {
				out[v.Name] = append(out[v.Name], h.Name)
			}
		}
	}
	return out, nil
}

// vipsSettled reports why zone z's VIPs, held by holders (VIP name ->
// hosts), are not where they stay: every VIP on exactly one host, and with
// preempt on the host that owns it (if one does).
func vipsSettled(z *desired.Zone, holders map[string][]string, preempt bool) error {
	var problems []string
	for _, v := range z.VIPs {
		hs := holders[v.Name]
		owner := ""
		for _, h := range z.Hosts {
			if slices.Contains(h.Owns, v.Name) {
				owner = h.Name
			}
		}
		switch {
		case len(hs) == 0:
			problems = append(problems, v.Name+" is on no host")
		case len(hs) > 1:
			sort.Strings(hs)
			problems = append(problems, fmt.Sprintf("%s is on %s", v.Name, strings.Join(hs, " and ")))
		case preempt && owner != "" && hs[0] != owner:
			problems = append(problems, fmt.Sprintf("%s is on %s, not yet on its owner %s", v.Name, hs[0], owner))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
