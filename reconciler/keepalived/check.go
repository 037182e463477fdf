// Package keepalived drives keepalived 2.2: it validates a keepalived.conf
// with `keepalived -t`, installs it atomically and reloads the daemon with
// SIGHUP, confirming that the daemon survived the reload (and restoring the
// previous file when it did not). Process runs keepalived in the foreground
// for the agent's --supervise mode, the lab and tests; State tells whether a
// host currently holds a VIP.
//
// keepalived runs in a network namespace through its own `-s NAME` option
// rather than `ip netns exec`: keepalived then opens its process-event
// netlink socket in the initial namespace, which vrrp_track_process needs
// (inside another namespace that socket is refused and every tracked process
// looks dead).
package keepalived

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/ddc-gitops/ddc-gitops/internal/netns"
)

// Defaults match Debian's keepalived package.
const (
	DefaultBin        = "keepalived"
	DefaultConfigPath = "/etc/keepalived/keepalived.conf"
	DefaultPIDFile    = "/run/keepalived.pid"
)

// checkTimeout bounds `keepalived -t` when ctx has no deadline.
const checkTimeout = 30 * time.Second

// CheckError is a configuration keepalived rejected. The agent treats it as
// final for this input: retrying the same bytes cannot succeed.
type CheckError struct {
	// Output is what `keepalived -t` printed.
	Output string
	Err    error
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("keepalived rejected the configuration (%v): %s", e.Err, e.Output)
}

func (e *CheckError) Unwrap() error { return e.Err }

// Check validates conf with `keepalived -t -f FILE` on a temp file holding
// exactly conf, inside network namespace netnsName when it is not empty
// (keepalived -t fails when an interface of the config does not exist
// there). keepalived 2.2.7 exits non-zero on warnings as well as errors, so
// a config that keepalived would silently "fix" (e.g. advert_int 0.5 with
// VRRPv2, rounded to 1) is rejected too. The error is a *CheckError
// carrying keepalived's output when keepalived rejected the config.
func Check(ctx context.Context, bin string, conf []byte, netnsName string) error {
	return check(ctx, bin, os.TempDir(), conf, netnsName)
}

// check is Check with the temp file in dir (next to the target config, so
// relative include paths resolve as they will in the real file).
func check(ctx context.Context, bin, dir string, conf []byte, ns string) error {
	if bin == "" {
		bin = DefaultBin
	}
	if ns != "" && !netns.Exists(ns) {
		return fmt.Errorf("checking keepalived config: network namespace %q does not exist", ns)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, checkTimeout)
		defer cancel()
	}
	f, err := os.CreateTemp(dir, ".keepalived.conf.check-*")
	if err != nil {
		return fmt.Errorf("creating temp file to check keepalived config: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(conf); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", f.Name(), err)
	}
	args := []string{"-t", "-f", f.Name()}
	if ns != "" {
		args = append(args, "-s", ns)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("checking keepalived config: %w", ctx.Err())
	case errors.As(err, &exit):
		return &CheckError{Output: strings.TrimSpace(out.String()), Err: err}
	default:
		return fmt.Errorf("running %s -t: %w", bin, err)
	}
}
