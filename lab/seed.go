package lab

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
	"gopkg.in/yaml.v3"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// fdsFor is a generous estimate of the file descriptors HAProxy needs for
// maxconn connections: two sockets per proxied connection plus listeners,
// checks and pipes.
func fdsFor(maxconn int) uint64 { return uint64(2*maxconn + 1024) }

// fdPlan says how the lab makes HAProxy's maxconn fit the file descriptor
// limit its children inherit.
type fdPlan struct {
	maxconn int    // the maxconn to seed (== the fleet's when unchanged)
	limit   uint64 // the soft and hard limit the children inherit
	note    string // what was done, for the user; empty when nothing
}

// planFDs raises this process's RLIMIT_NOFILE (inherited by the agents and
// so by HAProxy) to what maxconn needs, or, when the hard limit is too low
// and cannot be raised (no CAP_SYS_RESOURCE), picks a smaller maxconn.
func planFDs(maxconn int) (fdPlan, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fdPlan{}, fmt.Errorf("reading the file descriptor limit: %w", err)
	}
	need := fdsFor(maxconn)
	if maxconn <= 0 || lim.Max >= need {
		// Setting it explicitly makes children inherit the raised soft limit
		// (Go otherwise restores the soft limit it started with).
		lim.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			return fdPlan{}, fmt.Errorf("raising the soft file descriptor limit to %d: %w", lim.Max, err)
		}
		return fdPlan{maxconn: maxconn, limit: lim.Max}, nil
	}
	raised := unix.Rlimit{Cur: need, Max: need}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &raised); err == nil {
		return fdPlan{maxconn: maxconn, limit: need,
			note: fmt.Sprintf("raised the file descriptor limit from %d to %d for haproxy.maxconn %d", lim.Max, need, maxconn)}, nil
	}
	if lim.Max < fdsFor(256) {
		return fdPlan{}, fmt.Errorf("the hard file descriptor limit (%d) is too low for HAProxy and cannot be raised (no CAP_SYS_RESOURCE): raise it (ulimit -Hn, LimitNOFILE=) to at least %d", lim.Max, need)
	}
	m := min(LabMaxconn, int((lim.Max-1024)/2))
	lim.Cur = lim.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fdPlan{}, fmt.Errorf("raising the soft file descriptor limit to %d: %w", lim.Max, err)
	}
	return fdPlan{maxconn: m, limit: lim.Max,
		note: fmt.Sprintf("haproxy.maxconn %d needs about %d file descriptors but the hard limit is %d and cannot be raised (no CAP_SYS_RESOURCE): the lab's fleet.yaml uses maxconn %d", maxconn, need, lim.Max, m)}, nil
}

// copyFleet copies fleet into dir (which must not exist) and loads it.
func copyFleet(fleet fs.FS, dir string) (*desired.Fleet, error) {
	if err := os.CopyFS(dir, fleet); err != nil {
		return nil, fmt.Errorf("copying the fleet to %s: %w", dir, err)
	}
	f, err := desired.Load(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("the fleet to seed is invalid: %w", err)
	}
	return f, nil
}

// setMaxconn rewrites haproxy.maxconn in the fleet.yaml under dir, keeping
// its comments.
func setMaxconn(dir string, maxconn int) error {
	path := filepath.Join(dir, "fleet.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("parsing %s: %w", path, err)
	}
	if len(doc.Content) != 1 {
		return fmt.Errorf("%s: not one YAML document", path)
	}
	hp := mappingValue(doc.Content[0], "haproxy")
	if hp == nil || hp.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: no haproxy mapping", path)
	}
	v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(maxconn),
		LineComment: "lab: lowered to fit the file descriptor limit"}
	if old := mappingValue(hp, "maxconn"); old != nil {
		*old = *v
	} else {
		hp.Content = append(hp.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "maxconn"}, v)
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// mappingValue returns the value of key in mapping node m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// copyDir copies the regular files of src into dst (created).
func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dst, err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("reading %s: %w", src, err)
	}
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err == nil {
			err = os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
