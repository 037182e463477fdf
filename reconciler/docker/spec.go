package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// Networking modes of the agent.
const (
	// NetworkMacvlan: containers join the zone network at their address
	// through a macvlan network on the host's interface (production, lab).
	NetworkMacvlan = "macvlan"
	// NetworkNone: containers get no network but loopback (tests of the
	// engine driver without a zone network; health checks still run).
	NetworkNone = "none"
)

// Variables the agent adds to every container's environment (after the
// file's own env).
const (
	EnvContainer = "DDC_GITOPS_CONTAINER" // the container's name
	EnvZone      = "DDC_GITOPS_ZONE"      // its zone
	EnvAddress   = "DDC_GITOPS_ADDRESS"   // its address on the zone network
)

// Spec is a desired container translated into Docker terms.
type Spec struct {
	Name    string
	Image   string
	Pull    bool
	Address string
	// Hash identifies everything that requires a new container when it
	// changes (desired.ContainerRuntime and the network); the health
	// check, port and serve do not.
	Hash             string
	Config           container.Config
	HostConfig       container.HostConfig
	NetworkingConfig network.NetworkingConfig
	Health           *desired.ContainerHealth
	// ProbeAddr is where the health check connects inside the container's
	// network namespace (host:port).
	ProbeAddr string
}

// ZoneNetwork is the Docker network the containers of z join on host h.
func ZoneNetwork(z *desired.Zone, h *desired.ContainerHost) (Network, error) {
	subnet, err := netip.ParsePrefix(z.Network.CIDR)
	if err != nil {
		return Network{}, fmt.Errorf("zone %s network: %w", z.Name, err)
	}
	rng, err := netip.ParsePrefix(z.Containers.CIDR)
	if err != nil {
		return Network{}, fmt.Errorf("zone %s containers.cidr: %w", z.Name, err)
	}
	gw := subnet.Masked().Addr().Next()
	if z.Containers.Gateway != "" {
		if gw, err = netip.ParseAddr(z.Containers.Gateway); err != nil {
			return Network{}, fmt.Errorf("zone %s containers.gateway: %w", z.Name, err)
		}
	}
	return Network{Name: "ddc-" + z.Name, Zone: z.Name, Parent: h.Interface, Subnet: subnet.Masked(), IPRange: rng.Masked(), Gateway: gw}, nil
}

// hashed is what Spec.Hash covers: the container's runtime part (the
// one rule of what needs a new container, shared with plan) and the
// network it joins.
type hashed struct {
	desired.ContainerRuntime
	Network string `json:"network"`
}

// NewSpec translates c for host, revision rev, on net (nil: NetworkNone).
func NewSpec(c *desired.Container, host, rev string, net *Network) *Spec {
	rt := c.Runtime()
	env := rt.Env
	h := hashed{ContainerRuntime: rt, Network: NetworkNone}
	if net != nil {
		h.Network = net.Name + "@" + net.Parent
	}
	b, _ := json.Marshal(h)
	sum := sha256.Sum256(b)
	s := &Spec{
		Name: c.Name, Image: c.Image, Pull: c.PullPolicy == desired.PullIfNotPresent, Address: c.Address,
		Hash:   hex.EncodeToString(sum[:8]),
		Health: c.Health,
	}
	// Every container learns who it is: the variables come from the
	// name, zone and address, so they are covered by the hash already.
	env = append(env[:len(env):len(env)], EnvContainer+"="+c.Name, EnvZone+"="+c.Zone, EnvAddress+"="+c.Address)
	s.Config = container.Config{
		Image: c.Image,
		Env:   env,
		Labels: map[string]string{
			LabelContainer: c.Name,
			LabelRevision:  rev,
			LabelSpec:      s.Hash,
			LabelHost:      host,
		},
	}
	if c.Serve != nil {
		s.Config.Labels[LabelServe] = c.Serve.Backend
	}
	if len(c.Command) > 0 {
		s.Config.Entrypoint = append([]string(nil), c.Command...)
	}
	if len(c.Args) > 0 {
		s.Config.Cmd = append([]string(nil), c.Args...)
	}
	s.HostConfig = container.HostConfig{
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyMode(c.Restart)},
		Resources: container.Resources{
			NanoCPUs: int64(c.Limits.MilliCPU) * 1e6,
			Memory:   int64(c.Limits.MemoryMiB) << 20,
		},
	}
	probeHost := "127.0.0.1"
	if net != nil {
		s.HostConfig.NetworkMode = container.NetworkMode(net.Name)
		s.NetworkingConfig.EndpointsConfig = map[string]*network.EndpointSettings{
			net.Name: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: c.Address}},
		}
		probeHost = c.Address
	} else {
		s.HostConfig.NetworkMode = container.NetworkMode(NetworkNone)
	}
	if c.Health != nil {
		s.ProbeAddr = netip.AddrPortFrom(netip.MustParseAddr(probeHost), uint16(c.Health.Port)).String()
	}
	return s
}
