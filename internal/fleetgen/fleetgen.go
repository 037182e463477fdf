// Package fleetgen generates large, valid fleets shaped like examples/fleet,
// for benchmarks and scale tests. Output is deterministic: the same
// arguments give the same files, byte for byte.
//
// Zones are named z00, z01, ...; zone i lives on 198.18.(i+1).0/24 with two
// HAProxy hosts (.11, .12) and two VIPs (.100, .101) and fails over to zone
// i+1. Nodes are named node-00000, node-00001, ...; node i belongs to zone
// i mod zones and has the address 198.19.(i/254).(i%254+1), so up to
// MaxNodes nodes fit in 198.19.0.0/16.
package fleetgen

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing/fstest"
)

// Limits of Generate.
const (
	MaxNodes = 256 * 254
	MaxZones = 100
)

// Node modes, assigned in turn.
var modes = []string{"full", "storage", "cache"}

// Generate returns a fleet of nodes DDC nodes spread round-robin over zones
// zones, as files in a MapFS ready for desired.Load.
func Generate(nodes, zones int) (fstest.MapFS, error) {
	if zones < 1 || zones > MaxZones {
		return nil, fmt.Errorf("generating fleet: zones must be 1 to %d, got %d", MaxZones, zones)
	}
	if nodes < 0 || nodes > MaxNodes {
		return nil, fmt.Errorf("generating fleet: nodes must be 0 to %d, got %d", MaxNodes, nodes)
	}
	fsys := fstest.MapFS{
		"fleet.yaml":                   file(fleetYAML),
		"backends/ddc_nodes_http.yaml": file(httpBackendYAML),
		"backends/ddc_nodes_grpc.yaml": file(grpcBackendYAML),
	}
	for z := 0; z < zones; z++ {
		fsys["zones/"+ZoneName(z)+"/zone.yaml"] = &fstest.MapFile{Data: ZoneFile(z, zones), Mode: 0o644}
	}
	for i := 0; i < nodes; i++ {
		fsys[NodePath(i)] = &fstest.MapFile{Data: NodeFile(i, zones, 100), Mode: 0o644}
	}
	return fsys, nil
}

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: 0o644} }

// ZoneName is the name of zone z.
func ZoneName(z int) string { return fmt.Sprintf("z%02d", z) }

// NodeName is the name of node i.
func NodeName(i int) string { return fmt.Sprintf("node-%05d", i) }

// NodePath is the path of node i's file in the fleet.
func NodePath(i int) string { return "nodes/" + NodeName(i) + ".yaml" }

// NodeAddress is node i's IP address.
func NodeAddress(i int) string { return fmt.Sprintf("198.19.%d.%d", i/254, i%254+1) }

// NodeZone is the zone of node i in a fleet of zones zones.
func NodeZone(i, zones int) int { return i % zones }

// ZoneFile is zone z's zone.yaml in a fleet of zones zones.
func ZoneFile(z, zones int) []byte {
	name := ZoneName(z)
	net := fmt.Sprintf("198.18.%d", z+1)
	var b strings.Builder
	fmt.Fprintf(&b, "kind: Zone\nname: %s\nnetwork:\n  name: %s-lan\n  cidr: %s.0/24\n", name, name, net)
	if zones > 1 {
		fmt.Fprintf(&b, "failover: [%s]\n", ZoneName((z+1)%zones))
	}
	fmt.Fprintf(&b, `vips:
  - name: %[1]s-vip-1
    address: %[2]s.100
    routerId: 51
  - name: %[1]s-vip-2
    address: %[2]s.101
    routerId: 61
hosts:
  - name: %[1]s-haproxy-1
    address: %[2]s.11
    interface: eth0
    priority: 100
    owns: [%[1]s-vip-1]
  - name: %[1]s-haproxy-2
    address: %[2]s.12
    interface: eth0
    priority: 100
    owns: [%[1]s-vip-2]
frontends:
  - name: http_in
    mode: http
    binds:
      - port: 80
    routes:
      - pathPrefix: /grpc.health.v1.Health/
        backend: ddc_nodes_grpc
    defaultBackend: ddc_nodes_http
    setHeaders:
      - name: X-DDC-Zone
        value: %[1]s
  - name: grpc_in
    mode: grpc
    binds:
      - port: 9090
    defaultBackend: ddc_nodes_grpc
stats:
  bind:
    port: 8404
  uri: /stats
  refresh: 5s
  prometheus: true
`, name, net)
	return []byte(b.String())
}

