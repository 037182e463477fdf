package reconciler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
)

// childEnv carries the configuration of an agent run in a child process.
const childEnv = "DDC_GITOPS_TEST_AGENT"

type childConfig struct {
	Repo, Dir, State string
	Paths            HAProxyPaths
}

func TestMain(m *testing.M) {
	if c := os.Getenv(childEnv); c != "" {
		os.Exit(runChild(c))
	}
	os.Exit(m.Run())
}

// runChild is the agent process the kill test SIGKILLs mid-apply.
func runChild(conf string) int {
	var c childConfig
	if err := json.Unmarshal([]byte(conf), &c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	a, err := New(Config{Host: "h1", Source: &source.Source{URL: c.Repo, Dir: filepath.Join(c.Dir, "src")},
		StateDir: c.State, HAProxy: c.Paths, AdmitTimeout: 10 * time.Second,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	out := a.Reconcile(context.Background())
	fmt.Fprintf(os.Stderr, "child reconcile: %+v\n", out)
	// A second, no-op reconcile is the agent's steady state; report the
	// resident memory after it as the process holds it, without forcing a
	// collection (the agent never does). The real binary's figures are
	// internal/agentbench's (make bench-agent).
	a.Reconcile(context.Background())
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				fmt.Fprintf(os.Stderr, "steady-rss-kb %s\n", strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			}
		}
	}
	return 0
}

// TestKilledMidApplyConverges SIGKILLs an agent process while it adds
// servers at runtime; a restarted agent converges without a reload.
func TestKilledMidApplyConverges(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 302, seed: seq(0, 2)})
	before := h.reloads()
	files := map[string][]byte{}
	for _, i := range seq(2, 302) {
		files[nodePath(i)] = nodeFile(i, h.fleet.farm.ports[i], 100)
	}
	rev := h.commit(files, nil, "add 300 nodes")

	conf, _ := json.Marshal(childConfig{Repo: h.git.URL(), Dir: h.dir, State: h.state, Paths: h.paths})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(conf))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// Kill as soon as the child has begun adding servers.
	killed := false
	deadline := time.Now().Add(60 * time.Second)
poll:
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			break poll
		default:
		}
		if n := len(h.servers()); n > 2 {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			killed = true
			<-exited
			t.Logf("killed the agent with %d of 302 servers added", n)
			break
		}
	}
	if !killed {
		t.Fatalf("the child agent finished before it could be killed mid-apply:\n%s", stderr.String())
	}

	h.agent = h.newAgent(0)
	out := h.reconcile(rev)
	if out.Reloads != 0 || h.reloads() != before {
		t.Fatalf("restart after kill: %+v, master reloads %d -> %d", out, before, h.reloads())
	}
	if n := len(h.servers()); n != 302 {
		t.Fatalf("%d servers after the restart, want 302", n)
	}
	cfg, _ := os.ReadFile(h.paths.ConfigPath)
	if n := strings.Count(string(cfg), "    server n-"); n != 302 {
		t.Fatalf("haproxy.cfg has %d server lines, want 302", n)
	}
}
