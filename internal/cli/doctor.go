package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ddc-gitops/ddc-gitops/doctor"
	"github.com/ddc-gitops/ddc-gitops/internal/agentcmd"
	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
)

// agentUnit is the unit doctor reads the agent's settings from.
const agentUnit = "/lib/systemd/system/ddc-gitops-agent.service"

func newDoctorCmd() *cobra.Command {
	var unit string
	var certDays int
	var minFreeMiB uint64
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "doctor [--host NAME] [agent flags]",
		Short: "Check this host against what the agent needs, with a fix for each problem",
		Long: `doctor checks an HAProxy host: haproxy's version (2.6 or newer) and master
socket, keepalived, net.ipv4.ip_nonlocal_bind, the certificates in crt-base
(readable, not expiring, keys 0600), clock synchronisation, the fleet
repository (reachable, credentials accepted, branch present) and free space
for the state directory. Each problem comes with its fix.

It takes the agent's settings from the installed unit (--unit: ExecStart and
its EnvironmentFile, /etc/default/ddc-gitops-agent); agent flags given on
the command line win. It exits 1 when a check fails (warnings do not).`,
		Args: cmdkit.ArgsRange(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			if err := applyUnitArgs(fl, unit); err != nil {
				return err
			}
			get := func(name string) string { v, _ := fl.GetString(name); return v }
			ka, _ := fl.GetBool("keepalived")
			host := get("host")
			if host == "" {
				host, _ = os.Hostname()
			}
			c := doctor.Config{
				Host: host, HAProxyBin: get("haproxy-bin"), MasterSocket: get("master-socket"),
				Keepalived: ka, KeepalivedBin: get("keepalived-bin"), KeepaliveP: get("keepalived-pid"),
				CrtBase: get("crt-base"), CertMinValid: time.Duration(certDays) * 24 * time.Hour,
				Repo: get("repo"), StateDir: get("state-dir"), MinFreeBytes: minFreeMiB << 20,
			}
			if c.Repo != "" {
				token, err := cmdkit.ReadSecret(get("git-token-file"), "DDC_GITOPS_GIT_TOKEN")
				if err != nil {
					return err
				}
				src := &source.Source{URL: c.Repo, Branch: get("branch"),
					Auth: source.Auth{Token: token, SSHKeyFile: get("ssh-key"), KnownHostsFile: get("known-hosts")}}
				c.RemoteHead = src.RemoteHead
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ddc-gitops doctor: host %s\n", host)
			rs := doctor.Run(cmd.Context(), c, timeout)
			doctor.Print(cmd.OutOrStdout(), rs)
			if doctor.Failed(rs) {
				return &cmdkit.ExitError{Code: cmdkit.ExitInvalid}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.AddFlagSet(agentcmd.New().Flags())
	fl.StringVar(&unit, "unit", agentUnit, "the agent's systemd unit to read settings from ('' for none)")
	fl.IntVar(&certDays, "cert-min-days", 21, "warn about certificates expiring within this many days")
	fl.Uint64Var(&minFreeMiB, "min-free-mib", 512, "free space the state directory needs, in MiB")
	fl.DurationVar(&timeout, "timeout", 10*time.Second, "time each check may take")
	return cmd
}

// applyUnitArgs sets the agent flags the unit passes (ExecStart= with its
// EnvironmentFile= expanded, as systemd does) that the command line did not.
// A missing unit is not an error: flags and defaults apply.
func applyUnitArgs(fl *pflag.FlagSet, unit string) error {
	if unit == "" {
		return nil
	}
	args, err := unitArgs(unit)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	uf := agentcmd.New().Flags()
	if err := uf.Parse(args); err != nil {
		return fmt.Errorf("%s: %w", unit, err)
	}
	var setErr error
	uf.Visit(func(f *pflag.Flag) {
		if !fl.Changed(f.Name) && setErr == nil {
			setErr = fl.Set(f.Name, f.Value.String())
		}
	})
	return setErr
}

// unitArgs is the agent's arguments in unit's ExecStart= (after
// ddc-gitops-agent, or after "agent" of ddc-gitops).
func unitArgs(unit string) ([]string, error) {
	b, err := os.ReadFile(unit)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	var exec string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if v, ok := strings.CutPrefix(l, "EnvironmentFile="); ok {
			v = strings.TrimPrefix(v, "-")
			if eb, err := os.ReadFile(filepath.Clean(v)); err == nil {
				for _, el := range strings.Split(string(eb), "\n") {
					if k, val, ok := strings.Cut(strings.TrimSpace(el), "="); ok && !strings.HasPrefix(k, "#") {
						env[k] = strings.Trim(val, `"'`)
					}
				}
			}
		}
		if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
			exec = v
		}
	}
	var args []string
	for _, f := range strings.Fields(exec) {
		if v, ok := strings.CutPrefix(f, "$"); ok {
			args = append(args, strings.Fields(env[strings.Trim(v, "{}")])...)
			continue
		}
		args = append(args, f)
	}
	if len(args) > 0 && filepath.Base(args[0]) == "ddc-gitops-agent" {
		return args[1:], nil
	}
	for i, a := range args {
		if a == "agent" {
			return args[i+1:], nil
		}
	}
	return nil, fmt.Errorf("%s: ExecStart runs neither `ddc-gitops-agent` nor `ddc-gitops agent`", unit)
}
