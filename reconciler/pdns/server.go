package pdns

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ddc-gitops/ddc-gitops/reconciler/atomicfile"
)

// Debian's PowerDNS binaries.
const (
	DefaultServerBin  = "/usr/sbin/pdns_server"
	DefaultControlBin = "/usr/bin/pdns_control"
	DefaultUtilBin    = "/usr/bin/pdnsutil"
)

// ServerConfig is the pdns.conf of a PowerDNS Authoritative server with the
// bind backend and LUA records, as the agent runs it with --supervise (and
// the lab and tests do). On a host where Debian's pdns.service runs, the
// same settings go into /etc/powerdns/pdns.conf (docs/dns.md).
type ServerConfig struct {
	// Dir is the configuration directory: pdns.conf, named.conf, the zone
	// file and the control socket live there.
	Dir string
	// Address and Port are where the server answers (Port default 53).
	Address string
	Port    int
	// HealthInterval is how often LUA records' health checks run (whole
	// seconds, at least 1; default 1s).
	HealthInterval time.Duration
}

// Text is the pdns.conf for c. The caches are off so that an answer always
// reflects the zone file and the health checks of the moment: a LUA record
// is evaluated per query (its cost is a few microseconds).
func (c ServerConfig) Text() (string, error) {
	if !filepath.IsAbs(c.Dir) || strings.ContainsAny(c.Dir, " \t\n#\"'") {
		return "", fmt.Errorf("pdns.conf: directory %q is not an absolute path without spaces, quotes or '#'", c.Dir)
	}
	port := c.Port
	if port == 0 {
		port = 53
	}
	secs := int(c.HealthInterval / time.Second)
	if secs < 1 {
		secs = 1
	}
	if _, err := netip.ParseAddr(c.Address); err != nil {
		return "", fmt.Errorf("pdns.conf: listen address %q is not an IP address", c.Address)
	}
	if port < 1 || port > 65535 {
		return "", fmt.Errorf("pdns.conf: port %d is out of range 1..65535", port)
	}
	lines := []string{
		"# Written by ddc-gitops: PowerDNS Authoritative with the bind backend and LUA records.",
		"launch=bind",
		"bind-config=" + filepath.Join(c.Dir, NamedConf),
		"local-address=" + c.Address,
		"local-port=" + strconv.Itoa(port),
		"socket-dir=" + c.Dir,
		"daemon=no",
		"guardian=no",
		"disable-syslog=yes",
		"enable-lua-records=yes",
		"edns-subnet-processing=yes",
		"lua-health-checks-interval=" + strconv.Itoa(secs),
		"cache-ttl=0",
		"negquery-cache-ttl=0",
		"query-cache-ttl=0",
		"zone-cache-refresh-interval=0",
		"loglevel=4",
	}
	return strings.Join(lines, "\n") + "\n", nil
}

// Write writes pdns.conf into c.Dir, and an empty named.conf when there is
// none yet (the agent fills it at its first reconcile).
func (c ServerConfig) Write() error {
	text, err := c.Text()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", c.Dir, err)
	}
	if _, err := atomicfile.Write(filepath.Join(c.Dir, "pdns.conf"), []byte(text), 0o644); err != nil {
		return err
	}
	named := filepath.Join(c.Dir, NamedConf)
	if _, err := os.Stat(named); errors.Is(err, os.ErrNotExist) {
		if _, err := atomicfile.Write(named, []byte("# The ddc-gitops agent writes the zone here.\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Process is one pdns_server run in the foreground with a configuration
// directory (pdns.conf from ServerConfig), optionally in a network namespace.
type Process struct {
	Bin        string // default DefaultServerBin
	ControlBin string // default DefaultControlBin
	ConfigDir  string
	// Netns runs the server in this network namespace (ip netns exec).
	Netns  string
	Logger *slog.Logger

	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
	ready atomic.Bool // the server logged that it answers queries
}

// readyLine is what pdns_server 4.7 logs once its UDP and TCP threads
// answer queries (its control socket answers earlier).
const readyLine = "ready to distribute questions"

// Run starts pdns_server and blocks until it exits; when ctx ends it stops
// the server (SIGTERM, then SIGKILL after 5s) and returns nil.
func (p *Process) Run(ctx context.Context) error {
	bin := p.Bin
	if bin == "" {
		bin = DefaultServerBin
	}
	args := []string{bin, "--config-dir=" + p.ConfigDir}
	if p.Netns != "" {
		args = append([]string{"ip", "netns", "exec", p.Netns}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting pdns_server: %w", err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	go p.logOutput(out)
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait(); close(done) }()
	select {
	case err := <-waitErr:
		return fmt.Errorf("pdns_server exited: %w", err)
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-waitErr:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-waitErr
		}
		return nil
	}
}

func (p *Process) logOutput(r io.Reader) {
	log := p.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if strings.Contains(sc.Text(), readyLine) {
			p.ready.Store(true)
		}
		log.Info(sc.Text(), "process", "pdns_server")
	}
}

// Ready waits until the server answers queries and its control socket.
func (p *Process) Ready(ctx context.Context) error {
	c := Control{Bin: p.ControlBin, ConfigDir: p.ConfigDir}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		p.mu.Lock()
		done := p.done
		p.mu.Unlock()
		if done != nil {
			select {
			case <-done:
				return errors.New("pdns_server exited before it served")
			default:
			}
		}
		if p.ready.Load() {
			if out, err := c.run(ctx, "rping"); err == nil && strings.Contains(out, "PONG") {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for pdns_server in %s to answer: %w", p.ConfigDir, ctx.Err())
		case <-tick.C:
		}
	}
}
