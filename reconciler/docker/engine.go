// Package docker is the container role of the agent: it makes the Docker
// engine of one container host run exactly the containers git declares for
// it (containers/<name>.yaml with host: <this host>), through the Docker
// Engine API with version negotiation (Debian 12's engine 20.10 speaks API
// 1.41).
//
// It only ever touches containers that carry its label
// ddc-gitops.container=<name>; the other containers of the engine are
// invisible to it.
package docker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
)

// Labels the agent puts on (and selects) its containers and networks.
const (
	LabelContainer = "ddc-gitops.container" // the desired container's name
	LabelRevision  = "ddc-gitops.revision"  // the revision that created it
	LabelSpec      = "ddc-gitops.spec"      // hash of the spec it was created from
	LabelImageID   = "ddc-gitops.image-id"  // the image ID it was created from
	LabelHost      = "ddc-gitops.host"      // the container host
	LabelNetwork   = "ddc-gitops.network"   // on networks the agent created: the zone
	LabelServe     = "ddc-gitops.serve"     // the backend it serves, if any
)

// Engine is one Docker engine, reached through the Engine API.
type Engine struct {
	c *client.Client
}

// Dial returns an Engine for host (unix:///run/docker.sock,
// tcp://...). It does not connect yet; the API version is negotiated at
// the first request.
func Dial(host string) (*Engine, error) {
	c, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", host, err)
	}
	return &Engine{c: c}, nil
}

// Close releases the client's connections.
func (e *Engine) Close() error { return e.c.Close() }

// Ping checks that the engine answers and returns its API version.
func (e *Engine) Ping(ctx context.Context) (string, error) {
	p, err := e.c.Ping(ctx)
	if err != nil {
		return "", fmt.Errorf("docker engine unreachable: %w", err)
	}
	return p.APIVersion, nil
}

// Managed lists every container (running or not) that carries LabelContainer.
func (e *Engine) Managed(ctx context.Context) ([]container.Summary, error) {
	cs, err := e.c.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", LabelContainer))})
	if err != nil {
		return nil, fmt.Errorf("listing managed containers: %w", err)
	}
	return cs, nil
}

// errImageMissing is an image that is not on the host (and was not pulled).
var errImageMissing = errors.New("not present")

// EnsureImage returns the ID of ref on the host. A missing image is pulled
// when pull is set; otherwise, or when the pull fails, the error wraps
// errImageMissing.
func (e *Engine) EnsureImage(ctx context.Context, ref string, pull bool, pullTimeout time.Duration) (string, error) {
	img, err := e.c.ImageInspect(ctx, ref)
	if err == nil {
		return img.ID, nil
	}
	if !cerrdefs.IsNotFound(err) {
		return "", fmt.Errorf("inspecting image %q: %w", ref, err)
	}
	if !pull {
		return "", fmt.Errorf("%w (pullPolicy Never: build or load it on the host, or set pullPolicy IfNotPresent)", errImageMissing)
	}
	pctx, cancel := context.WithTimeout(ctx, pullTimeout)
	defer cancel()
	if err := e.pull(pctx, ref); err != nil {
		return "", fmt.Errorf("%w and could not be pulled: %w", errImageMissing, err)
	}
	img, err = e.c.ImageInspect(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("%w after a pull: %w", errImageMissing, err)
	}
	return img.ID, nil
}

// pull pulls ref and reads the progress stream to its end: the engine
// reports a failed pull inside the stream, not in the HTTP status.
func (e *Engine) pull(ctx context.Context, ref string) error {
	rc, err := e.c.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	dec := json.NewDecoder(bufio.NewReader(rc))
	for {
		var m struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading pull progress: %w", err)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
	}
}

// Network is the Docker network the containers of one zone join on a host:
// a macvlan network on the host's interface to the zone network.
type Network struct {
	Name    string
	Zone    string
	Parent  string       // the host's interface
	Subnet  netip.Prefix // the zone's network
	IPRange netip.Prefix // the zone's containers.cidr
	Gateway netip.Addr
}

// EnsureNetwork creates n unless a network of that name exists; an existing
// one must have n's driver, parent and addressing.
func (e *Engine) EnsureNetwork(ctx context.Context, n Network) error {
	have, err := e.c.NetworkInspect(ctx, n.Name, network.InspectOptions{})
	if err == nil {
		return n.matches(have)
	}
	if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspecting network %s: %w", n.Name, err)
	}
	_, err = e.c.NetworkCreate(ctx, n.Name, network.CreateOptions{
		Driver:  "macvlan",
		Options: map[string]string{"parent": n.Parent, "macvlan_mode": "bridge"},
		IPAM: &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{
			Subnet: n.Subnet.String(), IPRange: n.IPRange.String(), Gateway: n.Gateway.String(),
		}}},
		Labels: map[string]string{LabelNetwork: n.Zone},
	})
	if err != nil && !cerrdefs.IsConflict(err) {
		return fmt.Errorf("creating macvlan network %s on %s: %w", n.Name, n.Parent, err)
	}
	return nil
}

func (n Network) matches(have network.Inspect) error {
	var cfg network.IPAMConfig
	if len(have.IPAM.Config) > 0 {
		cfg = have.IPAM.Config[0]
	}
	if have.Driver != "macvlan" || have.Options["parent"] != n.Parent || cfg.Subnet != n.Subnet.String() || cfg.IPRange != n.IPRange.String() {
		return fmt.Errorf("network %s exists with driver %s, parent %q, subnet %s, range %s; want macvlan on %q, %s, %s (remove it or fix the zone file)",
			n.Name, have.Driver, have.Options["parent"], cfg.Subnet, cfg.IPRange, n.Parent, n.Subnet, n.IPRange)
	}
	return nil
}

// Create creates a container from s (not started) and returns its ID.
func (e *Engine) Create(ctx context.Context, s *Spec) (string, error) {
	r, err := e.c.ContainerCreate(ctx, &s.Config, &s.HostConfig, &s.NetworkingConfig, nil, s.Name)
	if err != nil {
		if cerrdefs.IsConflict(err) {
			return "", fmt.Errorf("creating container %s: the name is in use by a container ddc-gitops does not manage (it is left alone): %w", s.Name, err)
		}
		return "", fmt.Errorf("creating container %s: %w", s.Name, err)
	}
	return r.ID, nil
}

// Start starts a created or stopped container.
func (e *Engine) Start(ctx context.Context, id string) error {
	if err := e.c.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return fmt.Errorf("starting container %s: %w", short(id), err)
	}
	return nil
}

// Remove stops (SIGTERM, then SIGKILL after grace) and removes a container.
func (e *Engine) Remove(ctx context.Context, id string, grace time.Duration) error {
	secs := int(grace / time.Second)
	if err := e.c.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stopping container %s: %w", short(id), err)
	}
	if err := e.c.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("removing container %s: %w", short(id), err)
	}
	return nil
}

// Inspect returns a container's details.
func (e *Engine) Inspect(ctx context.Context, id string) (container.InspectResponse, error) {
	r, err := e.c.ContainerInspect(ctx, id)
	if err != nil {
		return r, fmt.Errorf("inspecting container %s: %w", short(id), err)
	}
	return r, nil
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Kill sends signal to a container (for tests and operators: the agent
// never kills).
func (e *Engine) Kill(ctx context.Context, id, signal string) error {
	if err := e.c.ContainerKill(ctx, id, signal); err != nil {
		return fmt.Errorf("killing container %s: %w", short(id), err)
	}
	return nil
}
