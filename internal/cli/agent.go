package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/ddc-gitops/ddc-gitops/reconciler"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/reconciler/keepalived"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
	"github.com/ddc-gitops/ddc-gitops/reconciler/trigger"
	"github.com/ddc-gitops/ddc-gitops/render"
)

type agentFlags struct {
	repo, branch, host, stateDir      string
	gitToken, sshKey, knownHosts      string
	haproxyBin, haproxyConfig         string
	masterSocket, adminSocket         string
	haproxyPID                        string
	keepalived                        bool
	kaBin, kaConfig, kaPID, netns     string
	crtBase                           string
	listen, syncTokenFile, secretFile string
	poll                              time.Duration
	pollJitter                        float64
	drift                             string
	debounce, admitTimeout            time.Duration
	drainTimeout                      time.Duration
	once, supervise                   bool
	watch                             string
	logFormat, logLevel               string
}

func newAgentCmd() *cobra.Command {
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
--supervise starts and watches haproxy (master-worker) and keepalived itself.
--once runs one reconcile and exits non-zero unless the host converged.`,
		Args: argsRange(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error { return runAgent(cmd.Context(), cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.repo, "repo", "", "fleet repository URL (https://, ssh://, file:// or a path)")
	fl.StringVar(&f.branch, "branch", "main", "branch to follow")
	fl.StringVar(&f.host, "host", "", "this host's name in the desired state (default: the hostname)")
	fl.StringVar(&f.stateDir, "state-dir", "/var/lib/ddc-gitops", "where the clone, the applied revision and the last good configs live")
	fl.StringVar(&f.gitToken, "git-token-file", "", "file holding an HTTPS access token for the repository")
	fl.StringVar(&f.sshKey, "ssh-key", "", "SSH private key for ssh:// repositories")
	fl.StringVar(&f.knownHosts, "known-hosts", "", "known_hosts file for ssh:// repositories (required with --ssh-key)")
	fl.StringVar(&f.haproxyBin, "haproxy-bin", "/usr/sbin/haproxy", "haproxy binary")
	fl.StringVar(&f.haproxyConfig, "haproxy-config", "/etc/haproxy/haproxy.cfg", "haproxy.cfg the agent manages")
	fl.StringVar(&f.masterSocket, "master-socket", "/run/haproxy-master.sock", "haproxy master CLI socket (-S)")
	fl.StringVar(&f.adminSocket, "admin-socket", "/run/haproxy/admin.sock", "haproxy runtime API socket (rendered into haproxy.cfg)")
	fl.StringVar(&f.haproxyPID, "haproxy-pid", "/run/haproxy.pid", "haproxy master's pid file (--supervise: a master left by a killed agent is adopted, not duplicated)")
	fl.BoolVar(&f.keepalived, "keepalived", true, "manage keepalived.conf")
	fl.StringVar(&f.kaBin, "keepalived-bin", keepalived.DefaultBin, "keepalived binary")
	fl.StringVar(&f.kaConfig, "keepalived-config", keepalived.DefaultConfigPath, "keepalived.conf the agent manages")
	fl.StringVar(&f.kaPID, "keepalived-pid", keepalived.DefaultPIDFile, "keepalived's pid file")
	fl.StringVar(&f.netns, "netns", "", "network namespace keepalived runs in (--supervise)")
	fl.StringVar(&f.crtBase, "crt-base", "", "directory of the certificates on this host (overrides haproxy.crtBase)")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:9100", "address of the agent's HTTP API (/v1/status, /v1/sync, /metrics); empty disables it")
	fl.StringVar(&f.syncTokenFile, "sync-token-file", "", "file holding the bearer token POST /v1/sync requires (or $DDC_GITOPS_SYNC_TOKEN)")
	fl.StringVar(&f.secretFile, "webhook-secret-file", "", "file holding a webhook secret: POST /v1/sync also accepts X-Hub-Signature-256 (or $DDC_GITOPS_WEBHOOK_SECRET)")
	fl.DurationVar(&f.poll, "poll", 15*time.Second, "poll interval (the backstop to webhooks)")
	fl.Float64Var(&f.pollJitter, "poll-jitter", 0.2, "relative jitter of the poll interval")
	fl.StringVar(&f.drift, "drift", reconciler.DriftCorrect, "what to do with changes made by hand: correct or warn")
	fl.DurationVar(&f.debounce, "reload-debounce", 2*time.Second, "least time between two haproxy reloads; changes meanwhile are applied together")
	fl.DurationVar(&f.admitTimeout, "admit-timeout", 10*time.Second, "how long a new server may take to pass its first health check before it is held out")
	fl.DurationVar(&f.drainTimeout, "drain-timeout", 30*time.Second, "how long a removed server drains before its sessions are shut down")
	fl.BoolVar(&f.once, "once", false, "run one reconcile and exit: 0 when the host converged, 1 otherwise")
	fl.BoolVar(&f.supervise, "supervise", false, "start and watch haproxy and keepalived (hosts without systemd, the lab)")
	fl.StringVar(&f.watch, "watch", "", "dev mode: follow this working directory instead of a git repository")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

func newLogger(w *os.File, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level: %w", err)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format must be text or json, got %q", format)}
}

func readSecret(file, env string) (string, error) {
	if file == "" {
		return os.Getenv(env), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", file, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func runAgent(ctx context.Context, cmd *cobra.Command, f agentFlags) error {
	log, err := newLogger(os.Stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	if (f.repo == "") == (f.watch == "") {
		return usageError{errors.New("give exactly one of --repo URL and --watch DIR")}
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
		token, err := readSecret(f.gitToken, "DDC_GITOPS_GIT_TOKEN")
		if err != nil {
			return err
		}
		fetcher = &source.Source{URL: f.repo, Branch: f.branch, Dir: filepath.Join(f.stateDir, "source"), Logger: log,
			Auth: source.Auth{Token: token, SSHKeyFile: f.sshKey, KnownHostsFile: f.knownHosts}}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg := reconciler.Config{
		Host:     f.host,
		Source:   fetcher,
		StateDir: f.stateDir,
		Render:   render.Options{CrtBase: f.crtBase},
		HAProxy: reconciler.HAProxyPaths{Bin: f.haproxyBin, ConfigPath: f.haproxyConfig,
			MasterSocket: f.masterSocket, AdminSocket: f.adminSocket},
		Drift:          f.drift,
		ReloadDebounce: f.debounce,
		AdmitTimeout:   f.admitTimeout,
		DrainTimeout:   f.drainTimeout,
		Logger:         log,
		Registry:       reg,
	}
	var kaProc *keepalived.Process
	if f.keepalived {
		kaProc = &keepalived.Process{Bin: f.kaBin, ConfigPath: f.kaConfig, PIDFile: f.kaPID, Netns: f.netns, Logger: log.With("process", "keepalived")}
		cfg.Keepalived = kaProc.Driver()
	}
	a, err := reconciler.New(cfg)
	if err != nil {
		return err
	}

	if f.once && f.supervise {
		return usageError{errors.New("--once and --supervise do not go together: --once reconciles a host whose processes run already")}
	}
	if f.once {
		out := a.Reconcile(ctx)
		fmt.Fprintf(cmd.OutOrStdout(), "%s: %s at %s\n", f.host, out.Result, out.Revision)
		if !out.Converged {
			if out.Err != nil {
				return &exitError{code: ExitInvalid, err: out.Err}
			}
			return &exitError{code: ExitInvalid, err: errors.New("the host did not converge")}
		}
		return nil
	}

	g, ctx := errgroup.WithContext(ctx)
	if f.supervise {
		if err := a.Bootstrap(ctx); err != nil {
			return err
		}
		hp := &haproxy.Process{Bin: f.haproxyBin, ConfigPath: f.haproxyConfig, MasterSocket: f.masterSocket,
			PIDFile: f.haproxyPID, Logger: log.With("process", "haproxy")}
		g.Go(func() error { return hp.Run(ctx) })
		if kaProc != nil {
			g.Go(func() error { return kaProc.Run(ctx) })
		}
		readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := hp.Ready(readyCtx)
		cancel()
		if err != nil {
			return fmt.Errorf("starting haproxy: %w", err)
		}
	}
	if f.listen != "" {
		token, err := readSecret(f.syncTokenFile, "DDC_GITOPS_SYNC_TOKEN")
		if err != nil {
			return err
		}
		secret, err := readSecret(f.secretFile, "DDC_GITOPS_WEBHOOK_SECRET")
		if err != nil {
			return err
		}
		h, err := a.Handler(trigger.HTTPAuth{Token: token, Secret: secret}, reg)
		if err != nil {
			return fmt.Errorf("agent API on %s: %w (set --sync-token-file or --webhook-secret-file, or --listen '')", f.listen, err)
		}
		if err := serve(ctx, g, f.listen, h); err != nil {
			return fmt.Errorf("agent API: %w", err)
		}
		log.Info("agent API listening", "addr", f.listen)
	}
	tr := a.Trigger()
	g.Go(func() error { return tr.Poll(ctx, f.poll, f.pollJitter) })
	tr.Signals(ctx, syscall.SIGHUP)
	if f.watch != "" {
		g.Go(func() error { return tr.Watch(ctx, f.watch, 200*time.Millisecond) })
	}
	g.Go(func() error { return a.Run(ctx) })
	log.Info("agent started", "host", f.host, "repo", f.repo, "watch", f.watch, "branch", f.branch)
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
