//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
)

// TestAgentRestart SIGKILLs the agent of us-haproxy-2 and starts it again
// on an unchanged revision: it converges (applies the head) without
// reloading haproxy, and the host serves again.
func TestAgentRestart(t *testing.T) {
	e := startLab(t, labOptions{})
	const host = "us-haproxy-2"
	var dir string
	for _, a := range e.info.Agents {
		if a.Host == host {
			dir = a.Dir
		}
	}
	head, err := e.ctl.Git().Head()
	if err != nil {
		t.Fatal(err)
	}
	before := haproxyMasters(t, filepath.Join(dir, "haproxy.cfg"))
	if err := e.ctl.Kill(host); err != nil {
		t.Fatal(err)
	}
	orphans := haproxyMasters(t, filepath.Join(dir, "haproxy.cfg"))
	t.Logf("haproxy masters of %s before the kill %v, after %v", host, before, orphans)
	// keepalived gets SIGTERM when its agent dies (Pdeathsig); the new
	// agent's keepalived waits for it to leave before starting.
	start := time.Now()
	if err := e.ctl.Start(host); err != nil {
		t.Fatal(err)
	}
	var st *agentapi.Status
	e.waitFor(40*time.Second, host+" converges after its restart", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := e.agents[host].Status(ctx)
		if err != nil {
			return err
		}
		st = s
		if s.AppliedRevision != head || s.LastResult == agentapi.ResultPending {
			return fmt.Errorf("applied %s, last %s %s", short(s.AppliedRevision), s.LastResult, s.LastError)
		}
		return nil
	})
	t.Logf("%s converged %v after its restart: %s, counts %+v", host, time.Since(start).Round(time.Millisecond), st.LastResult, st.Counts)
	bench(t, "agent_restart_to_converged", "host", host, "ms", time.Since(start).Milliseconds(), "haproxy_reloads", st.Counts.HAProxyReloads)
	if st.Counts.HAProxyReloads != 0 {
		t.Errorf("%s reloaded haproxy %d times after a restart on an unchanged revision", host, st.Counts.HAProxyReloads)
	}
	after := haproxyMasters(t, filepath.Join(dir, "haproxy.cfg"))
	t.Logf("haproxy masters of %s after the restart %v", host, after)
	// The killed agent's haproxy kept serving and is adopted by the new
	// agent: still exactly one master, the same one.
	if len(orphans) != 1 || len(after) != 1 || after[0] != orphans[0] {
		t.Errorf("haproxy masters: %v after the kill, %v after the restart; want the one master adopted", orphans, after)
	}
}

// haproxyMasters lists the pids of haproxy processes started with cfg
// whose parent is not a haproxy process (masters, not workers).
func haproxyMasters(t *testing.T, cfg string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil || !bytes.Contains(b, []byte(cfg)) || string(bytes.TrimSpace(comm)) != "haproxy" {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		f := strings.Fields(string(stat[i+1:])) // state, ppid, ...
		if len(f) < 2 {
			continue
		}
		ppid, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		pc, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(ppid), "comm"))
		if string(bytes.TrimSpace(pc)) == "haproxy" {
			continue // a worker
		}
		out = append(out, pid)
	}
	return out
}
