// Package lab runs the local multi-zone lab: the example fleet on network
// namespaces of this machine, managed by the real agents, with the APIs and
// a git server, the way the original docker-compose lab ran it.
//
// Up builds, per zone, a Linux bridge with one namespace per HAProxy host
// (haproxy and keepalived run there, started by the host's agent in
// --supervise mode, which itself runs in the root namespace: see
// startAgents) and one per DDC node (a node simulator, see lab/nodesim); a router namespace joins
// the zone networks (cross-zone failover) and a veth from the root namespace
// reaches them (the VIPs answer from this machine). The fleet's repository is
// served over smart HTTP; the zones' APIs run in-process and forward ports
// give the original lab's URLs. Cancelling Up's context tears everything
// down; Down does it for a lab started by another process.
//
// Each host's keepalived tracks only its own haproxy (by the path its agent
// starts it as), so Control.KillHAProxy on one host moves that host's VIPs.
package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ddc-gitops/ddc-gitops/api"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/internal/netns"
	"github.com/ddc-gitops/ddc-gitops/lab/devchain"
	"github.com/ddc-gitops/ddc-gitops/lab/nodesim"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

const (
	markerFile      = ".ddc-gitops-lab" // marks a state directory as the lab's
	pidFile         = "lab.pid"
	defaultLinkWait = 5 * time.Second
	adminUser       = "admin"
)

// rePath is what haproxy.cfg accepts for the paths the lab puts there.
var rePath = regexp.MustCompile(`^/[A-Za-z0-9_./-]+$`)

// lab is one run of Up.
type lab struct {
	o    Options
	log  *slog.Logger
	out  io.Writer
	plan *plan

	net   *netns.Lab
	git   *gitserver.Server
	hooks *pushHooks
	chain *devchain.Node
	dns   *dnsPlan  // the geo DNS part (lab/dns.go); nil without a dns block
	trust *labTrust // the signing keys and the agents' trust policy (lab/trust.go)

	mu       sync.Mutex
	children []*child
}

func (l *lab) progress(format string, args ...any) {
	fmt.Fprintf(l.out, "lab: "+format+"\n", args...)
}

// Up builds the lab, starts it, prints its URLs and blocks until ctx is
// cancelled; then it tears everything down (children, namespaces, the
// uplink, forwards, servers) and returns. It returns an error, after tearing
// down what it built, if the lab cannot start.
func Up(ctx context.Context, o Options) (err error) {
	l := &lab{o: o}
	if err := l.defaults(); err != nil {
		return err
	}
	if err := preflight(); err != nil {
		return err
	}
	if err := l.prepareStateDir(); err != nil {
		return err
	}
	defer func() {
		if terr := l.teardown(); terr != nil {
			err = errors.Join(err, fmt.Errorf("tearing the lab down: %w", terr))
		}
		_ = os.Remove(filepath.Join(l.o.StateDir, pidFile))
	}()
	l.progress("cleaning what an earlier lab %q left", l.o.Prefix)
	if err := netns.Cleanup(ctx, l.o.Prefix); err != nil {
		return fmt.Errorf("cleaning leftovers of lab %s: %w", l.o.Prefix, err)
	}
	return l.run(ctx)
}

