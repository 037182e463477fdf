package agentcmd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
	"github.com/ddc-gitops/ddc-gitops/reconciler"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/reconciler/keepalived"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
	"github.com/ddc-gitops/ddc-gitops/reconciler/trigger"
	"github.com/ddc-gitops/ddc-gitops/render"
	"github.com/ddc-gitops/ddc-gitops/secrets"
)

type agentFlags struct {
	repo, branch, host, stateDir      string
	gitToken, sshKey, knownHosts      string
	haproxyBin, haproxyConfig         string
	masterSocket, adminSocket         string
	haproxyPID                        string
	keepalived                        bool
	kaBin, kaConfig, kaPID, netns     string
	crtBase, ageIdentity              string
	listen, syncTokenFile, secretFile string
	poll                              time.Duration
	pollJitter                        float64
	drift                             string
	driftInterval                     time.Duration
	debounce, admitTimeout            time.Duration
	drainTimeout                      time.Duration
	once, supervise                   bool
	watch                             string
	logFormat, logLevel               string
	docker, dockerNetwork             string
	dockerResync, dockerDrain         time.Duration
	dns                               dnsFlags
	memoryLimit                       string
	trustPolicy                       string
}

func New() *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Make this HAProxy + keepalived host match the desired state at the head of a git branch",
		Long: `agent runs on every HAProxy host. It follows a branch of the fleet repository
(--repo, or a working directory with --watch) and applies what changes for
this host (--host): server changes through the HAProxy runtime API without a
reload, structural changes by a checked and verified reload, keepalived
changes by a checked SIGHUP. It syncs on a jittered poll, on POST /v1/sync,
on SIGHUP and, with --watch, when a file changes.

Paths default to Debian's haproxy and keepalived packages, so the agent drops
onto a host where haproxy.service and keepalived.service run the processes;
--supervise starts and watches haproxy (master-worker) and keepalived itself,
restarting either when it exits by itself; keepalived then tracks that very
haproxy (started as STATE-DIR/bin/haproxy), not any haproxy on the machine.
--once runs one reconcile and exits non-zero unless the host converged.`,
		Args: cmdkit.ArgsRange(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error { return runAgent(cmd.Context(), cmd, f) },
	}
	// Every default comes from reconciler.DefaultConfig (or the driver
	// and trigger packages it names): flags only override it.
	def := reconciler.DefaultConfig()
	fl := cmd.Flags()
	fl.StringVar(&f.repo, "repo", "", "fleet repository URL (https://, ssh://, file:// or a path)")
	fl.StringVar(&f.branch, "branch", "main", "branch to follow")
	fl.StringVar(&f.host, "host", "", "this host's name in the desired state (default: the hostname)")
	fl.StringVar(&f.stateDir, "state-dir", def.StateDir, "where the clone, the applied revision and the last good configs live")
	fl.StringVar(&f.gitToken, "git-token-file", "", "file holding an HTTPS access token for the repository")
	fl.StringVar(&f.sshKey, "ssh-key", "", "SSH private key for ssh:// repositories")
	fl.StringVar(&f.knownHosts, "known-hosts", "", "known_hosts file for ssh:// repositories (required with --ssh-key)")
	fl.StringVar(&f.haproxyBin, "haproxy-bin", def.HAProxy.Bin, "haproxy binary")
	fl.StringVar(&f.haproxyConfig, "haproxy-config", def.HAProxy.ConfigPath, "haproxy.cfg the agent manages")
	fl.StringVar(&f.masterSocket, "master-socket", def.HAProxy.MasterSocket, "haproxy master CLI socket (-S)")
	fl.StringVar(&f.adminSocket, "admin-socket", def.HAProxy.AdminSocket, "haproxy runtime API socket (rendered into haproxy.cfg)")
	fl.StringVar(&f.haproxyPID, "haproxy-pid", def.HAProxy.PIDFile, "haproxy master's pid file (--supervise: a master left by a killed agent is adopted, not duplicated)")
	fl.BoolVar(&f.keepalived, "keepalived", true, "manage keepalived.conf")
	fl.StringVar(&f.kaBin, "keepalived-bin", keepalived.DefaultBin, "keepalived binary")
	fl.StringVar(&f.kaConfig, "keepalived-config", keepalived.DefaultConfigPath, "keepalived.conf the agent manages")
	fl.StringVar(&f.kaPID, "keepalived-pid", keepalived.DefaultPIDFile, "keepalived's pid file")
	fl.StringVar(&f.netns, "netns", "", "network namespace haproxy and keepalived run in (--supervise)")
	fl.StringVar(&f.crtBase, "crt-base", "", "directory of the certificates on this host (overrides haproxy.crtBase)")
	fl.StringVar(&f.ageIdentity, "age-identity", "", "this host's age identity: decrypt the repository's secrets/NAME.age encrypted to it into --crt-base as NAME (mode 0600)")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:9100", "address of the agent's HTTP API (/v1/status, /v1/sync, /metrics); empty disables it")
	fl.StringVar(&f.syncTokenFile, "sync-token-file", "", "file holding the bearer token POST /v1/sync requires (or $DDC_GITOPS_SYNC_TOKEN)")
	fl.StringVar(&f.secretFile, "webhook-secret-file", "", "file holding a webhook secret: POST /v1/sync also accepts X-Hub-Signature-256 (or $DDC_GITOPS_WEBHOOK_SECRET)")
	fl.DurationVar(&f.poll, "poll", trigger.DefaultPollInterval, "poll interval (the backstop to webhooks)")
	fl.Float64Var(&f.pollJitter, "poll-jitter", trigger.DefaultPollJitter, "relative jitter of the poll interval")
	fl.StringVar(&f.drift, "drift", def.Drift, "what to do with changes made by hand: correct or warn")
	fl.DurationVar(&f.driftInterval, "drift-interval", def.DriftInterval, "how often a reconcile reads the host's full state to look for drift (0: at every reconcile); in between an unchanged branch costs one fetch and a new revision is planned from what changed")
	fl.DurationVar(&f.debounce, "reload-debounce", def.ReloadDebounce, "least time between two haproxy reloads; changes meanwhile are applied together")
	fl.DurationVar(&f.admitTimeout, "admit-timeout", def.AdmitTimeout, "how long a new server may wait for its first passing health check before it is reported stuck (it stays out of service until it passes; the reconcile never waits)")
	fl.DurationVar(&f.drainTimeout, "drain-timeout", def.DrainTimeout, "how long a removed server drains before its sessions are shut down")
	fl.BoolVar(&f.once, "once", false, "run one reconcile and exit: 0 when the host converged, 1 otherwise")
	fl.BoolVar(&f.supervise, "supervise", false, "start and watch haproxy and keepalived (hosts without systemd, the lab)")
	fl.StringVar(&f.watch, "watch", "", "dev mode: follow this working directory instead of a git repository")
	fl.StringVar(&f.memoryLimit, "memory-limit", defaultMemoryLimit, "soft limit of the agent's memory (Go's runtime/debug.SetMemoryLimit; units B, KiB, MiB, GiB): near it the garbage collector runs sooner instead of letting the heap double; 0 disables it; GOMEMLIMIT in the environment takes precedence")
	fl.StringVar(&f.logFormat, "log-format", "auto", cmdkit.LogFormatUsage)
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.StringVar(&f.trustPolicy, "trust-policy", "", "trust policy file on this host (never in the repository): apply only revisions whose every new commit is signed by a key it trusts for the files it changes (docs/trust.md)")
	addContainerFlags(fl, &f)
	addDNSFlags(fl, &f.dns)
	return cmd
}

