package pdns

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/render"
)

// Check validates a rendered zone with the real `pdnsutil check-zone`, in a
// scratch configuration directory with the bind backend, before the agent
// writes it. pdnsutil parses every record, but not the Lua of LUA records:
// the agent's verification after the reload (every record queried) catches
// a Lua error, and rolls back.
func Check(ctx context.Context, bin string, z *render.DNSZone) error {
	if bin == "" {
		bin = DefaultUtilBin
	}
	dir, err := os.MkdirTemp("", "ddc-pdns-check-")
	if err != nil {
		return fmt.Errorf("checking zone %s: %w", z.Zone, err)
	}
	defer os.RemoveAll(dir)
	zoneFile := filepath.Join(dir, ZoneFileName(z.Zone))
	named, err := render.BindConfig(z.Zone, zoneFile)
	if err != nil {
		return err
	}
	conf := "launch=bind\nbind-config=" + filepath.Join(dir, NamedConf) + "\nenable-lua-records=yes\nsocket-dir=" + dir + "\n"
	for name, data := range map[string][]byte{"pdns.conf": []byte(conf), NamedConf: named, filepath.Base(zoneFile): z.File} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("checking zone %s: %w", z.Zone, err)
		}
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--config-dir="+dir, "check-zone", strings.TrimSuffix(z.Zone, "."))
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	text := out.String()
	if err != nil || !strings.Contains(text, " 0 errors") {
		return fmt.Errorf("pdnsutil check-zone %s rejected the rendered zone: %v: %s", z.Zone, err, lastLines(text, 8))
	}
	return nil
}

// lastLines is the last n lines of s, for error messages.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
