package desired

import "sort"

// Zone returns the zone named name, or nil.
func (f *Fleet) Zone(name string) *Zone {
	for _, z := range f.Zones {
		if z.Name == name {
			return z
		}
	}
	return nil
}

// Backend returns the backend named name, or nil.
func (f *Fleet) Backend(name string) *Backend {
	for _, b := range f.Backends {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// Host returns the HAProxy host named name and its zone, or nils.
func (f *Fleet) Host(name string) (*Zone, *Host) {
	for _, z := range f.Zones {
		for _, h := range z.Hosts {
			if h.Name == name {
				return z, h
			}
		}
	}
	return nil, nil
}

// Node returns the node named name, or nil. It expects f.Nodes sorted by
// name, as Decode leaves them, and takes O(log n).
func (f *Fleet) Node(name string) *Node {
	i := sort.Search(len(f.Nodes), func(i int) bool { return f.Nodes[i].Name >= name })
	if i < len(f.Nodes) && f.Nodes[i].Name == name {
		return f.Nodes[i]
	}
	return nil
}

// VIP returns the zone's VIP named name, or nil.
func (z *Zone) VIP(name string) *VIP {
	for _, v := range z.VIPs {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Frontend returns the zone's frontend named name, or nil.
func (z *Zone) Frontend(name string) *Frontend {
	for _, fe := range z.Frontends {
		if fe.Name == name {
			return fe
		}
	}
	return nil
}

// Owner returns the host of the zone that owns the VIP named vip, or nil.
func (z *Zone) Owner(vip string) *Host {
	for _, h := range z.Hosts {
		for _, o := range h.Owns {
			if o == vip {
				return h
			}
		}
	}
	return nil
}

// NodesIn returns the nodes of zone zone, in name order.
func (f *Fleet) NodesIn(zone string) []*Node {
	var out []*Node
	for _, n := range f.Nodes {
		if n.Zone == zone {
			out = append(out, n)
		}
	}
	return out
}
