package reconciler

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/ddc-gitops/ddc-gitops/reconciler/atomicfile"
)

// persisted is what the agent keeps in its state directory so a restart
// (even after kill -9) knows what the host runs and what failed.
type persisted struct {
	AppliedRevision string    `json:"appliedRevision"`
	AppliedAt       time.Time `json:"appliedAt"`
	// FailedRevision is the newest revision that was stalled (invalid) or
	// failed to apply; FailedKind says which.
	FailedRevision string `json:"failedRevision,omitempty"`
	FailedKind     string `json:"failedKind,omitempty"`
	FailedError    string `json:"failedError,omitempty"`
	// Pending are servers waiting for their first passing health check
	// ("backend/server"), since when, and which of them replaced a server
	// that was in service (see admission.go).
	Pending      []string             `json:"pending,omitempty"`
	PendingSince map[string]time.Time `json:"pendingSince,omitempty"`
	Replacing    []string             `json:"replacing,omitempty"`
	// Rolling are the replaces ("backend/server") left for a later rolling
	// batch by the last reconcile: their turn is not drift.
	Rolling []string `json:"rolling,omitempty"`
	// AppliedOverrides names the overrides the host runs (overrides.go).
	AppliedOverrides string `json:"appliedOverrides,omitempty"`
}

const (
	stateFile         = "agent-state.json"
	lastGoodDir       = "last-good"
	lastGoodHAProxy   = "haproxy.cfg"
	lastGoodKeepalive = "keepalived.conf"
)

func (a *Agent) statePath(name string) string { return filepath.Join(a.cfg.StateDir, name) }

func (a *Agent) loadState() (persisted, error) {
	var p persisted
	b, err := os.ReadFile(a.statePath(stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("reading agent state: %w", err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		// A torn or foreign file must not stop the agent: start afresh;
		// the next reconcile rebuilds everything from git and the host.
		a.log.Warn("ignoring unreadable agent state", "file", a.statePath(stateFile), "err", err)
		return persisted{}, nil
	}
	return p, nil
}

func (a *Agent) saveState(p persisted) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding agent state: %w", err)
	}
	if _, err := atomicfile.Write(a.statePath(stateFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("saving agent state: %w", err)
	}
	return nil
}

// saveLastGood records configs verified running, for rollback.
func (a *Agent) saveLastGood(name string, data []byte) error {
	dir := a.statePath(lastGoodDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if _, err := atomicfile.Write(filepath.Join(dir, name), data, 0o600); err != nil {
		return fmt.Errorf("saving last good %s: %w", name, err)
	}
	return nil
}

func (a *Agent) lastGood(name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(a.statePath(lastGoodDir), name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}