func runAgent(ctx context.Context, cmd *cobra.Command, f agentFlags) error {
	log, err := cmdkit.NewLogger(os.Stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	log = log.With("component", "agent")
	if err := setMemoryLimit(f.memoryLimit, os.Getenv("GOMEMLIMIT"), log); err != nil {
		return err
	}
	if (f.repo == "") == (f.watch == "") {
		return cmdkit.UsageError{Err: errors.New("give exactly one of --repo URL and --watch DIR")}
	}
	if f.host == "" {
		if f.host, err = os.Hostname(); err != nil {
			return fmt.Errorf("finding the host name: %w", err)
		}
	}
	var fetcher reconciler.Fetcher
	if f.watch != "" {
		fetcher = &reconciler.DirSource{Dir: f.watch}
	} else {
		token, err := cmdkit.ReadSecret(f.gitToken, "DDC_GITOPS_GIT_TOKEN")
		if err != nil {
			return err
		}
		fetcher = &source.Source{URL: f.repo, Branch: f.branch, Dir: filepath.Join(f.stateDir, "source"), Logger: log,
			Auth: source.Auth{Token: token, SSHKeyFile: f.sshKey, KnownHostsFile: f.knownHosts}}
	}
	verifier, err := loadTrustPolicy(f)
	if err != nil {
		return err
	}
	// A host named in dns.nameservers has the DNS role (reconciler/pdns).
	if ns, err := nameserverRole(ctx, fetcher, f.host); err != nil {
		return err
	} else if ns != nil {
		return runDNSAgent(ctx, cmd, f, trusted(fetcher, verifier), ns, log)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if container, err := containerRole(ctx, f, fetcher, log); err != nil {
		return err
	} else if container {
		return runContainerAgent(ctx, cmd, f, trusted(fetcher, verifier), reg, log)
	}
	cfg := reconciler.Config{
		Host:     f.host,
		Source:   fetcher,
		StateDir: f.stateDir,
		Render:   render.Options{CrtBase: f.crtBase},
		HAProxy: reconciler.HAProxyPaths{Bin: f.haproxyBin, ConfigPath: f.haproxyConfig,
			MasterSocket: f.masterSocket, AdminSocket: f.adminSocket, PIDFile: f.haproxyPID},
		Drift:          f.drift,
		DriftInterval:  cmp.Or(max(f.driftInterval, 0), reconciler.DriftCheckAlways),
		ReloadDebounce: f.debounce,
		AdmitTimeout:   f.admitTimeout,
		DrainTimeout:   f.drainTimeout,
		Logger:         log,
		Registry:       reg,
	}
	cfg.Trust = verifier
	if f.ageIdentity != "" {
		if f.crtBase == "" {
			return cmdkit.UsageError{Err: errors.New("--age-identity needs --crt-base: the directory the secrets are decrypted into")}
		}
		ids, err := secrets.ReadIdentities(f.ageIdentity)
		if err != nil {
			return err
		}
		cfg.Secrets = &secrets.Installer{Identities: ids, CrtBase: f.crtBase}
	}
	if f.once && f.supervise {
		return cmdkit.UsageError{Err: errors.New("--once and --supervise do not go together: --once reconciles a host whose processes run already")}
	}
	if err := checkRenderedPaths(f); err != nil {
		return err
	}
	// The agent API's secrets are checked before anything starts.
	var token, secret string
	if f.listen != "" {
		if token, err = cmdkit.ReadSharedSecret("sync-token-file", f.syncTokenFile, "DDC_GITOPS_SYNC_TOKEN"); err != nil {
			return err
		}
		if secret, err = cmdkit.ReadSharedSecret("webhook-secret-file", f.secretFile, "DDC_GITOPS_WEBHOOK_SECRET"); err != nil {
			return err
		}
		cmdkit.WarnExposure(log, "the agent API", f.listen, false)
	}
	kaLog := log.With("process", "keepalived")
	// reloads counts the reloads of the keepalived processes --supervise
	// starts, so the driver confirms a reload by keepalived's own log; a
	// system keepalived logs to syslog and is only checked to survive.
	reloads := &keepalived.ReloadTally{}
	if f.keepalived {
		cfg.Keepalived = &keepalived.Driver{Bin: f.kaBin, ConfigPath: f.kaConfig, PIDFile: f.kaPID, Netns: f.netns, Logger: kaLog}
		if f.supervise {
			cfg.Keepalived.Reloads = reloads
		}
	}
	a, err := reconciler.New(cfg)
	if err != nil {
		return err
	}
	if f.once {
		out := a.ReconcileOnce(ctx)
		fmt.Fprintf(cmd.OutOrStdout(), "%s: %s at %s\n", f.host, out.Result, out.Revision)
		if !out.Converged {
			if out.Err != nil {
				return &cmdkit.ExitError{Code: cmdkit.ExitInvalid, Err: out.Err}
			}
			return &cmdkit.ExitError{Code: cmdkit.ExitInvalid, Err: errors.New("the host did not converge")}
		}
		return nil
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	// fail stops what started (haproxy and keepalived gracefully) before
	// returning err.
	fail := func(err error) error {
		cancel()
		_ = g.Wait()
		return err
	}
	if f.supervise {
		if err := a.Bootstrap(ctx); err != nil {
			return err
		}
		// haproxy first: keepalived.conf names the path its master runs
		// as (TrackHAProxy), and keepalived tracks it from its start.
		if err := supervise(ctx, g, a, haproxySupervised(a, f, log)); err != nil {
			return fail(err)
		}
		if f.keepalived {
			ka := reconciler.Supervised{Name: "keepalived", New: func() reconciler.Child {
				p := &keepalived.Process{Bin: f.kaBin, ConfigPath: f.kaConfig, PIDFile: f.kaPID, Netns: f.netns, Logger: kaLog}
				reloads.Set(p)
				return p
			}}
			// Reconciles start once keepalived is ready: a SIGHUP before
			// it installed its signal handlers would end it.
			if err := supervise(ctx, g, a, ka); err != nil {
				return fail(err)
			}
		}
	}
	if f.listen != "" {
		h, err := a.Handler(trigger.HTTPAuth{Token: token, Secret: secret}, reg)
		if err != nil {
			return fail(fmt.Errorf("agent API on %s: %w (set --sync-token-file or --webhook-secret-file, or --listen '')", f.listen, err))
		}
		if err := cmdkit.Serve(ctx, g, f.listen, h); err != nil {
			return fail(fmt.Errorf("agent API: %w", err))
		}
		log.Info("agent API listening", "addr", f.listen)
	}
	tr := a.Trigger()
	g.Go(func() error { return tr.Poll(ctx, f.poll, f.pollJitter) })
	tr.Signals(ctx, syscall.SIGHUP)
	if f.watch != "" {
		g.Go(func() error { return tr.Watch(ctx, f.watch, trigger.DefaultDebounce) })
	}
	g.Go(func() error { return a.Run(ctx) })
	log.Info("agent started", "host", f.host, "repo", f.repo, "watch", f.watch, "branch", f.branch)
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// haproxySupervised is the haproxy --supervise runs: started as
// STATE-DIR/bin/haproxy (a symlink to --haproxy-bin, so keepalived can
// track this haproxy apart from any other on the machine), in --netns.
// Each time it serves, keepalived is told the path its master runs as.
func haproxySupervised(a *reconciler.Agent, f agentFlags, log *slog.Logger) reconciler.Supervised {
	return reconciler.Supervised{
		Name: "haproxy",
		New: func() reconciler.Child {
			return &haproxy.Process{Bin: f.haproxyBin, ConfigPath: f.haproxyConfig, MasterSocket: f.masterSocket,
				PIDFile: f.haproxyPID, Alias: haproxyAlias(f.stateDir), Netns: f.netns, Logger: log.With("process", "haproxy")}
		},
		OnReady: func(ctx context.Context, c reconciler.Child) error {
			argv0, err := c.(*haproxy.Process).MasterArgv0()
			if err != nil {
				return err
			}
			return a.TrackHAProxy(ctx, argv0)
		},
	}
}

// supervise starts s in g and waits until its first instance serves.
func supervise(ctx context.Context, g *errgroup.Group, a *reconciler.Agent, s reconciler.Supervised) error {
	up := make(chan error, 1)
	g.Go(func() error { return a.Supervise(ctx, s, up) })
	return <-up
}

// haproxyAlias is the path --supervise starts haproxy as.
func haproxyAlias(stateDir string) string {
	if abs, err := filepath.Abs(stateDir); err == nil {
		stateDir = abs
	}
	return filepath.Join(stateDir, "bin", "haproxy")
}

// reAbsPath is what the paths the agent renders into haproxy.cfg and
// keepalived.conf must look like.
var reAbsPath = regexp.MustCompile(desired.PatternAbsPath)

// checkRenderedPaths refuses, before anything starts, the flags whose
// values end up in a rendered config but would not render (spaces, quotes
// and the like): the renderer would refuse them at every reconcile.
func checkRenderedPaths(f agentFlags) error {
	if !reAbsPath.MatchString(f.adminSocket) {
		return cmdkit.UsageError{Err: fmt.Errorf("--admin-socket %q: want an absolute path of letters, digits, '_', '.', '-' and '/' (it is written into haproxy.cfg)", f.adminSocket)}
	}
	if f.crtBase != "" && !reAbsPath.MatchString(f.crtBase) {
		return cmdkit.UsageError{Err: fmt.Errorf("--crt-base %q: want an absolute path of letters, digits, '_', '.', '-' and '/' (it is written into haproxy.cfg)", f.crtBase)}
	}
	if f.supervise && f.keepalived {
		if err := render.CheckHAProxyArgv0(haproxyAlias(f.stateDir)); err != nil {
			return cmdkit.UsageError{Err: fmt.Errorf("--state-dir %q: the supervised haproxy runs as %s, which keepalived.conf names: %w", f.stateDir, haproxyAlias(f.stateDir), err)}
		}
	}
	return nil
}
