package desired

import (
	"path"
	"strings"
)

// node checks one node file. Every check is a map lookup or a scan of the
// node's own fields, so validating n nodes takes O(n).
func (v *validator) node(n *Node) {
	file := n.File
	v.kind(file, n.Kind, KindNode)
	if v.str(file, "name", n.Name, ruleName) {
		if first := v.nodes[n.Name]; first != n {
			v.errorf(file, "name", "node %q is already defined in %s", n.Name, v.at(first.File, "name"))
		}
	}
	if IsNodeFilePath(file) {
		base := strings.TrimSuffix(path.Base(file), ".yaml")
		v.placement(file, "node", n.Name, base, path.Dir(file)+"/<name>.yaml")
		if l := v.f.NodeLayout; n.Name == base && !v.broken.fleet && (l == NodeLayoutFlat || l == NodeLayoutSharded) {
			if want := NodeFile(l, base); file != want {
				set := "the default"
				if v.f.Source.has(FleetFile, "nodeLayout") {
					set = "set at " + v.at(FleetFile, "nodeLayout")
				}
				v.errorf(file, "name", "node %q is in the wrong place: with nodeLayout %s (%s) its file is %s", base, l, set, want)
			}
		}
	}
	if v.str(file, "pubKey", n.PubKey, rulePubKey) {
		if first, dup := v.pubKeys[n.PubKey]; dup {
			v.errorf(file, "pubKey", "pubKey %q is already the key of node %q (%s)", n.PubKey, first.Name, v.at(first.File, "pubKey"))
		} else {
			v.pubKeys[n.PubKey] = n
		}
	}
	v.str(file, "providerId", n.ProviderID, ruleProviderID)
	v.str(file, "clusterId", n.ClusterID, ruleClusterID)
	hostOK := v.str(file, "host", n.Host, ruleHost)
	if hostOK && v.addressAllowed(file, "host", n.Host) {
		v.notLoadBalancer(file, "host", n.Host, "")
	}
	v.str(file, "domain", n.Domain, ruleHostname)
	httpOK := v.port(file, "httpPort", n.HTTPPort)
	v.port(file, "grpcPort", n.GRPCPort)
	v.port(file, "p2pPort", n.P2PPort)
	v.oneOf(file, "mode", n.Mode, "full", "storage", "cache", "dac")
	var zoneOK bool
	if n.Zone == "" {
		v.errorf(file, "zone", "zone is required: the zone whose HAProxy hosts send traffic to this node")
	} else {
		zoneOK = v.zoneRef(file, "zone", n.Zone) != nil
	}
	if n.Weight != nil {
		v.intRange(file, "weight", *n.Weight, 0, 256)
	}
	v.oneOf(file, "state", n.State, "ready", "drain", "maint")

	if hostOK && httpOK && zoneOK {
		k := endpoint{n.Zone, n.Host, n.HTTPPort}
		if first, dup := v.endpoints[k]; dup {
			v.errorf(file, "host", "node %q has the same host and httpPort (%s:%d) as node %q (%s) in zone %q", n.Name, n.Host, n.HTTPPort, first.Name, v.at(first.File, "host"), n.Zone)
		} else {
			v.endpoints[k] = n
		}
	}
}
