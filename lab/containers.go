package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ddc-gitops/ddc-gitops/api"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/internal/netns"
	"github.com/ddc-gitops/ddc-gitops/reconciler/docker"
)

// NodeImage is the image every lab container host has: FROM scratch, the
// ddc-gitops binary running `lab nodesim` on :80 (zone and node name from
// the variables the agent sets in each container).
const NodeImage = "ddc-node:lab"

// ContainerHostInfo is one container host of the lab.
type ContainerHostInfo struct {
	Host, Zone string
	// Docker is its engine's socket (unix://...), reachable from the root
	// namespace.
	Docker string
	// AgentURL is its agent's HTTP API (container role).
	AgentURL string
	// Netns is the host's network namespace (dockerd and its containers).
	Netns string
}

// addContainerHosts plans one namespace per container host the zones
// declare, at its address on the zone network.
func (p *plan) addContainerHosts(f *desired.Fleet) error {
	for _, zn := range p.zones {
		z := zn.zone
		if z.Containers == nil {
			continue
		}
		for _, h := range z.Containers.Hosts {
			a, err := netip.ParseAddr(h.Address)
			if err != nil || !zn.cidr.Contains(a) || a == zn.router {
				return fmt.Errorf("container host %s: address %q is not free in zone %s's network %v", h.Name, h.Address, z.Name, zn.cidr)
			}
			p.machines = append(p.machines, machine{name: h.Name, zone: z.Name, iface: h.Interface,
				addr: netip.PrefixFrom(a, zn.cidr.Bits()), ctr: h})
		}
	}
	return nil
}

// dockerExecRoot is a container host's dockerd exec root: short, because
// containerd's sockets live under it.
func dockerExecRoot(prefix, host string) string { return "/run/" + prefix + "-" + host }

// startContainerHosts starts, for each container host, dockerd in its
// namespace (own data root, exec root, socket and pid file; no default
// bridge, no iptables), builds NodeImage in it, and starts its agent in the
// container role; it returns the agents for the zones' APIs.
func (l *lab) startContainerHosts(ctx context.Context, repoURL, tokenFile string, first int, info *Info) ([]api.Agent, error) {
	var agents []api.Agent
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return nil, fmt.Errorf("lab: container hosts: %w", err)
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return nil, fmt.Errorf("lab: container hosts: %w", err)
	}
	for _, m := range l.plan.machines {
		if m.ctr == nil {
			continue
		}
		if _, err := exec.LookPath("dockerd"); err != nil {
			l.progress("not starting container host %s: dockerd is not installed (deploy/deps.sh installs docker.io)", m.name)
			return nil, nil
		}
		ns := l.o.Prefix + "-" + m.name
		hd := filepath.Join(l.o.StateDir, "hosts", m.name)
		execRoot := dockerExecRoot(l.o.Prefix, m.name)
		for _, d := range []string{hd, execRoot} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, fmt.Errorf("lab: %w", err)
			}
		}
		sock := "unix://" + filepath.Join(execRoot, "docker.sock")
		// unshare gives dockerd a private mount namespace of its own, so
		// its containers' overlay mounts are never copied into the mount
		// namespaces the lab makes later (ip netns exec of a restarted
		// agent), where they would stay busy and make removing a container
		// fail ("device or resource busy"). nsenter then enters the network
		// namespace only: ip netns exec would remount /sys, where dockerd
		// finds no cgroups. Both exec: the pid stays dockerd's.
		args := []string{"--mount", "--propagation", "private", "--", nsenter, "--net=" + filepath.Join(netns.RunDir, ns), "--", "dockerd",
			"--data-root", filepath.Join(hd, "docker"), "--exec-root", execRoot, "-H", sock,
			"--pidfile", filepath.Join(hd, "docker.pid"),
			"--bridge=none", "--iptables=false", "--ip-masq=false", "--log-level=warn"}
		if _, err := l.startExe("dockerd "+m.name, m.name, "", unshare, args); err != nil {
			return nil, err
		}
		eng, err := docker.Dial(sock)
		if err != nil {
			return nil, err
		}
		err = waitEngine(ctx, eng, time.Minute)
		if err == nil {
			err = l.buildNodeImage(ctx, eng)
		}
		eng.Close()
		if err != nil {
			return nil, fmt.Errorf("lab: container host %s: %w", m.name, err)
		}
		addr, err := agentAddr(first + len(agents))
		if err != nil {
			return nil, err
		}
		if err := netns.AddAddr(ctx, "", uplinkName(l.o.Prefix), netip.PrefixFrom(addr, 32)); err != nil {
			return nil, fmt.Errorf("lab: address for the agent of %s: %w", m.name, err)
		}
		listen := net.JoinHostPort(addr.String(), strconv.Itoa(AgentPort))
		if _, err := l.start(m.name, "", []string{"agent", "--repo", repoURL, "--host", m.name, "--state-dir", filepath.Join(hd, "state"),
			"--docker", sock, "--listen", listen, "--sync-token-file", tokenFile, "--poll", l.o.AgentPoll.String()}); err != nil {
			return nil, err
		}
		agents = append(agents, api.Agent{Host: m.name, Zone: m.zone, URL: "http://" + listen})
		info.ContainerHosts = append(info.ContainerHosts, ContainerHostInfo{Host: m.name, Zone: m.zone, Docker: sock, AgentURL: "http://" + listen, Netns: ns})
	}
	if len(agents) > 0 {
		l.progress("started %d container hosts (dockerd with %s, agent --docker)", len(agents), NodeImage)
	}
	return agents, nil
}

