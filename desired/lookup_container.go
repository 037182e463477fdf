package desired

// Container returns the container named name, or nil.
func (f *Fleet) Container(name string) *Container {
	for _, c := range f.Containers {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// ContainerHost returns the container host named name and its zone, or nils.
func (f *Fleet) ContainerHost(name string) (*Zone, *ContainerHost) {
	for _, z := range f.Zones {
		if z.Containers == nil {
			continue
		}
		for _, h := range z.Containers.Hosts {
			if h.Name == name {
				return z, h
			}
		}
	}
	return nil, nil
}

// ContainersOn returns the containers that host runs, in name order.
func (f *Fleet) ContainersOn(host string) []*Container {
	var out []*Container
	for _, c := range f.Containers {
		if c.Host == host {
			out = append(out, c)
		}
	}
	return out
}

// ContainersIn returns the containers of zone, in name order.
func (f *Fleet) ContainersIn(zone string) []*Container {
	var out []*Container
	for _, c := range f.Containers {
		if c.Zone == zone {
			out = append(out, c)
		}
	}
	return out
}
