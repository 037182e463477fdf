package pdns

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Control runs pdns_control against the server whose configuration
// directory (and control socket) is ConfigDir.
type Control struct {
	Bin       string // default DefaultControlBin
	ConfigDir string
}

func (c Control) run(ctx context.Context, args ...string) (string, error) {
	bin := c.Bin
	if bin == "" {
		bin = DefaultControlBin
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append([]string{"--config-dir=" + c.ConfigDir}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("pdns_control %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// Rediscover makes the bind backend read named.conf again (a zone added or
// its file moved).
func (c Control) Rediscover(ctx context.Context) error {
	_, err := c.run(ctx, "rediscover")
	return err
}

// ReloadZone re-reads one zone's file now and drops its cached answers.
func (c Control) ReloadZone(ctx context.Context, zone string) error {
	name := strings.TrimSuffix(zone, ".")
	out, err := c.run(ctx, "bind-reload-now", name)
	if err != nil {
		return err
	}
	if strings.Contains(out, "error") || strings.Contains(out, "not found") {
		return fmt.Errorf("pdns_control bind-reload-now %s: %s", name, strings.TrimSpace(out))
	}
	if _, err := c.run(ctx, "purge", name+"$"); err != nil {
		return err
	}
	return nil
}