// waitEngine waits until eng answers.
func waitEngine(ctx context.Context, eng *docker.Engine, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := eng.Ping(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dockerd did not answer within %v: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// buildNodeImage builds NodeImage from the lab's own binary. A statically
// linked binary is the whole image; a dynamically linked one (a test
// binary, a cgo build) brings its loader and libraries, as ldd lists them.
func (l *lab) buildNodeImage(ctx context.Context, eng *docker.Engine) error {
	exe, err := os.ReadFile(l.o.Exe)
	if err != nil {
		return fmt.Errorf("reading %s: %w", l.o.Exe, err)
	}
	files := []docker.ImageFile{{Path: "/ddc-gitops", Mode: 0o755, Data: exe}}
	libs, err := sharedLibs(ctx, l.o.Exe)
	if err != nil {
		return err
	}
	for _, lib := range libs {
		b, err := os.ReadFile(lib)
		if err != nil {
			return fmt.Errorf("reading %s: %w", lib, err)
		}
		files = append(files, docker.ImageFile{Path: lib, Mode: 0o755, Data: b})
	}
	bctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return eng.BuildImage(bctx, NodeImage, files, []string{"/ddc-gitops", "lab", "nodesim", "--listen", ":80"}, l.o.ChildEnv)
}

// sharedLibs lists the absolute paths ldd prints for exe (none for a
// static binary).
func sharedLibs(ctx context.Context, exe string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ldd", exe).CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("not a dynamic executable")) {
			return nil, nil
		}
		return nil, fmt.Errorf("ldd %s: %w: %s", exe, err, bytes.TrimSpace(out))
	}
	var libs []string
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "/") && !slices.Contains(libs, f) {
			libs = append(libs, filepath.Clean(f))
		}
	}
	return libs, nil
}

// cleanupContainerHosts removes what the container hosts' engines leave
// after they stopped: mounts under their data and exec roots, and the exec
// roots.
func (l *lab) cleanupContainerHosts() error {
	if l.plan == nil {
		return nil
	}
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return err
	}
	var roots []string
	for _, m := range l.plan.machines {
		if m.ctr != nil {
			roots = append(roots, filepath.Join(l.o.StateDir, "hosts", m.name, "docker")+"/", dockerExecRoot(l.o.Prefix, m.name)+"/")
		}
	}
	lines := strings.Split(string(b), "\n")
	slices.Reverse(lines) // innermost first
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		for _, r := range roots {
			if strings.HasPrefix(f[1]+"/", r) {
				_ = syscall.Unmount(f[1], syscall.MNT_DETACH)
			}
		}
	}
	for _, m := range l.plan.machines {
		if m.ctr != nil {
			_ = os.RemoveAll(dockerExecRoot(l.o.Prefix, m.name))
		}
	}
	return nil
}
