package reconciler

import (
	"context"
	"fmt"
	"os"

	"github.com/ddc-gitops/ddc-gitops/reconciler/atomicfile"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/reconciler/keepalived"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// Bootstrap prepares the config files before the agent starts haproxy and
// keepalived itself (--supervise): it renders the head revision and writes
// haproxy.cfg and keepalived.conf after checking them, without reloading
// anything. When the head cannot be fetched or is invalid and a config is
// already on disk (or a last good one in the state directory), that one is
// kept, so a host restarts with what it ran before.
func (a *Agent) Bootstrap(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	h, err := a.renderHead(ctx)
	if err != nil {
		if a.restoreForBoot() {
			a.log.Warn("bootstrap: keeping the configuration on disk", "err", err)
			return nil
		}
		return fmt.Errorf("bootstrap: %w", err)
	}
	if err := haproxy.Check(ctx, a.cfg.HAProxy.Bin, a.cfg.HAProxy.ConfigPath, h.HAProxy); err != nil {
		if a.restoreForBoot() {
			a.log.Warn("bootstrap: haproxy rejects the head revision, keeping the configuration on disk", "err", err)
			return nil
		}
		return fmt.Errorf("bootstrap: %w", err)
	}
	if _, err := haproxy.WriteConfig(a.cfg.HAProxy.ConfigPath, h.HAProxy); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if k := a.cfg.Keepalived; k != nil {
		if err := keepalived.Check(ctx, k.Bin, h.Keepalived, k.Netns); err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
		if _, err := atomicfile.Write(k.ConfigPath, h.Keepalived, 0o644); err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
	}
	return nil
}

func (a *Agent) renderHead(ctx context.Context) (*render.Host, error) {
	snap, err := a.cfg.Source.Sync(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetching desired state: %w", err)
	}
	f, err := a.loads.Load(snap.FS)
	if err != nil {
		return nil, fmt.Errorf("revision %s is invalid: %w", short(snap.Revision.Hash), err)
	}
	if err := a.installSecrets(snap.Revision.Hash, snap.FS); err != nil {
		return nil, err
	}
	return render.Render(f, a.cfg.Host, a.cfg.Render)
}

// restoreForBoot makes sure some config is on disk: the current file, or
// the last good one from the state directory. It reports whether one is.
func (a *Agent) restoreForBoot() bool {
	path := a.cfg.HAProxy.ConfigPath
	if _, err := os.Stat(path); err == nil {
		return true
	}
	good, err := a.lastGood(lastGoodHAProxy)
	if err != nil || good == nil {
		return false
	}
	if _, err := haproxy.WriteConfig(path, good); err != nil {
		a.log.Error("restoring the last good haproxy.cfg", "err", err)
		return false
	}
	if k := a.cfg.Keepalived; k != nil {
		if kg, _ := a.lastGood(lastGoodKeepalive); kg != nil {
			_, _ = atomicfile.Write(k.ConfigPath, kg, 0o644)
		}
	}
	return true
}
