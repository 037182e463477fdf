package reconciler

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckLogTargetWarnsOnce: a missing syslog socket is reported once
// per target; present sockets, none and stderr are not reported.
func TestCheckLogTargetWarnsOnce(t *testing.T) {
	var buf bytes.Buffer
	a := &Agent{log: slog.New(slog.NewTextHandler(&buf, nil))}
	present := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(present, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "no-syslog-here")
	for _, target := range []string{missing, missing, missing, "none", "stderr", present, present, missing} {
		a.checkLogTarget(target)
	}
	if n := strings.Count(buf.String(), "level=WARN"); n != 2 || strings.Count(buf.String(), "logTarget="+missing) != 2 {
		t.Fatalf("want the missing socket reported twice (once, then again after the target changed back), got %d warnings:\n%s", n, buf.String())
	}
}
