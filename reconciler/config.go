package reconciler

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// Defaults of the agent's settings that have no home in a driver. The
// paths and timeouts of haproxy and keepalived are the drivers' own
// (haproxy.Default*, keepalived.Default*, desired.DefaultAdminSocket).
const (
	DefaultStateDir       = "/var/lib/ddc-gitops"
	DefaultReloadDebounce = 2 * time.Second
	DefaultAdmitTimeout   = 10 * time.Second
	DefaultDrainTimeout   = 30 * time.Second
	DefaultDriftInterval  = 30 * time.Second
	DefaultRetryMin       = time.Second
	DefaultRetryMax       = time.Minute
	DefaultRestartMin     = time.Second
	DefaultRestartMax     = 30 * time.Second
)

// DefaultConfig is the agent's configuration before anything overrides it:
// the one place its defaults live. The CLI registers each flag with the
// value found here and writes what the user gave over it; New fills every
// field left zero from it (finalize), so a Config built in code gets the
// same defaults as the command line. Host, Source and StateDir are
// required of a Config (StateDir's default is the flag's); Keepalived,
// Logger, Registry and Now have no default here (Keepalived nil: not
// managed; Logger: discard; Now: time.Now).
func DefaultConfig() Config {
	return Config{
		StateDir: DefaultStateDir,
		HAProxy: HAProxyPaths{
			Bin:          haproxy.DefaultBin,
			ConfigPath:   haproxy.DefaultConfigPath,
			MasterSocket: haproxy.DefaultMasterSocket,
			AdminSocket:  desired.DefaultAdminSocket,
			PIDFile:      haproxy.DefaultPIDFile,
		},
		Drift:          DriftCorrect,
		DriftInterval:  DefaultDriftInterval,
		ReloadDebounce: DefaultReloadDebounce,
		AdmitTimeout:   DefaultAdmitTimeout,
		DrainTimeout:   DefaultDrainTimeout,
		RetryMin:       DefaultRetryMin,
		RetryMax:       DefaultRetryMax,
		RestartMin:     DefaultRestartMin,
		RestartMax:     DefaultRestartMax,
	}
}

// finalize fills the zero fields of c from DefaultConfig and checks it,
// collecting every problem.
func (c *Config) finalize() error {
	d := DefaultConfig()
	setStr := func(p *string, def string) {
		if *p == "" {
			*p = def
		}
	}
	setDur := func(p *time.Duration, def time.Duration) {
		if *p <= 0 {
			*p = def
		}
	}
	setStr(&c.HAProxy.Bin, d.HAProxy.Bin)
	setStr(&c.HAProxy.ConfigPath, d.HAProxy.ConfigPath)
	setStr(&c.HAProxy.MasterSocket, d.HAProxy.MasterSocket)
	setStr(&c.HAProxy.AdminSocket, d.HAProxy.AdminSocket)
	setStr(&c.HAProxy.PIDFile, d.HAProxy.PIDFile)
	// The runtime API socket the agent talks to is the one it renders.
	setStr(&c.Render.AdminSocket, c.HAProxy.AdminSocket)
	setStr(&c.Drift, d.Drift)
	if c.DriftInterval == 0 {
		c.DriftInterval = d.DriftInterval
	}
	setDur(&c.ReloadDebounce, d.ReloadDebounce)
	setDur(&c.AdmitTimeout, d.AdmitTimeout)
	setDur(&c.DrainTimeout, d.DrainTimeout)
	setDur(&c.RetryMin, d.RetryMin)
	setDur(&c.RetryMax, d.RetryMax)
	setDur(&c.RestartMin, d.RestartMin)
	setDur(&c.RestartMax, d.RestartMax)
	c.RestartMax = max(c.RestartMax, c.RestartMin)
	c.RetryMax = max(c.RetryMax, c.RetryMin)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}

	var errs []error
	if c.Host == "" {
		errs = append(errs, errors.New("no host name"))
	}
	if c.Source == nil {
		errs = append(errs, errors.New("no source"))
	}
	if c.StateDir == "" {
		errs = append(errs, errors.New("no state directory"))
	}
	if c.Drift != DriftCorrect && c.Drift != DriftWarn {
		errs = append(errs, fmt.Errorf("drift mode %q: want %s or %s", c.Drift, DriftCorrect, DriftWarn))
	}
	if err := render.CheckHAProxyArgv0(c.Render.HAProxyArgv0); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	return nil
}
