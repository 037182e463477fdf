// Package cmdkit is what every ddc-gitops command line shares: the version,
// the exit codes and the errors that carry them, the root command's
// settings, logging, secrets read from files and the HTTP listener. The
// ddc-gitops binary (internal/cli) and the lean per-host agent binary
// (cmd/ddc-gitops-agent, internal/agentcmd) both build on it, so they
// behave alike.
package cmdkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// Version is the program's version, reported by --version and the API's
// /health.
const Version = "0.1.0"

// Exit codes.
const (
	ExitOK      = 0
	ExitInvalid = 1 // the input is invalid or the command failed
	ExitUsage   = 2 // wrong flags or arguments
)

// ExitError carries an exit code through cobra. Its message, when not
// empty, has already been formatted for the user.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// UsageError is a wrong flag or argument: the exit code is ExitUsage.
type UsageError struct{ Err error }

func (u UsageError) Error() string { return u.Err.Error() }

func (u UsageError) Unwrap() error { return u.Err }

// IsUsage reports whether err is (or wraps) a UsageError.
func IsUsage(err error) bool {
	var u UsageError
	return errors.As(err, &u)
}

// ArgsRange is cobra.RangeArgs that reports a usage error.
func ArgsRange(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.RangeArgs(min, max)(cmd, args); err != nil {
			return UsageError{err}
		}
		return nil
	}
}

// SetUpRoot gives a root command the settings every ddc-gitops command
// line has: --version, output to stdout and stderr, errors printed by Run
// only, flag errors as usage errors.
func SetUpRoot(root *cobra.Command, stdout, stderr io.Writer) {
	root.Version = Version
	root.SilenceUsage = true
	root.SilenceErrors = true
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return UsageError{err} })
}

// Run executes root with args and returns the process exit code, printing
// the error, if any, to stderr.
func Run(ctx context.Context, root *cobra.Command, args []string, stderr io.Writer) int {
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(stderr, "error:", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(stderr, "error:", err)
	if IsUsage(err) {
		return ExitUsage
	}
	return ExitInvalid
}

// LogFormatUsage is the help of every --log-format flag (NewLogger).
const LogFormatUsage = "log format: text, json, or auto (text on a terminal, json otherwise)"

// NewLogger is the logger of --log-format and --log-level, writing to w.
func NewLogger(w *os.File, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, UsageError{fmt.Errorf("--log-level: %w", err)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "auto" {
		format = "json"
		if IsTerminal(w) {
			format = "text"
		}
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, UsageError{fmt.Errorf("--log-format must be auto, text or json, got %q", format)}
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// ReadSecret returns the contents of file, trimmed, or without a file the
// environment variable env.
func ReadSecret(file, env string) (string, error) {
	if file == "" {
		return os.Getenv(env), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", file, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Serve listens on addr and serves h in g until ctx ends, then shuts the
// server down (at most 5 s for requests in flight).
func Serve(ctx context.Context, g *errgroup.Group, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return nil
}