// NodeFile is node i's file in a fleet of zones zones, with the given weight.
func NodeFile(i, zones, weight int) []byte {
	return nodeFile(i, zones, weight, NodeAddress(i), 8080)
}

// LocalNodeAddress is node i's address on loopback (127.19.0.0/16 instead
// of 198.19.0.0/16): a haproxy on this machine checks it without a packet
// leaving the host.
func LocalNodeAddress(i int) string { return fmt.Sprintf("127.19.%d.%d", i/254, i%254+1) }

// LocalNodeFile is NodeFile with the node on loopback at
// LocalNodeAddress(i):httpPort, for benchmarks that run a real haproxy on
// this machine (httpPort of a listener makes the node's checks pass;
// nothing listening makes them fail at once).
func LocalNodeFile(i, zones, weight, httpPort int) []byte {
	return nodeFile(i, zones, weight, LocalNodeAddress(i), httpPort)
}

func nodeFile(i, zones, weight int, address string, httpPort int) []byte {
	z := ZoneName(NodeZone(i, zones))
	return []byte(fmt.Sprintf(`kind: Node
name: %s
pubKey: 0x%s
providerId: 0x%s
clusterId: 0x%s
host: %s
domain: %s.ddc.example
ssl: false
httpPort: %d
grpcPort: 9091
p2pPort: 9070
mode: %s
zone: %s
weight: %d
admitted: true
`, NodeName(i), hash("node", NodeName(i), 32), hash("provider", z, 32), hash("cluster", z, 20),
		address, NodeName(i), httpPort, modes[i%len(modes)], z, weight))
}

// hash derives n bytes of lowercase hex from a kind and a name.
func hash(kind, name string, n int) string {
	sum := sha256.Sum256([]byte("fleetgen/" + kind + "/" + name))
	return hex.EncodeToString(sum[:n])
}

const fleetYAML = `kind: Fleet
name: generated
haproxy:
  maxconn: 200000
  hardStopAfter: 30s
  crtBase: /etc/haproxy/certs
  adminSocket: /run/haproxy/admin.sock
  timeouts:
    connect: 5s
    client: 30s
    server: 30s
    httpRequest: 10s
    httpKeepAlive: 10s
    queue: 30s
    tunnel: 1h
  serverDefaults:
    weight: 100
    maxconn: 1000
    slowstart: 10s
keepalived:
  advertInt: 1s
  ownerPriority: 150
  preempt: true
  preemptDelay: 5s
  trackProcess: haproxy
`

const httpBackendYAML = `kind: Backend
name: ddc_nodes_http
mode: http
balance: roundrobin
check:
  type: http
  method: GET
  path: /health
  expectStatus: 200
  interval: 2s
  rise: 2
  fall: 3
timeouts:
  connect: 3s
  server: 30s
serverDefaults:
  weight: 100
  maxconn: 500
  slowstart: 10s
retries: 3
redispatch: true
nodes:
  port: http
  modes: [full, storage, cache]
failover:
  enabled: true
  port: 80
`

const grpcBackendYAML = `kind: Backend
name: ddc_nodes_grpc
mode: grpc
balance: leastconn
check:
  type: http
  path: /health
  expectStatus: 200
  port: http
  interval: 2s
  rise: 2
  fall: 3
timeouts:
  server: 1h
nodes:
  port: grpc
  modes: [full, storage, cache]
failover:
  enabled: true
  port: 9090
`
