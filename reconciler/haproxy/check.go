package haproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/reconciler/atomicfile"
)

// ErrInvalidConfig is matched by the error Check returns when haproxy
// rejected the configuration (as opposed to failing to run it).
var ErrInvalidConfig = errors.New("haproxy rejected the configuration")

// CheckError is a configuration `haproxy -c` rejected.
type CheckError struct {
	// ConfigPath is the file the configuration is meant for.
	ConfigPath string
	// Output is haproxy's combined output, with the temp file's name
	// replaced by ConfigPath so that "[haproxy.cfg:12]" points at the
	// right line of the intended file.
	Output string
	// ExitCode is haproxy's exit status.
	ExitCode int
}

// Error includes haproxy's output.
func (e *CheckError) Error() string {
	return fmt.Sprintf("haproxy -c rejected the configuration for %s (exit %d):\n%s", e.ConfigPath, e.ExitCode, strings.TrimSpace(e.Output))
}

// Unwrap returns ErrInvalidConfig.
func (e *CheckError) Unwrap() error { return ErrInvalidConfig }

// Check runs `haproxy -c -f TEMPFILE` on exactly cfg. The temp file lives in
// configPath's directory, so that a config using `default-path config`
// resolves relative paths the same way as the real file; haproxy runs in the
// caller's working directory, as a Process with an empty Dir does. A
// rejected config yields a *CheckError (errors.Is ErrInvalidConfig) holding
// haproxy's output.
func Check(ctx context.Context, haproxyBin, configPath string, cfg []byte) error {
	if haproxyBin == "" {
		haproxyBin = "haproxy"
	}
	dir := filepath.Dir(configPath)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(configPath)+".check-*")
	if err != nil {
		return fmt.Errorf("checking config for %s: %w", configPath, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(cfg); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("checking config for %s: writing %s: %w", configPath, tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("checking config for %s: closing %s: %w", configPath, tmp.Name(), err)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, haproxyBin, "-c", "-f", tmp.Name())
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return &CheckError{
			ConfigPath: configPath,
			Output:     strings.ReplaceAll(out.String(), tmp.Name(), configPath),
			ExitCode:   ee.ExitCode(),
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("checking config for %s: %w", configPath, ctx.Err())
	}
	return fmt.Errorf("checking config for %s: running %s: %w", configPath, haproxyBin, err)
}

// WriteConfig replaces the config at path with cfg atomically (a no-op when
// the bytes are equal) and reports whether it changed. A new file gets mode
// 0640.
func WriteConfig(path string, cfg []byte) (changed bool, err error) {
	changed, err = atomicfile.Write(path, cfg, 0o640)
	if err != nil {
		return false, fmt.Errorf("writing haproxy config: %w", err)
	}
	return changed, nil
}
