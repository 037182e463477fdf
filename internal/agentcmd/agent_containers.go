package agentcmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
	"github.com/ddc-gitops/ddc-gitops/reconciler"
	"github.com/ddc-gitops/ddc-gitops/reconciler/docker"
	"github.com/ddc-gitops/ddc-gitops/reconciler/trigger"
)

func addContainerFlags(fl *pflag.FlagSet, f *agentFlags) {
	fl.StringVar(&f.docker, "docker", "", "Docker engine of this host (e.g. unix:///run/docker.sock): when the zone file lists --host under containers.hosts, the agent runs its containers/*.yaml")
	fl.StringVar(&f.dockerNetwork, "docker-network", docker.NetworkMacvlan, "how containers join the zone network: macvlan (on the host's interface from the zone file) or none")
	fl.DurationVar(&f.dockerResync, "docker-resync", 10*time.Second, "container role: full pass interval (engine events trigger one at once)")
	fl.DurationVar(&f.dockerDrain, "docker-drain-delay", 3*time.Second, "container role: how long a serving container keeps running after it left git, while the HAProxy hosts take its server out")
}

// containerRole decides the agent's role from the host's place in the
// desired state at the branch head: with --docker, a host listed under a
// zone's containers.hosts runs the container role (so does a host whose
// first revision cannot be read: the container role reports it and keeps
// trying); every other host runs the HAProxy role.
func containerRole(ctx context.Context, f agentFlags, src reconciler.Fetcher, log *slog.Logger) (bool, error) {
	if f.docker == "" {
		return false, nil
	}
	snap, err := src.Sync(ctx)
	if err != nil {
		log.Warn("reading the desired state to find this host's role; starting the container role (--docker)", "err", err)
		return true, nil
	}
	fl, err := desired.Load(snap.FS)
	if err != nil {
		log.Warn("the desired state at the head is invalid; starting the container role (--docker)", "err", err)
		return true, nil
	}
	if z, _ := fl.ContainerHost(f.host); z != nil {
		return true, nil
	}
	if z, _ := fl.Host(f.host); z != nil {
		log.Info("host is an HAProxy host: --docker is not used", "host", f.host)
		return false, nil
	}
	return false, cmdkit.UsageError{Err: fmt.Errorf("host %q is neither an HAProxy host nor a container host in the desired state", f.host)}
}

// runContainerAgent runs the container role until ctx ends.
func runContainerAgent(ctx context.Context, cmd *cobra.Command, f agentFlags, src reconciler.Fetcher, reg *prometheus.Registry, log *slog.Logger) error {
	if f.supervise {
		return cmdkit.UsageError{Err: errors.New("--supervise is for HAProxy hosts; a container host's engine runs under its own service")}
	}
	eng, err := docker.Dial(f.docker)
	if err != nil {
		return err
	}
	defer eng.Close()
	a, err := docker.NewAgent(docker.AgentConfig{
		Reconciler: docker.ReconcilerConfig{Engine: eng, Host: f.host, Networking: f.dockerNetwork, Drift: f.drift, DrainDelay: f.dockerDrain},
		Source:     src, Resync: f.dockerResync, Registry: reg, Logger: log.With("role", "containers"),
	})
	if err != nil {
		return cmdkit.UsageError{Err: err}
	}
	if f.once {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		res := a.Reconcile(ctx)
		fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", f.host, a.Status().LastResult)
		if !res.Converged() {
			if res.Err != nil {
				return &cmdkit.ExitError{Code: cmdkit.ExitInvalid, Err: res.Err}
			}
			return &cmdkit.ExitError{Code: cmdkit.ExitInvalid, Err: errors.New("the containers did not converge")}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	if f.listen != "" {
		token, err := cmdkit.ReadSecret(f.syncTokenFile, "DDC_GITOPS_SYNC_TOKEN")
		if err != nil {
			return err
		}
		secret, err := cmdkit.ReadSecret(f.secretFile, "DDC_GITOPS_WEBHOOK_SECRET")
		if err != nil {
			return err
		}
		h, err := a.Handler(trigger.HTTPAuth{Token: token, Secret: secret}, reg)
		if err != nil {
			return fmt.Errorf("agent API on %s: %w (set --sync-token-file or --webhook-secret-file, or --listen '')", f.listen, err)
		}
		if err := cmdkit.Serve(ctx, g, f.listen, h); err != nil {
			return fmt.Errorf("agent API: %w", err)
		}
	}
	tr := a.Trigger()
	g.Go(func() error { return tr.Poll(ctx, f.poll, f.pollJitter) })
	tr.Signals(ctx, syscall.SIGHUP)
	if f.watch != "" {
		g.Go(func() error { return tr.Watch(ctx, f.watch, 200*time.Millisecond) })
	}
	g.Go(func() error { return a.Run(ctx) })
	log.Info("agent started in the container role", "host", f.host, "docker", f.docker, "pid", os.Getpid())
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
