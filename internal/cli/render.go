package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
	"github.com/ddc-gitops/ddc-gitops/reconciler/atomicfile"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// Names of the rendered files.
const (
	HAProxyFile    = "haproxy.cfg"
	KeepalivedFile = "keepalived.conf"
)

func newRenderCmd() *cobra.Command {
	var host, out, crtBase, only string
	cmd := &cobra.Command{
		Use:   "render [--host NAME] [--out DIR] [FLEET]",
		Short: "Write the haproxy.cfg and keepalived.conf a host must run",
		Long: `render validates the fleet (default: the current directory) and renders the
exact haproxy.cfg and keepalived.conf for one host (--host), to stdout or into
--out DIR; without --host it renders every host into DIR/<host>/.

A relative haproxy.crtBase in fleet.yaml is resolved against the fleet
directory, so the example fleet's shipped test certificate is found from any
working directory; --crt-base overrides it.`,
		Args: cmdkit.ArgsRange(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			arg := "."
			if len(args) == 1 {
				arg = args[0]
			}
			if host == "" && out == "" {
				return cmdkit.UsageError{Err: fmt.Errorf("rendering every host needs --out DIR (or name one with --host)")}
			}
			if only != "" && only != HAProxyFile && only != KeepalivedFile {
				return cmdkit.UsageError{Err: fmt.Errorf("--only must be %s or %s", HAProxyFile, KeepalivedFile)}
			}
			src, err := openFleet(cmd.Context(), arg)
			if err != nil {
				return err
			}
			f, errs := src.load()
			if len(errs) > 0 {
				for _, e := range errs {
					fmt.Fprintln(cmd.ErrOrStderr(), e.Error())
				}
				return &cmdkit.ExitError{Code: ExitInvalid, Err: fmt.Errorf("%s is invalid: %d error(s); nothing rendered", arg, len(errs))}
			}
			opts := render.Options{FleetDir: src.dir}
			if crtBase != "" {
				abs, err := filepath.Abs(crtBase)
				if err != nil {
					return fmt.Errorf("resolving --crt-base: %w", err)
				}
				opts.CrtBase = abs
			}
			hosts, err := renderHosts(f, host, opts)
			if err != nil {
				return err
			}
			if out == "" {
				h := hosts[0]
				w := cmd.OutOrStdout()
				if only != KeepalivedFile {
					if only == "" {
						fmt.Fprintf(w, "# ==== %s for host %s ====\n", HAProxyFile, h.Name)
					}
					w.Write(h.HAProxy)
				}
				if only != HAProxyFile {
					if only == "" {
						fmt.Fprintf(w, "# ==== %s for host %s ====\n", KeepalivedFile, h.Name)
					}
					w.Write(h.Keepalived)
				}
				return nil
			}
			for _, h := range hosts {
				dir := out
				if host == "" {
					dir = filepath.Join(out, h.Name)
				}
				if err := writeHost(dir, h, only); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: wrote %s\n", h.Name, dir)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&host, "host", "", "render only this host (default: every host, into --out DIR/<host>/)")
	cmd.Flags().StringVar(&out, "out", "", "directory to write into (default: stdout, with --host)")
	cmd.Flags().StringVar(&crtBase, "crt-base", "", "directory the certificates are read from on the host (overrides haproxy.crtBase)")
	cmd.Flags().StringVar(&only, "only", "", "write only "+HAProxyFile+" or "+KeepalivedFile)
	return cmd
}

func renderHosts(f *desired.Fleet, host string, opts render.Options) ([]*render.Host, error) {
	if host == "" {
		hosts, err := render.RenderAll(f, opts)
		if err != nil {
			return nil, fmt.Errorf("rendering: %w", err)
		}
		return hosts, nil
	}
	h, err := render.Render(f, host, opts)
	if err != nil {
		return nil, fmt.Errorf("rendering host %s: %w", host, err)
	}
	return []*render.Host{h}, nil
}

func writeHost(dir string, h *render.Host, only string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if only != KeepalivedFile {
		if _, err := atomicfile.Write(filepath.Join(dir, HAProxyFile), h.HAProxy, 0o644); err != nil {
			return err
		}
	}
	if only != HAProxyFile {
		if _, err := atomicfile.Write(filepath.Join(dir, KeepalivedFile), h.Keepalived, 0o644); err != nil {
			return err
		}
	}
	return nil
}