func (l *lab) defaults() error {
	o := &l.o
	if o.Fleet == nil {
		return errors.New("lab: no fleet to seed (Options.Fleet, e.g. examples/fleet)")
	}
	o.Prefix = cmpOr(o.Prefix, DefaultPrefix)
	if len(o.Prefix) < 3 || len(o.Prefix) > 10 || !regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`).MatchString(o.Prefix) {
		return fmt.Errorf("lab: prefix %q: want 3 to 10 lower-case letters, digits or '-'", o.Prefix)
	}
	o.StateDir = cmpOr(o.StateDir, DefaultStateDir)
	abs, err := filepath.Abs(o.StateDir)
	if err != nil {
		return fmt.Errorf("lab: state directory: %w", err)
	}
	o.StateDir = abs
	if !rePath.MatchString(o.StateDir) || len(o.StateDir) > 60 {
		return fmt.Errorf("lab: state directory %q: want an absolute path of at most 60 letters, digits, '_', '.', '-' and '/' (it ends up in haproxy.cfg and socket paths)", o.StateDir)
	}
	if o.Exe == "" {
		if o.Exe, err = os.Executable(); err != nil {
			return fmt.Errorf("lab: finding this program's binary for the children: %w", err)
		}
	}
	o.ListenHost = cmpOr(o.ListenHost, "127.0.0.1")
	o.Version = cmpOr(o.Version, "lab")
	if o.AdminPassword == "" {
		o.AdminPassword = os.Getenv("DDC_GITOPS_ADMIN_PASSWORD")
	}
	if o.AgentPoll <= 0 {
		o.AgentPoll = 10 * time.Second
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 90 * time.Second
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 15 * time.Second
	}
	l.out = o.Out
	if l.out == nil {
		l.out = io.Discard
	}
	l.log = o.Logger
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	return nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// preflight checks for root and the programs the lab runs.
func preflight() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (network namespaces, bridges and veths need CAP_NET_ADMIN and CAP_SYS_ADMIN: run with sudo)")
	}
	for _, bin := range []struct{ name, pkg string }{
		{"ip", "iproute2"}, {"haproxy", "haproxy"}, {"keepalived", "keepalived"}, {"git", "git"},
	} {
		if _, err := exec.LookPath(bin.name); err != nil {
			missing = append(missing, fmt.Sprintf("%s in PATH (Debian: apt-get install %s)", bin.name, bin.pkg))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("lab: cannot start without: %s", strings.Join(missing, "; "))
	}
	return nil
}

// prepareStateDir empties the state directory (refusing one the lab did
// not create, or one of a running lab) and writes the pid file.
func (l *lab) prepareStateDir() error {
	dir := l.o.StateDir
	if pid, ok := runningLab(dir); ok {
		return fmt.Errorf("lab: a lab is running from %s (pid %d): stop it first (`ddc-gitops lab down`)", dir, pid)
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("lab: reading the state directory: %w", err)
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(dir, markerFile)); err != nil {
			return fmt.Errorf("lab: state directory %s is not empty and not a lab's (no %s): pick another", dir, markerFile)
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("lab: emptying the state directory: %w", err)
			}
		}
	}
	for _, d := range []string{"", "logs", "hosts", "api"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("lab: creating the state directory: %w", err)
		}
	}
	files := map[string]string{
		markerFile: "ddc-gitops lab state directory: emptied by every `ddc-gitops lab` start\n",
		pidFile:    fmt.Sprintf("%d\n%s\n%s\n", os.Getpid(), l.o.Prefix, startTime(os.Getpid())),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("lab: writing %s: %w", name, err)
		}
	}
	return nil
}

// run does the work of Up after the state directory is ready.
func (l *lab) run(ctx context.Context) error {
	o, dir := l.o, l.o.StateDir
	seed := filepath.Join(dir, "seed")
	fleet, err := copyFleet(o.Fleet, seed)
	if err != nil {
		return err
	}
	fds, err := planFDs(fleet.HAProxy.Maxconn)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if fds.note != "" {
		l.progress("%s", fds.note)
	}
	if fds.maxconn != fleet.HAProxy.Maxconn {
		if err := setMaxconn(seed, fds.maxconn); err != nil {
			return err
		}
		if fleet, err = desired.Load(os.DirFS(seed)); err != nil {
			return fmt.Errorf("lab: the fleet with maxconn %d is invalid: %w", fds.maxconn, err)
		}
	}
	if l.plan, err = planTopology(fleet); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := l.plan.addContainerHosts(fleet); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := l.setAgentURLs(seed, fleet); err != nil { // waves.go
		return err
	}
	if l.dns, err = planDNS(fleet, l.plan); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	for _, s := range l.plan.skipped {
		l.progress("not simulating node %s", s)
	}
	var cp *chainPlan
	if !o.NoChain {
		if cp, err = l.prepareChain(ctx, fleet); err != nil {
			return err
		}
	}
	if err := checkRootRoutes(ctx, l.plan); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	crtArgs, err := l.certs(fleet, seed)
	if err != nil {
		return err
	}

	// Verification on: keys for the writers, a policy for the agents.
	if err := l.setupTrust(); err != nil {
		return err
	}

	// The repository, whose pushes become GitHub push webhooks to the API.
	// The lab's own commits are the person's, signed.
	hookSecret, err := randomHex(16)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "webhook-secret"), []byte(hookSecret+"\n"), 0o600); err != nil {
		return fmt.Errorf("lab: writing the webhook secret: %w", err)
	}
	l.hooks = newWebhooks(hookSecret, l.log)
	l.git, err = gitserver.New(filepath.Join(dir, "git"), gitserver.Options{
		Addr: net.JoinHostPort(o.ListenHost, strconv.Itoa(o.GitPort)), Logger: l.log, OnPush: l.hooks.push,
		Signer: l.trust.signer(KeyPerson)})
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if _, err := l.git.Seed(seed, "lab: seed the fleet"); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := l.git.Start(); err != nil {
		return fmt.Errorf("lab: %w (pick another git port)", err)
	}
	cloneDir := filepath.Join(dir, "fleet")
	if out, err := exec.CommandContext(ctx, "git", "clone", "--quiet", l.git.URL(), cloneDir).CombinedOutput(); err != nil {
		return fmt.Errorf("lab: cloning %s for you: %w: %s", l.git.URL(), err, bytes.TrimSpace(out))
	}
	// When git has no identity configured (a fresh machine), the clone gets
	// one, so that the walkthrough's commits and merges work.
	if out, err := exec.CommandContext(ctx, "git", "-C", cloneDir, "config", "user.name").Output(); err != nil || len(bytes.TrimSpace(out)) == 0 {
		for _, kv := range [][2]string{{"user.name", "lab operator"}, {"user.email", "operator@lab.invalid"}} {
			if out, err := exec.CommandContext(ctx, "git", "-C", cloneDir, "config", kv[0], kv[1]).CombinedOutput(); err != nil {
				return fmt.Errorf("lab: setting %s in the clone: %w: %s", kv[0], err, bytes.TrimSpace(out))
			}
		}
	}
	if err := l.trust.configureClone(ctx, cloneDir); err != nil {
		return err
	}
	l.progress("fleet repository %s seeded (working clone %s, signing with %s)", l.git.URL(), cloneDir, l.trust.info.Keys[KeyPerson])

	// The network.
	l.progress("building the network: %d zones, %d namespaces (prefix %s)", len(l.plan.zones), len(l.plan.machines)+2, o.Prefix)
	if l.net, err = build(ctx, o.Prefix, l.plan, l.log, l.progress); err != nil {
		return fmt.Errorf("lab: building the network: %w", err)
	}
	// The children.
	token, err := randomHex(16)
	if err != nil {
		return err
	}
	tokenFile := filepath.Join(dir, "sync-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		return fmt.Errorf("lab: writing the sync token: %w", err)
	}
	if err := l.startNodes(); err != nil {
		return err
	}
	agents, err := l.startAgents(ctx, l.git.URL(), tokenFile, crtArgs)
	if err != nil {
		return err
	}
	if err := l.startDNS(ctx, l.git.URL(), tokenFile); err != nil {
		return err
	}

	// The APIs and the forwards.
	password := o.AdminPassword
	if password == "" {
		if password, err = randomHex(8); err != nil {
			return err
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(runCtx)
	defer func() { cancel(); _ = g.Wait() }()
	info := Info{StateDir: dir, GitURL: l.git.URL(), CloneDir: cloneDir, AdminUser: adminUser, AdminPassword: password,
		SyncToken: token, Trust: l.trust.info, Control: &Control{l: l}}
	for _, a := range agents {
		info.Agents = append(info.Agents, AgentInfo{Host: a.Host, Zone: a.Zone, URL: a.URL, Dir: filepath.Join(dir, "hosts", a.Host)})
	}
	ctrAgents, err := l.startContainerHosts(ctx, l.git.URL(), tokenFile, len(agents), &info)
	if err != nil {
		return err
	}
	agents = append(agents, ctrAgents...)
	if err := l.serveZones(gctx, g, &info, agents, token, password, hookSecret); err != nil {
		return err
	}
	if len(info.Zones) > 0 {
		info.WebhookURL = info.Zones[0].APIURL + "/api/v1/webhooks/github"
		l.hooks.url, l.hooks.repoPath, l.hooks.repoURL = info.WebhookURL, l.git.RepoPath(), l.git.URL()
		g.Go(func() error { return l.hooks.Run(gctx) })
	}

	botMetrics := ""
	if cp != nil {
		if botMetrics, err = l.startChain(gctx, cp, fleet, &info); err != nil {
			return err
		}
	}
	if !o.NoPrometheus {
		if info.PrometheusURL, info.AlertmanagerURL, err = l.startMonitoring(&info, botMetrics, o.PrometheusPort, o.AlertmanagerPort); err != nil {
			return err
		}
	}

	// Wait until every zone's VIPs are where they stay, and every zone
	// answers through its first VIP.
	if err := l.waitVIPs(gctx); err != nil {
		return err
	}
	if err := l.waitZones(gctx); err != nil {
		return err
	}
	if err := l.waitDNS(gctx, &info); err != nil {
		return err
	}
	l.mu.Lock()
	for _, c := range l.children {
		info.Children = append(info.Children, ChildInfo{Name: c.name, Machine: c.machine, Netns: c.netns, PID: c.pid, Log: c.logPath})
	}
	l.mu.Unlock()
	l.printInfo(info, o.AdminPassword == "")
	printDNS(l.out, info)
	if o.Ready != nil {
		o.Ready(info)
	}
	<-gctx.Done()
	l.progress("stopping")
	cancel()
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// certs copies a relative crtBase's directory into the state directory and
// returns the agents' --crt-base flag for it.
func (l *lab) certs(f *desired.Fleet, seed string) ([]string, error) {
	cb := f.HAProxy.CrtBase
	if cb == "" || filepath.IsAbs(cb) {
		return nil, nil
	}
	dst := filepath.Join(l.o.StateDir, "certs")
	if err := copyDir(filepath.Join(seed, filepath.FromSlash(cb)), dst); err != nil {
		return nil, fmt.Errorf("lab: copying the fleet's certificates (crtBase %s): %w", cb, err)
	}
	return []string{"--crt-base", dst}, nil
}

// startNodes starts a node simulator in every node namespace.
func (l *lab) startNodes() error {
	if err := os.MkdirAll(filepath.Join(l.o.StateDir, nodesDir), 0o700); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	n := 0
	for _, m := range l.plan.machines {
		if m.node == nil {
			continue
		}
		name := m.name
		if m.spare != nil {
			name = m.spare.chainName
		}
		args := []string{"lab", "nodesim", "--zone", m.zone, "--node", name,
			"--listen", net.JoinHostPort(m.addr.Addr().String(), strconv.Itoa(m.node.HTTPPort)),
			"--control-socket", nodeControlSocket(l.o.StateDir, m.name)}
		if m.node.GRPCPort != 0 {
			args = append(args, "--grpc-listen", net.JoinHostPort(m.addr.Addr().String(), strconv.Itoa(m.node.GRPCPort)))
		}
		if _, err := l.start(m.name, l.o.Prefix+"-"+m.name, args); err != nil {
			return err
		}
		n++
	}
	l.progress("started %d node simulators", n)
	return nil
}

// startAgents starts the agent of every HAProxy host, in --supervise mode,
// and returns the API's view of them.
//
// The agents run in the root namespace, like keepalived, which they start
// with -s NS: keepalived's vrrp_track_process needs the kernel's process
// events connector, which answers only in the initial network namespace
// (inside a namespace keepalived logs "Failed to set/clear process event
// listen" and every instance stays in FAULT). haproxy runs in the host's
// namespace: the agent starts it there itself (--netns) as
// STATE/bin/haproxy, a path of its own that keepalived tracks; the agent
// reaches its sockets by path.
func (l *lab) startAgents(ctx context.Context, repoURL, tokenFile string, crtArgs []string) ([]api.Agent, error) {
	haproxyBin, err := exec.LookPath("haproxy")
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	var agents []api.Agent
	for _, m := range l.plan.machines {
		if m.host == nil {
			continue
		}
		ns := l.o.Prefix + "-" + m.name
		hd := filepath.Join(l.o.StateDir, "hosts", m.name)
		if err := os.MkdirAll(hd, 0o755); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		// Each agent's API gets its own address on the uplink: no port to
		// pick, so none to race for.
		agentAddr, err := l.hostAgentAddr(m.name)
		if err != nil {
			return nil, err
		}
		if err := netns.AddAddr(ctx, "", uplinkName(l.o.Prefix), netip.PrefixFrom(agentAddr, 32)); err != nil {
			return nil, fmt.Errorf("lab: address for the agent of %s: %w", m.name, err)
		}
		listen := net.JoinHostPort(agentAddr.String(), strconv.Itoa(AgentPort))
		args := []string{"agent", "--repo", repoURL, "--host", m.name, "--state-dir", filepath.Join(hd, "state"),
			"--supervise",
			"--haproxy-bin", haproxyBin,
			"--haproxy-config", filepath.Join(hd, "haproxy.cfg"),
			"--master-socket", filepath.Join(hd, "master.sock"),
			"--haproxy-pid", filepath.Join(hd, "haproxy.pid"),
			"--admin-socket", filepath.Join(hd, "admin.sock"),
			"--keepalived-config", filepath.Join(hd, "keepalived.conf"),
			"--keepalived-pid", filepath.Join(hd, "keepalived.pid"),
			"--netns", ns,
			"--listen", listen, "--sync-token-file", tokenFile,
			"--poll", l.o.AgentPoll.String(), "--reload-debounce", "1s"}
		args = append(args, crtArgs...)
		idArgs, err := l.ageIdentity(m.name, hd)
		if err != nil {
			return nil, err
		}
		args = append(args, idArgs...)
		if _, err := l.start(m.name, "", args); err != nil {
			return nil, err
		}
		agents = append(agents, api.Agent{Host: m.name, Zone: m.zone, URL: "http://" + listen})
	}
	l.progress("started %d agents (haproxy and keepalived in each host's namespace)", len(agents))
	return agents, nil
}

// agentAddr is the uplink address of the i-th agent's API: 198.19.255.10+i.
func agentAddr(i int) (netip.Addr, error) {
	if i > 200 {
		return netip.Addr{}, errors.New("lab: more than 200 HAProxy hosts")
	}
	b := rootAddr.As4()
	b[3] = byte(10 + i)
	return netip.AddrFrom4(b), nil
}

// start runs one ddc-gitops child for machine name, in namespace ns
// (empty: the root namespace). Every agent gets the lab's trust policy,
// the bot its signing key.
func (l *lab) start(name, ns string, args []string) (*child, error) {
	kind := "node"
	switch args[0] {
	case "agent", "bot":
		kind = args[0]
	}
	switch {
	case l.trust == nil:
	case kind == "agent":
		args = append(slices.Clip(args), l.trust.agentArgs()...)
	case kind == "bot":
		args = append(slices.Clip(args), "--signing-key", l.trust.info.Keys[KeyBot])
	}
	return l.startExe(kind+" "+name, name, ns, l.o.Exe, args)
}

// startExe runs exe args as the child called name, serving machine, in
// namespace ns (empty: the root namespace); its log is logs/MACHINE.log.
func (l *lab) startExe(name, machine, ns, exe string, args []string) (*child, error) {
	logPath := filepath.Join(l.o.StateDir, "logs", machine+".log")
	c, err := startChild(name, ns, logPath, exe, l.o.ChildEnv, args, func(c *child) {
		l.log.Warn("lab child exited", "child", c.name, "err", c.err, "log", c.logPath)
		l.progress("warning: %s exited (%v); its log: %s", c.name, c.err, c.logPath)
	})
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	c.machine, c.args = machine, args
	l.mu.Lock()
	l.children = append(l.children, c)
	l.mu.Unlock()
	return c, nil
}

// serveZones starts each zone's API and forwards.
func (l *lab) serveZones(ctx context.Context, g *errgroup.Group, info *Info, agents []api.Agent, token, password, hookSecret string) error {
	hash, err := api.HashPassword(password)
	if err != nil {
		return fmt.Errorf("lab: admin password: %w", err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("lab: JWT secret: %w", err)
	}
	host := l.o.ListenHost
	for _, zn := range l.plan.zones {
		z := zn.zone
		ports := l.o.Ports[z.Name]
		zi := ZoneInfo{Name: z.Name}
		for _, v := range z.VIPs {
			zi.VIPs = append(zi.VIPs, v.Address)
		}
		r, err := repo.Open(ctx, repo.Options{URL: l.git.URL(), Dir: filepath.Join(l.o.StateDir, "api", z.Name+"-repo"), Logger: l.log,
			Signer: l.trust.signer(KeyAPI)})
		if err != nil {
			return fmt.Errorf("lab: %s API: %w", z.Name, err)
		}
		// The API runs in this process; its log goes to logs/api-ZONE.log
		// like a child's (JSON, for `lab logs`).
		apiLog, err := os.OpenFile(filepath.Join(l.o.StateDir, "logs", "api-"+z.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("lab: %s API log: %w", z.Name, err)
		}
		srv, err := api.New(api.Config{Version: l.o.Version,
			Users:     []api.User{{Username: adminUser, PasswordHash: hash, Role: api.RoleAdmin}},
			JWTSecret: secret, Agents: agents, AgentToken: token, DefaultZone: z.Name, GitHubWebhookSecret: hookSecret,
			// One API proposes reverts of quarantined revisions (two would race on the branch).
			Reverts: api.RevertOptions{Enabled: len(info.Zones) == 0, Interval: 5 * time.Second}},
			api.Deps{Repo: r, Logger: slog.New(slog.NewJSONHandler(apiLog, nil)).With("zone", z.Name)})
		if err != nil {
			apiLog.Close()
			return fmt.Errorf("lab: %s API: %w", z.Name, err)
		}
		ln, err := listen(host, ports.API, z.Name+" API", "--"+z.Name+"-api-port")
		if err != nil {
			return fmt.Errorf("lab: %w", err)
		}
		zi.APIURL = "http://" + ln.Addr().String()
		g.Go(func() error {
			err := srv.Serve(ctx, ln)
			apiLog.Close()
			return err
		})
		if len(z.VIPs) == 0 {
			info.Zones = append(info.Zones, zi)
			continue
		}
		vip := z.VIPs[0].Address
		fw := []struct {
			port, target int
			what, flag   string
			url          *string
		}{{ports.LB, httpPort(z), z.Name + " load balancer", "--" + z.Name + "-port", &zi.LBURL}}
		if z.Stats != nil && z.Stats.Bind.Port != 0 {
			fw = append(fw, struct {
				port, target int
				what, flag   string
				url          *string
			}{ports.Stats, z.Stats.Bind.Port, z.Name + " stats", "--" + z.Name + "-stats-port", &zi.StatsURL})
		}
		for _, f := range fw {
			ln, err := listen(host, f.port, f.what, f.flag)
			if err != nil {
				return fmt.Errorf("lab: %w", err)
			}
			*f.url = "http://" + ln.Addr().String()
			fwd := &forward{ln: ln, target: net.JoinHostPort(vip, strconv.Itoa(f.target)), log: l.log}
			g.Go(func() error { return fwd.run(ctx) })
		}
		if z.Stats != nil {
			zi.StatsURL += cmpOr(z.Stats.URI, "/stats")
		}
		info.Zones = append(info.Zones, zi)
	}
	return nil
}

// httpPort is the zone's first plain HTTP frontend port (80 if none).
func httpPort(z *desired.Zone) int {
	for _, fe := range z.Frontends {
		if fe.Mode == "http" && fe.TLS == nil && len(fe.Binds) > 0 {
			return fe.Binds[0].Port
		}
	}
	return 80
}

// waitZones polls every zone's first VIP until /health answers from one of
// the zone's nodes, or StartTimeout passes, or an agent exits.
func (l *lab) waitZones(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.o.StartTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	for _, zn := range l.plan.zones {
		z := zn.zone
		if len(z.VIPs) == 0 {
			continue
		}
		url := "http://" + net.JoinHostPort(z.VIPs[0].Address, strconv.Itoa(httpPort(z))) + "/health"
		l.progress("waiting for zone %s: %s", z.Name, url)
		err := l.pollStart(ctx, 200*time.Millisecond, func() error {
			node, err := healthOf(ctx, client, url)
			if err != nil {
				return err
			}
			if !strings.HasPrefix(node.Zone, z.Name) {
				return fmt.Errorf("answered by %s of zone %s", node.Node, node.Zone)
			}
			l.progress("zone %s answers (node %s) after %.1fs", z.Name, node.Node, time.Since(start).Seconds())
			return nil
		}, func(last error) error {
			return fmt.Errorf("lab: zone %s did not answer on %s within %v (last: %v); see the logs in %s", z.Name, url, l.o.StartTimeout, last, filepath.Join(l.o.StateDir, "logs"))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// pollStart calls cond every interval until it returns nil. It fails when
// a child exits meanwhile, when ctx is cancelled, and with timedOut(cond's
// last error) when ctx's deadline passes.
func (l *lab) pollStart(ctx context.Context, every time.Duration, cond func() error, timedOut func(last error) error) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if c := l.deadChild(); c != nil {
			return fmt.Errorf("lab: %s exited (%v) while the lab started; the end of its log %s:\n%s", c.name, c.err, c.logPath, c.tail(15))
		}
		select {
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("lab: interrupted while starting: %w", ctx.Err())
			}
			return timedOut(err)
		case <-tick.C:
		}
	}
}

func (l *lab) deadChild() *child {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.children {
		if c.exited() {
			return c
		}
	}
	return nil
}

// healthOf GETs a node simulator's /health through url.
func healthOf(ctx context.Context, c *http.Client, url string) (nodesim.Health, error) {
	var h nodesim.Health
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return h, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return h, err
	}
	if resp.StatusCode != http.StatusOK {
		return h, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return h, fmt.Errorf("decoding %q: %w", body, err)
	}
	return h, nil
}

// teardown stops every child, removes the namespaces and the uplink, and
// stops the git server. It runs with its own deadline, after ctx is done.
func (l *lab) teardown() error {
	ctx, cancel := context.WithTimeout(context.Background(), l.o.StopTimeout+30*time.Second)
	defer cancel()
	var errs []error
	l.mu.Lock()
	children := slices.Clone(l.children)
	l.mu.Unlock()
	var wg sync.WaitGroup
	errc := make(chan error, len(children))
	for _, c := range children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- c.stop(l.o.StopTimeout, l.log)
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		errs = append(errs, err)
	}
	errs = append(errs, l.closeChain())
	errs = append(errs, l.cleanupContainerHosts())
	if l.net != nil {
		errs = append(errs, l.net.Close())
	}
	errs = append(errs, netns.Cleanup(ctx, l.o.Prefix))
	if l.git != nil {
		errs = append(errs, l.git.Close())
	}
	if len(children) > 0 || l.net != nil {
		l.progress("stopped: %d processes, namespaces %s-* removed", len(children), l.o.Prefix)
	}
	return errors.Join(errs...)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("lab: reading random bytes: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// printInfo prints the URLs, the password (once) and what to try.
func (l *lab) printInfo(info Info, generated bool) {
	w := l.out
	fmt.Fprintf(w, "\nThe lab is up (state in %s, logs in %s).\n\n", info.StateDir, filepath.Join(info.StateDir, "logs"))
	for _, z := range info.Zones {
		fmt.Fprintf(w, "  zone %s\n", z.Name)
		if z.LBURL != "" {
			fmt.Fprintf(w, "    load balancer  %s  (-> %s)\n", z.LBURL, z.VIPs[0])
		}
		if z.StatsURL != "" {
			fmt.Fprintf(w, "    stats          %s\n", z.StatsURL)
		}
		fmt.Fprintf(w, "    API            %s\n", z.APIURL)
		fmt.Fprintf(w, "    status page    %s/ (sign in with the API login)\n", z.APIURL)
		fmt.Fprintf(w, "    VIPs           %s (reachable from this machine)\n", strings.Join(z.VIPs, ", "))
	}
	fmt.Fprintf(w, "\n  git repository   %s\n  working clone    %s (signs commits with %s)\n", info.GitURL, info.CloneDir, info.Trust.Keys[KeyPerson])
	fmt.Fprintf(w, "  trust policy     %s (every agent verifies every new commit; API and bot keys in %s)\n", info.Trust.Policy, filepath.Dir(info.Trust.Policy))
	if info.PrometheusURL != "" {
		fmt.Fprintf(w, "  prometheus       %s (agents, APIs, HAProxy exporters, bot; alert rules of deploy/monitoring)\n", info.PrometheusURL)
	}
	if info.AlertmanagerURL != "" {
		fmt.Fprintf(w, "  alertmanager     %s\n", info.AlertmanagerURL)
	}
	fmt.Fprintf(w, "  push webhooks    %s (GitHub format, secret in %s)\n", info.WebhookURL, filepath.Join(info.StateDir, "webhook-secret"))
	if generated {
		fmt.Fprintf(w, "  API login        %s / %s   (generated; shown only now; set $DDC_GITOPS_ADMIN_PASSWORD to choose it)\n", info.AdminUser, info.AdminPassword)
	} else {
		fmt.Fprintf(w, "  API login        %s / (the password from $DDC_GITOPS_ADMIN_PASSWORD)\n", info.AdminUser)
	}
	if c := info.Chain; c != nil {
		fmt.Fprintf(w, "  dev chain        %s, %s (geth --dev, a block a second)\n  NodeRegistry     %s\n  bot              %s/api/v1/blockchain/nodes (proposals: branches bot/node/<pubKey>)\n",
			c.HTTPURL, c.WSURL, c.Contract, c.BotURL)
		for _, s := range c.Spares {
			fmt.Fprintf(w, "  spare node       %s in zone %s at %s, not in the fleet yet\n", s.Name, s.Zone, s.Address)
		}
	}
	if len(info.Zones) == 0 {
		return
	}
	z := info.Zones[0]
	fmt.Fprintf(w, `
Try this:
  curl %[1]s/health
  curl %[2]s/api/v1/health
  TOKEN=$(curl -s -X POST %[2]s/api/v1/auth/token -H 'Content-Type: application/json' \
    -d '{"username":"%[3]s","password":"%[4]s"}' | jq -r .access_token)
  curl -H "Authorization: Bearer $TOKEN" %[2]s/api/v1/backends/ddc_nodes_http/servers
  curl -X POST %[2]s/api/v1/backends/ddc_nodes_http/servers -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{"name":"dynamic-node-1","address":"%[5]s","weight":100}'
  curl -s '%[6]s;csv' | grep dynamic-node-1
  cd %[7]s && git pull && $EDITOR nodes/... && git commit -am change && git push
`, z.LBURL, z.APIURL, info.AdminUser, passwordHint(info.AdminPassword, generated), exampleServer(l.plan, z.Name), z.StatsURL, info.CloneDir)
	if c := info.Chain; c != nil && len(c.Spares) > 0 {
		s := c.Spares[0]
		fmt.Fprintf(w, `
Admit a node through the chain (a provider registers it, the cluster manager admits it):
  ddc-gitops lab node register --zone %[1]s --state-dir %[3]s
  ddc-gitops lab node admit --zone %[1]s --state-dir %[3]s
  cd %[4]s && git fetch && git merge origin/bot/node/%[2]s && git push   # review, then merge
  curl -s '%[5]s;csv' | grep %[6]s
`, s.Zone, strings.TrimPrefix(s.PubKey, "0x"), info.StateDir, info.CloneDir, zoneStats(info, s.Zone), s.Name)
	}
	fmt.Fprintf(w, "\nStop with Ctrl-C (or 'ddc-gitops lab down').\n")
}

// zoneStats is the stats URL of zone.
func zoneStats(info Info, zone string) string {
	for _, z := range info.Zones {
		if z.Name == zone {
			return z.StatsURL
		}
	}
	return ""
}

func passwordHint(p string, generated bool) string {
	if generated {
		return p
	}
	return "$DDC_GITOPS_ADMIN_PASSWORD"
}

// exampleServer is the address of one of the zone's simulated nodes, for
// the walkthrough's "add a server".
func exampleServer(p *plan, zone string) string {
	for _, m := range p.machines {
		if m.node != nil && m.zone == zone {
			return net.JoinHostPort(m.addr.Addr().String(), strconv.Itoa(m.node.HTTPPort))
		}
	}
	return "198.18.1.50:80"
}

// runningLab reads the pid file in dir and reports a live lab process.
func runningLab(dir string) (int, bool) {
	pid, _, err := readPidFile(dir)
	if err != nil || pid == os.Getpid() {
		return 0, false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return 0, false
	}
	return pid, true
}

// readPidFile returns the pid and prefix of the pid file in dir. A pid
// whose process started at another time than recorded (the lab is gone and
// its pid reused) gives an error wrapping os.ErrProcessDone.
func readPidFile(dir string) (pid int, prefix string, err error) {
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return 0, "", err
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 0, "", fmt.Errorf("%s: empty", pidFile)
	}
	if pid, err = strconv.Atoi(f[0]); err != nil {
		return 0, "", fmt.Errorf("%s: %w", pidFile, err)
	}
	if len(f) > 1 {
		prefix = f[1]
	}
	if len(f) > 2 && startTime(pid) != f[2] {
		return 0, prefix, fmt.Errorf("%s: pid %d is another process now: %w", pidFile, pid, os.ErrProcessDone)
	}
	return pid, prefix, nil
}

// startTime is field 22 of /proc/PID/stat (the start time in clock ticks
// since boot), which tells a pid's process from a later one with the same
// pid; empty if unknown.
func startTime(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return f[19] // fields after ')' start at field 3 (state)
}
