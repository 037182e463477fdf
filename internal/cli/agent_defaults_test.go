package cli

import (
	"fmt"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/internal/agentcmd"
	"github.com/ddc-gitops/ddc-gitops/reconciler"
	"github.com/ddc-gitops/ddc-gitops/reconciler/keepalived"
	"github.com/ddc-gitops/ddc-gitops/reconciler/trigger"
)

// TestAgentFlagDefaults checks that every agent flag with a default shows
// the one from reconciler.DefaultConfig (or the driver and trigger
// constants it points to), so --help, the flags and New agree.
func TestAgentFlagDefaults(t *testing.T) {
	def := reconciler.DefaultConfig()
	want := map[string]string{
		"state-dir":         def.StateDir,
		"haproxy-bin":       def.HAProxy.Bin,
		"haproxy-config":    def.HAProxy.ConfigPath,
		"master-socket":     def.HAProxy.MasterSocket,
		"admin-socket":      def.HAProxy.AdminSocket,
		"haproxy-pid":       def.HAProxy.PIDFile,
		"drift":             def.Drift,
		"reload-debounce":   def.ReloadDebounce.String(),
		"admit-timeout":     def.AdmitTimeout.String(),
		"drain-timeout":     def.DrainTimeout.String(),
		"drift-interval":    def.DriftInterval.String(),
		"poll":              trigger.DefaultPollInterval.String(),
		"poll-jitter":       fmt.Sprint(trigger.DefaultPollJitter),
		"keepalived-bin":    keepalived.DefaultBin,
		"keepalived-config": keepalived.DefaultConfigPath,
		"keepalived-pid":    keepalived.DefaultPIDFile,
	}
	fl := agentcmd.New().Flags()
	for name, w := range want {
		f := fl.Lookup(name)
		if f == nil {
			t.Errorf("no flag --%s", name)
			continue
		}
		if f.DefValue != w {
			t.Errorf("--%s defaults to %q, DefaultConfig says %q", name, f.DefValue, w)
		}
	}
}
