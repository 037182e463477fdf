package agentcmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
	"github.com/ddc-gitops/ddc-gitops/reconciler"
	"github.com/ddc-gitops/ddc-gitops/reconciler/pdns"
	"github.com/ddc-gitops/ddc-gitops/reconciler/trigger"
)

// dnsFlags configure the agent's DNS role (a host in dns.nameservers).
type dnsFlags struct {
	configDir      string
	serverBin      string
	controlBin     string
	utilBin        string
	query          string
	port           int
	healthInterval time.Duration
}

func addDNSFlags(fl *pflag.FlagSet, f *dnsFlags) {
	fl.StringVar(&f.configDir, "pdns-config-dir", "/etc/powerdns", "DNS hosts: PowerDNS configuration directory (named.conf and the zone file are written there; pdns_control --config-dir)")
	fl.StringVar(&f.serverBin, "pdns-server-bin", pdns.DefaultServerBin, "DNS hosts: pdns_server binary (--supervise)")
	fl.StringVar(&f.controlBin, "pdns-control-bin", pdns.DefaultControlBin, "DNS hosts: pdns_control binary")
	fl.StringVar(&f.utilBin, "pdnsutil-bin", pdns.DefaultUtilBin, "DNS hosts: pdnsutil binary (check-zone)")
	fl.StringVar(&f.query, "pdns-query", "", "DNS hosts: address (host:port) the agent verifies answers through (default: the nameserver's address from git, port --pdns-port)")
	fl.IntVar(&f.port, "pdns-port", 53, "DNS hosts: port PowerDNS answers on")
	fl.DurationVar(&f.healthInterval, "pdns-health-interval", 5*time.Second, "DNS hosts with --supervise: how often PowerDNS health-checks the VIPs (lua-health-checks-interval, whole seconds)")
}

// nameserverRole returns the host's dns.nameservers entry at the head of
// the branch, or nil when the host has no DNS role there. It decodes
// without validating, so an invalid head still tells the role (the role's
// reconcile then reports the revision stalled).
func nameserverRole(ctx context.Context, src reconciler.Fetcher, host string) (*desired.Nameserver, error) {
	snap, err := src.Sync(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetching the desired state to find this host's role: %w", err)
	}
	f, _ := desired.Decode(snap.FS)
	if f == nil {
		return nil, nil
	}
	return f.Nameserver(host), nil
}

// runDNSAgent is the agent on a DNS host: it reconciles PowerDNS and, with
// --supervise, runs pdns_server itself (the agent exits when it does; its
// service manager restarts both).
func runDNSAgent(ctx context.Context, cmd *cobra.Command, f agentFlags, src reconciler.Fetcher, ns *desired.Nameserver, log *slog.Logger) error {
	d := f.dns
	configDir, err := filepath.Abs(d.configDir)
	if err != nil {
		return cmdkit.UsageError{Err: fmt.Errorf("--pdns-config-dir: %w", err)}
	}
	query := d.query
	if query == "" {
		query = net.JoinHostPort(ns.Address, strconv.Itoa(d.port))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a, err := pdns.New(pdns.Config{Host: f.host, Source: src, StateDir: f.stateDir, ConfigDir: configDir,
		UtilBin: d.utilBin, ControlBin: d.controlBin, Query: query, Drift: f.drift, Logger: log, Registry: reg})
	if err != nil {
		return err
	}
	if f.once {
		if f.supervise {
			return cmdkit.UsageError{Err: errors.New("--once and --supervise do not go together")}
		}
		out := a.Reconcile(ctx)
		fmt.Fprintf(cmd.OutOrStdout(), "%s: dns %s at %s (serial %d)\n", f.host, out.Result, out.Revision, out.Serial)
		if !out.Converged {
			if out.Err != nil {
				return &cmdkit.ExitError{Code: cmdkit.ExitInvalid, Err: out.Err}
			}
			return &cmdkit.ExitError{Code: cmdkit.ExitInvalid, Err: errors.New("the DNS host did not converge")}
		}
		return nil
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	fail := func(err error) error {
		cancel()
		_ = g.Wait()
		return err
	}
	if f.supervise {
		sc := pdns.ServerConfig{Dir: configDir, Address: ns.Address, Port: d.port, HealthInterval: d.healthInterval}
		if err := sc.Write(); err != nil {
			return err
		}
		p := &pdns.Process{Bin: d.serverBin, ControlBin: d.controlBin, ConfigDir: configDir, Netns: f.netns, Logger: log}
		g.Go(func() error { return p.Run(ctx) })
		rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
		err := p.Ready(rctx)
		rcancel()
		if err != nil {
			return fail(err)
		}
		log.Info("pdns_server serving", "addr", net.JoinHostPort(ns.Address, strconv.Itoa(d.port)), "config-dir", configDir)
	}
	if f.listen != "" {
		token, err := cmdkit.ReadSecret(f.syncTokenFile, "DDC_GITOPS_SYNC_TOKEN")
		if err != nil {
			return fail(err)
		}
		secret, err := cmdkit.ReadSecret(f.secretFile, "DDC_GITOPS_WEBHOOK_SECRET")
		if err != nil {
			return fail(err)
		}
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
		g.Go(func() error { return tr.Watch(ctx, f.watch, 200*time.Millisecond) })
	}
	g.Go(func() error { return a.Run(ctx) })
	log.Info("agent started", "role", "dns", "host", f.host, "zone-query", query, "repo", f.repo, "watch", f.watch, "branch", f.branch)
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
