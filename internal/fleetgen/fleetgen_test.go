package fleetgen

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/render"
)

func TestGenerateLoads(t *testing.T) {
	tests := []struct{ nodes, zones int }{
		{0, 1},
		{1, 1},
		{10, 3},
		{1000, 4},
	}
	for _, tc := range tests {
		fsys, err := Generate(tc.nodes, tc.zones)
		if err != nil {
			t.Fatalf("Generate(%d, %d): %v", tc.nodes, tc.zones, err)
		}
		f, err := desired.Load(fsys)
		if err != nil {
			t.Fatalf("Generate(%d, %d): the fleet does not load:\n%v", tc.nodes, tc.zones, err)
		}
		if len(f.Zones) != tc.zones || len(f.Nodes) != tc.nodes {
			t.Fatalf("Generate(%d, %d): loaded %d zones and %d nodes", tc.nodes, tc.zones, len(f.Zones), len(f.Nodes))
		}
		perZone := map[string]int{}
		keys, addrs := map[string]bool{}, map[string]bool{}
		for _, n := range f.Nodes {
			perZone[n.Zone]++
			if keys[n.PubKey] || addrs[n.Host] {
				t.Errorf("node %s: pubKey or host reused", n.Name)
			}
			keys[n.PubKey], addrs[n.Host] = true, true
			a, err := netip.ParseAddr(n.Host)
			if err != nil || !netip.MustParsePrefix("198.18.0.0/15").Contains(a) {
				t.Errorf("node %s: host %q is not in 198.18.0.0/15", n.Name, n.Host)
			}
		}
		for z := 0; z < tc.zones; z++ {
			want := tc.nodes / tc.zones
			if z < tc.nodes%tc.zones {
				want++
			}
			if got := perZone[ZoneName(z)]; got != want {
				t.Errorf("Generate(%d, %d): zone %s has %d nodes, want %d", tc.nodes, tc.zones, ZoneName(z), got, want)
			}
		}
		for _, z := range f.Zones {
			p := netip.MustParsePrefix(z.Network.CIDR)
			for _, v := range z.VIPs {
				if !p.Contains(netip.MustParseAddr(v.Address)) {
					t.Errorf("zone %s: VIP %s outside %s", z.Name, v.Address, p)
				}
			}
			if tc.zones > 1 && (len(z.Failover) != 1 || z.Failover[0] == z.Name) {
				t.Errorf("zone %s: failover %v", z.Name, z.Failover)
			}
		}
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a, err := Generate(500, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(500, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) || len(a) != 500+3+3 {
		t.Fatalf("got %d and %d files, want %d", len(a), len(b), 506)
	}
	for p, f := range a {
		if g := b[p]; g == nil || !bytes.Equal(f.Data, g.Data) {
			t.Errorf("%s differs between two runs", p)
		}
	}
}

func TestGenerateLimits(t *testing.T) {
	tests := []struct {
		nodes, zones int
		err          string
	}{
		{10, 0, "zones must be 1 to 100"},
		{10, MaxZones + 1, "zones must be 1 to 100"},
		{-1, 2, "nodes must be 0 to"},
		{MaxNodes + 1, 2, "nodes must be 0 to"},
	}
	for _, tc := range tests {
		_, err := Generate(tc.nodes, tc.zones)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Generate(%d, %d) = %v, want an error containing %q", tc.nodes, tc.zones, err, tc.err)
		}
	}
	if a := NodeAddress(MaxNodes - 1); !netip.MustParsePrefix("198.19.0.0/16").Contains(netip.MustParseAddr(a)) {
		t.Errorf("the last node's address %s is outside 198.19.0.0/16", a)
	}
}

func TestGenerateRenders(t *testing.T) {
	fsys, err := Generate(100, 3)
	if err != nil {
		t.Fatal(err)
	}
	f, err := desired.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := render.RenderAll(f, render.Options{})
	if err != nil {
		t.Fatalf("rendering the generated fleet: %v", err)
	}
	if len(hosts) != 6 {
		t.Fatalf("%d hosts, want 6", len(hosts))
	}
	for _, h := range hosts {
		if len(h.Backends) != 2 {
			t.Fatalf("%s: %d backends, want 2", h.Name, len(h.Backends))
		}
		for _, b := range h.Backends {
			nodes, backups := 0, 0
			for _, s := range b.Servers {
				if s.Backup {
					backups++
				} else {
					nodes++
				}
			}
			// 100 nodes over 3 zones: 34, 33, 33; each zone fails over to one zone's 2 VIPs.
			want := 33
			if h.Zone == ZoneName(0) {
				want = 34
			}
			if nodes != want || backups != 2 || !b.Dynamic {
				t.Errorf("%s/%s: %d node servers and %d backups (dynamic %v), want %d and 2", h.Name, b.Name, nodes, backups, b.Dynamic, want)
			}
		}
	}
}
