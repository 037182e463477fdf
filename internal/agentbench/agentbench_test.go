package agentbench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/internal/fleetgen"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
)

// Environment of the benchmark.
const (
	envBin   = "DDC_GITOPS_AGENT_BIN"         // the agent binary to run (make bench sets bin/ddc-gitops-agent)
	envNodes = "DDC_GITOPS_AGENT_BENCH_NODES" // fleet size, default 10000
	envOut   = "DDC_GITOPS_AGENT_BENCH_OUT"   // when set, the BENCH lines are appended to this file
	envLog   = "DDC_GITOPS_AGENT_BENCH_LOG"   // when set, the agent's log is written to this file
)

// Goals of issue 11 at 10,000 servers.
const (
	goalSteadyMB     = 64
	goalPeakMB       = 128
	goalOneNode      = 100 * time.Millisecond
	goalNoopFactor   = 1.5
	goalAddsPersists = 150 * time.Millisecond
)

// BenchmarkAgent10k runs the real agent binary (bin/ddc-gitops-agent
// --supervise, what the Debian package's agent unit runs) against a real haproxy and a git server over smart HTTP, with
// a fleet of 10,000 nodes in one backend (10,000 servers), and prints its
// memory as the process holds it (VmRSS and VmHWM from /proc, no forced GC)
// and the cost of a no-op reconcile, a one-node change and 1,000 adds,
// beside the goals. b.N is the number of one-node changes (at least 20).
//
// It runs once per node layout (fleet.yaml nodeLayout): flat, the default,
// where a one-node commit writes a 10,000-entry nodes/ tree that the git
// server packs and the agent fetches and reads, and sharded.
//
// The git server is internal/gitserver, which runs one `git upload-pack`
// per fetch request (and its pack-objects), as forges do; the figures "less
// the git server's time" take its share out.
//
// The nodes live on loopback (127.19.0.0/16) where nothing listens: their
// checks fail at once, no packet leaves the machine. Checks run every 30 s.
func BenchmarkAgent10k(b *testing.B) {
	bin := os.Getenv(envBin)
	if bin == "" {
		b.Skipf("set %s to the agent binary (make bench does)", envBin)
	}
	if _, err := exec.LookPath("haproxy"); err != nil {
		b.Skip("haproxy not installed (make deps installs it)")
	}
	nodes := 10000
	if v := os.Getenv(envNodes); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > fleetgen.MaxNodes-1000 {
			b.Fatalf("%s=%q: want 1 to %d", envNodes, v, fleetgen.MaxNodes-1000)
		}
		nodes = n
	}
	for _, layout := range []string{desired.NodeLayoutFlat, desired.NodeLayoutSharded} {
		b.Run(layout, func(b *testing.B) { benchAgent(b, bin, nodes, layout) })
	}
}

func benchAgent(b *testing.B, bin string, nodes int, layout string) {
	e := newEnv(b, bin, nodes, layout)
	rep := &report{b: b, name: "agent10k " + layout}

	gitVersion, err := exec.Command("git", "--version").Output()
	if err != nil {
		b.Fatalf("git --version: %v", err)
	}
	rep.line("git server", "internal/gitserver: one git upload-pack per fetch request, as forges run it (%s)", strings.TrimSpace(string(gitVersion)))

	// 1. First clone over smart HTTP, bootstrap, first reconcile.
	start := time.Now()
	e.startAgent()
	head, _ := e.git.Head()
	st := e.waitStatus(5*time.Minute, func(s *agentapi.Status) bool { return s.AppliedRevision == head && s.InProgress == nil })
	rep.line("first clone to converged", "%.2f s (fleet of %d nodes, %d kB packed)", time.Since(start).Seconds(), nodes, e.git.Stats().UploadPackBytes/1024)
	firstRSS, firstHWM := e.mem()
	_ = st

	// 2. No-op reconciles against one `show servers state` read.
	var showReads []time.Duration
	for range 21 {
		showReads = append(showReads, e.showServersState())
	}
	// The host state the status page reads (GET /v1/state: every
	// server's status), 11 reads.
	var stateReads []time.Duration
	for range 11 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t0 := time.Now()
		hs, err := e.client.HostState(ctx)
		cancel()
		if err != nil || hs.Error != "" || len(hs.Backends) == 0 || len(hs.Backends[0].Servers) < nodes {
			b.Fatalf("host state: %v %+v", err, hs)
		}
		stateReads = append(stateReads, time.Since(t0))
	}
	var noops, noopsOwn []time.Duration
	var steadyRSS int
	cpu0 := e.cpu()
	for i := range 40 {
		g0 := e.gitTime()
		s := e.sync(func(s *agentapi.Status) bool { return true })
		if s.LastResult != agentapi.ResultNoop {
			b.Fatalf("no-op reconcile %d: %s %s", i, s.LastResult, s.LastError)
		}
		noops = append(noops, secs(s.LastDuration))
		noopsOwn = append(noopsOwn, secs(s.LastDuration)-(e.gitTime()-g0))
		if i >= 20 {
			rss, _ := e.mem()
			steadyRSS = max(steadyRSS, rss)
		}
	}
	noopSteps := e.status().Steps
	steadyFields := e.memFields()
	noopCPU := (e.cpu() - cpu0) / 40

	// 3. One-node changes: push (commit + push to the git server) to
	// applied, with a sync request sent the moment the push is done (as
	// the webhook does).
	rounds := max(b.N, 20)
	var oneNode, oneNodeGit []time.Duration
	var oneSteps []map[string]float64
	var oneReconcile []time.Duration // the agent's own reconcile durations
	var oneCPU time.Duration
	for i := range rounds {
		k := (i * 7919) % nodes
		rev, err := e.git.Commit(map[string][]byte{e.nodePath(k): fleetgen.LocalNodeFile(k, 1, 10+i%50, refusedPort)}, nil, "weight")
		if err != nil {
			b.Fatal(err)
		}
		t0, c0, g0 := time.Now(), e.cpu(), e.gitTime()
		s := e.sync(func(s *agentapi.Status) bool { return s.AppliedRevision == rev })
		oneNode = append(oneNode, time.Since(t0))
		oneNodeGit = append(oneNodeGit, e.gitTime()-g0)
		oneCPU += e.cpu() - c0
		if s.Counts.HAProxyReloads != 0 {
			b.Fatalf("one-node change %d: %d reloads", i, s.Counts.HAProxyReloads)
		}
		steps, took := e.appliedSteps(rev)
		oneSteps = append(oneSteps, steps)
		oneReconcile = append(oneReconcile, took)
	}
	for range 20 {
		e.sync(func(s *agentapi.Status) bool { return true })
		rss, _ := e.mem()
		steadyRSS = max(steadyRSS, rss)
	}
	steadyHWM := 0
	_, steadyHWM = e.mem()

	// 4. 1,000 adds in one commit.
	adds := map[string][]byte{}
	for i := nodes; i < nodes+1000; i++ {
		adds[e.nodePath(i)] = fleetgen.LocalNodeFile(i, 1, 100, refusedPort)
	}
	rev, err := e.git.Commit(adds, nil, "add 1000")
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	e.sync(func(s *agentapi.Status) bool { return s.AppliedRevision == rev })
	addsTotal := time.Since(t0)
	// The steps are those of the reconcile that applied rev, from its log
	// record: another trigger (an admission, the end of a gate window) may
	// start a reconcile the moment it ends, so the status can already show
	// a later one.
	addSteps, _ := e.appliedSteps(rev)
	if addSteps["runtime"] == 0 {
		b.Fatalf("1,000 adds: the reconcile that applied %s has no runtime step (steps %s)", rev, fmtSteps(addSteps))
	}
	afterFetch := 0.0
	for _, step := range []string{"load", "actual", "plan", "runtime", "persist"} { // render is inside load
		afterFetch += addSteps[step]
	}
	endRSS, endHWM := e.mem()
	// The other way to add servers, a reload, cannot do better: before the
	// new worker parses the configuration, the agent's reload step checks it
	// with `haproxy -c`. Its time on the configuration just persisted (with
	// the 1,000 new servers) is that way's floor.
	cfgPath := filepath.Join(e.dir, "haproxy.cfg")
	checkStart := time.Now()
	if out, err := exec.Command("haproxy", "-c", "-f", cfgPath).CombinedOutput(); err != nil {
		b.Fatalf("haproxy -c -f %s: %v: %s", cfgPath, err, out)
	}
	reloadCheck := time.Since(checkStart)
	// The cost of waiting: the 1,000 new servers never pass their check
	// (nothing listens), so the admission watch keeps reading their
	// backend. The agent's CPU over four 1 s measuring windows: the least
	// is the watch's own cost; the most also holds bursts such as
	// haproxy's warnings about the new servers' first failed checks,
	// which the agent relays to its log.
	waitMin, waitMax := 0.0, 0.0
	for i := range 4 {
		c0, t0 := e.cpu(), time.Now()
		<-time.After(time.Second)
		u := float64(e.cpu()-c0) / float64(time.Since(t0))
		if i == 0 || u < waitMin {
			waitMin = u
		}
		waitMax = max(waitMax, u)
	}
	// The same servers later, still waiting (nodes that stay down): the
	// watch reads their backend less often the longer they wait. The
	// window starts 25 s after the adds were applied.
	if d := time.Until(t0.Add(addsTotal + 25*time.Second)); d > 0 {
		<-time.After(d)
	}
	c1, t1 := e.cpu(), time.Now()
	<-time.After(4 * time.Second)
	waitLater := float64(e.cpu()-c1) / float64(time.Since(t1))

	// Report.
	showMed := median(showReads)
	noopMed := median(noops)
	rep.line("agent VmRSS after the first clone and converge", "%.1f MB (VmHWM %.1f MB)", mb(firstRSS), mb(firstHWM))
	rep.goal("agent peak VmHWM incl. first clone over smart HTTP (before the adds)", fmt.Sprintf("%.1f MB", mb(steadyHWM)), fmt.Sprintf("<= %d MB", goalPeakMB), mb(steadyHWM) <= goalPeakMB)
	rep.goal("agent steady VmRSS (max over 40 reconciles, no forced GC)", fmt.Sprintf("%.1f MB", mb(steadyRSS)), fmt.Sprintf("<= %d MB", goalSteadyMB), mb(steadyRSS) <= goalSteadyMB)
	rep.line("agent memory after the no-op reconciles", "VmRSS %.1f MB = RssAnon %.1f MB (heap, stacks) + RssFile %.1f MB (the binary's pages)",
		mb(steadyFields["VmRSS"]), mb(steadyFields["RssAnon"]), mb(steadyFields["RssFile"]))
	rep.line("show servers state, one read (median of 21)", "%.2f ms", ms(showMed))
	rep.line("host state for the status page (GET /v1/state, every server's status; median of 11)", "%.2f ms", ms(median(stateReads)))
	rep.goal("no-op reconcile (median of 40)", fmt.Sprintf("%.2f ms = %.2fx one read", ms(noopMed), float64(noopMed)/float64(showMed)),
		fmt.Sprintf("<= %.1fx one read (%.2f ms)", goalNoopFactor, goalNoopFactor*ms(showMed)), float64(noopMed) <= goalNoopFactor*float64(showMed))
	rep.line("no-op reconcile steps (last)", "%s", fmtSteps(noopSteps))
	ownMed := median(noopsOwn)
	rep.line("no-op reconcile less the git server's time (its info/refs), median", "%.2f ms = %.2fx one read", ms(ownMed), float64(ownMed)/float64(showMed))
	rep.line("agent CPU time per no-op reconcile (user+system, mean)", "%.1f ms", ms(noopCPU))
	p50, p99 := pct(oneNode, 0.5), pct(oneNode, 0.99)
	rep.goal(fmt.Sprintf("one-node change, push done to applied (%d rounds) p50 / p99", rounds), fmt.Sprintf("%.1f / %.1f ms", ms(p50), ms(p99)),
		fmt.Sprintf("<= %d ms", goalOneNode.Milliseconds()), p99 <= goalOneNode)
	own := make([]time.Duration, rounds)
	for i := range own {
		own[i] = oneNode[i] - oneNodeGit[i]
	}
	rep.line("one-node change: the git server's time (info/refs + upload-pack), median", "%.1f ms", ms(median(oneNodeGit)))
	rep.line("one-node change less the git server's time, p50 / p99", "%.1f / %.1f ms", ms(pct(own, 0.5)), ms(pct(own, 0.99)))
	rep.line("one-node change steps (median)", "%s; the whole reconcile %.1f ms", fmtSteps(medianSteps(oneSteps)), ms(median(oneReconcile)))
	rep.line("agent CPU time per one-node change (user+system, mean)", "%.1f ms", ms(oneCPU/time.Duration(rounds)))
	rep.goal("1,000 adds in haproxy and persisted, after fetch", fmt.Sprintf("%.3f s", afterFetch), fmt.Sprintf("<= %.2f s", goalAddsPersists.Seconds()), secs(afterFetch) <= goalAddsPersists)
	rep.line("1,000 adds: the applying reconcile's steps", "%s (sync to done %.2f s)", fmtSteps(addSteps), addsTotal.Seconds())
	rep.line(fmt.Sprintf("1,000 adds by a reload instead: its configuration check alone (haproxy -c of %d servers)", nodes+1000), "%.3f s", reloadCheck.Seconds())
	rep.line("agent CPU while the 1,000 added servers wait for a first passing check (admission watch), least / most of four 1 s windows", "%.1f / %.1f %% of one core", 100*waitMin, 100*waitMax)
	rep.line("agent CPU while the 1,000 added servers wait, 25 to 29 s after they were applied (admission watch)", "%.1f %% of one core", 100*waitLater)
	rep.line("agent after the adds", "VmRSS %.1f MB, VmHWM %.1f MB", mb(endRSS), mb(endHWM))
	b.ReportMetric(mb(steadyRSS), "MB-steady-VmRSS")
	b.ReportMetric(mb(steadyHWM), "MB-peak-VmHWM")
	b.ReportMetric(ms(noopMed), "ms-noop")
	b.ReportMetric(ms(showMed), "ms-show-servers-state")
	b.ReportMetric(ms(p50), "ms-one-node-p50")
	b.ReportMetric(ms(p99), "ms-one-node-p99")
	b.ReportMetric(afterFetch, "s-1000-adds-persisted")
}

// refusedPort is the port of every node: nothing listens on 127.19.x.y.
const refusedPort = 8080

type env struct {
	b                      testing.TB
	bin, dir               string
	git                    *gitserver.Server
	logPath                string
	listen, token          string
	admin, master, haproxy string
	cmd                    *exec.Cmd
	client                 *agentapi.Client
	nodes                  int
	layout                 string // fleet.yaml nodeLayout
}

func newEnv(b testing.TB, bin string, nodes int, layout string) *env {
	b.Helper()
	dir, err := os.MkdirTemp("", "ab") // short: unix socket paths
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	e := &env{b: b, bin: bin, dir: dir, nodes: nodes, layout: layout, token: "bench-sync-token-of-at-least-32-bytes",
		admin: filepath.Join(dir, "admin.sock"), master: filepath.Join(dir, "master.sock"), haproxy: filepath.Join(dir, "haproxy.pid")}
	e.git = gitservertest.New(b, gitserver.Options{})
	files := map[string][]byte{
		"fleet.yaml":                   []byte(fleetYAML + "nodeLayout: " + layout + "\n"),
		"zones/z00/zone.yaml":          zoneYAML(freePort(b), freePort(b)),
		"backends/ddc_nodes_http.yaml": []byte(backendYAML),
	}
	for i := range nodes {
		files[e.nodePath(i)] = fleetgen.LocalNodeFile(i, 1, 100, refusedPort)
	}
	if _, err := e.git.Commit(files, nil, "seed"); err != nil {
		b.Fatal(err)
	}
	e.listen = fmt.Sprintf("127.0.0.1:%d", freePort(b))
	e.client = &agentapi.Client{BaseURL: "http://" + e.listen, Token: e.token}
	return e
}

func (e *env) startAgent() {
	b := e.b
	tokenFile := filepath.Join(e.dir, "token")
	if err := os.WriteFile(tokenFile, []byte(e.token), 0o600); err != nil {
		b.Fatal(err)
	}
	logPath := filepath.Join(e.dir, "agent.log")
	if p := os.Getenv(envLog); p != "" {
		logPath = p
	}
	logf, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	e.logPath = logPath
	e.cmd = exec.Command(e.bin, "--repo", e.git.URL(), "--host", "z00-haproxy-1",
		"--state-dir", filepath.Join(e.dir, "state"), "--haproxy-config", filepath.Join(e.dir, "haproxy.cfg"),
		"--master-socket", e.master, "--admin-socket", e.admin, "--haproxy-pid", e.haproxy,
		"--keepalived=false", "--supervise", "--listen", e.listen, "--sync-token-file", tokenFile,
		"--poll", "1h", "--log-level", "info")
	e.cmd.Stdout, e.cmd.Stderr = logf, logf
	if err := e.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = e.cmd.Wait(); close(done) }()
	b.Cleanup(func() {
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = e.cmd.Process.Kill()
			<-done
		}
		// The agent stops its haproxy; a master left behind is killed.
		if pid, err := os.ReadFile(e.haproxy); err == nil {
			if p, err := strconv.Atoi(strings.TrimSpace(string(pid))); err == nil && syscall.Kill(p, 0) == nil {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
		logf.Close()
		if b.Failed() {
			log, _ := os.ReadFile(logf.Name())
			b.Logf("agent log:\n%s", tail(string(log), 4000))
		}
	})
}

// nodePath is the path of node i's file in the fleet's layout.
func (e *env) nodePath(i int) string { return desired.NodeFile(e.layout, fleetgen.NodeName(i)) }

// gitTime is the time the git server has spent answering fetches
// (info/refs and upload-pack requests) so far.
func (e *env) gitTime() time.Duration {
	st := e.git.Stats()
	return st.InfoRefsTime + st.UploadPackTime
}

func (e *env) status() *agentapi.Status {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := e.client.Status(ctx)
	if err != nil {
		return nil
	}
	return s
}

// waitStatus polls the agent's status every 2 ms until ok holds.
func (e *env) waitStatus(timeout time.Duration, ok func(*agentapi.Status) bool) *agentapi.Status {
	deadline := time.Now().Add(timeout)
	var last *agentapi.Status
	for time.Now().Before(deadline) {
		if e.cmd.ProcessState != nil {
			e.b.Fatalf("agent exited: %v", e.cmd.ProcessState)
		}
		if s := e.status(); s != nil {
			last = s
			if ok(s) {
				return s
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	e.b.Fatalf("agent status not reached in %v; last %+v", timeout, last)
	return nil
}

// sync asks for a sync and waits for the reconcile it causes to finish
// with ok holding.
func (e *env) sync(ok func(*agentapi.Status) bool) *agentapi.Status {
	before := e.status()
	if before == nil {
		e.b.Fatal("agent status unavailable")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.client.Sync(ctx, "bench"); err != nil {
		e.b.Fatal(err)
	}
	return e.waitStatus(2*time.Minute, func(s *agentapi.Status) bool {
		return s.Counts.Reconciles > before.Counts.Reconciles && s.InProgress == nil && ok(s)
	})
}

// appliedSteps returns the step durations, in seconds, and the duration of
// the reconcile that applied rev, from the agent's log record of it.
func (e *env) appliedSteps(rev string) (map[string]float64, time.Duration) {
	f, err := os.Open(e.logPath)
	if err != nil {
		e.b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var rec struct {
			Msg      string             `json:"msg"`
			Result   string             `json:"result"`
			Revision string             `json:"revision"`
			StepsMs  map[string]float64 `json:"stepsMs"`
			Duration time.Duration      `json:"duration"` // nanoseconds in slog's JSON
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Msg != "reconcile" || rec.Result != agentapi.ResultApplied ||
			rec.Revision == "" || !strings.HasPrefix(rev, rec.Revision) {
			continue
		}
		steps := make(map[string]float64, len(rec.StepsMs))
		for k, v := range rec.StepsMs {
			steps[k] = v / 1000
		}
		return steps, rec.Duration
	}
	if err := sc.Err(); err != nil {
		e.b.Fatalf("reading the agent log: %v", err)
	}
	e.b.Fatalf("the agent log has no record of the reconcile that applied %s", rev)
	return nil, 0
}

// mem reads the agent's VmRSS and VmHWM, in kB.
func (e *env) mem() (rss, hwm int) {
	m := e.memFields()
	return m["VmRSS"], m["VmHWM"]
}

// memFields reads the memory fields of /proc/PID/status, in kB.
func (e *env) memFields() map[string]int {
	out := map[string]int{}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", e.cmd.Process.Pid))
	if err != nil {
		e.b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		if strings.HasPrefix(k, "Vm") || strings.HasPrefix(k, "Rss") {
			out[k] = n
		}
	}
	return out
}

// cpu is the agent's CPU time so far (user + system), at the kernel's
// clock-tick resolution (10 ms).
func (e *env) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", e.cmd.Process.Pid))
	if err != nil {
		e.b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// showServersState times one `show servers state` on the runtime socket,
// reading the whole answer.
func (e *env) showServersState() time.Duration {
	t0 := time.Now()
	c, err := net.DialTimeout("unix", e.admin, 5*time.Second)
	if err != nil {
		e.b.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "show servers state\n"); err != nil {
		e.b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, c)
	if err != nil || n < int64(e.nodes)*50 {
		e.b.Fatalf("show servers state: %d bytes, %v", n, err)
	}
	return time.Since(t0)
}

func zoneYAML(fePort, statsPort int) []byte {
	return fmt.Appendf(nil, `kind: Zone
name: z00
network:
  cidr: 198.18.1.0/24
vips:
  - name: z00-vip-1
    address: 198.18.1.100
    routerId: 51
hosts:
  - name: z00-haproxy-1
    address: 198.18.1.11
    owns: [z00-vip-1]
frontends:
  - name: http_in
    mode: http
    binds:
      - address: 127.0.0.1
        port: %d
    defaultBackend: ddc_nodes_http
stats:
  bind:
    address: 127.0.0.1
    port: %d
`, fePort, statsPort)
}

// fleetYAML is fleetgen's fleet with a maxconn this machine's file
// descriptor limit allows. The health gate samples as it does on any host,
// but its UP-ratio signal is off: nothing listens for the nodes, so their
// checks fail one after another during the run whatever the commits do,
// and a trip would roll back a one-node change in the middle of the
// measurements.
const fleetYAML = `kind: Fleet
name: generated
healthGate:
  thresholds:
    upMinPercent: 0
haproxy:
  maxconn: 4096
  hardStopAfter: 5s
  crtBase: /nonexistent-certs
  timeouts:
    connect: 5s
    client: 30s
    server: 30s
  serverDefaults:
    weight: 100
    maxconn: 1000
    slowstart: 10s
keepalived:
  advertInt: 1s
  ownerPriority: 150
addressPolicy:
  allowLoopback: true
`

// backendYAML is fleetgen's HTTP backend with checks every 30 s, so 10,000
// failing checks do not load the machine, and no cross-zone failover.
const backendYAML = `kind: Backend
name: ddc_nodes_http
mode: http
balance: roundrobin
check:
  type: http
  method: GET
  path: /health
  expectStatus: 200
  interval: 30s
  rise: 2
  fall: 3
timeouts:
  connect: 3s
  server: 30s
serverDefaults:
  weight: 100
  maxconn: 500
  slowstart: 10s
nodes:
  port: http
  modes: [full, storage, cache]
`

// freePort is a free loopback port below the ephemeral range.
func freePort(b testing.TB) int {
	for p := 21000 + os.Getpid()%5000; p < 32000; p += 7 {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err == nil {
			l.Close()
			if !used[p] {
				used[p] = true
				return p
			}
		}
	}
	b.Fatal("no free port")
	return 0
}

var used = map[int]bool{}

type report struct {
	b    testing.TB
	name string // of the run, at the start of each line
}

func (r *report) line(name, format string, args ...any) {
	r.emit(fmt.Sprintf("BENCH %s %-70s %s", r.name, name, fmt.Sprintf(format, args...)))
}

func (r *report) goal(name, got, goal string, met bool) {
	verdict := "NOT MET"
	if met {
		verdict = "met"
	}
	r.emit(fmt.Sprintf("BENCH %s %-70s %s (goal %s: %s)", r.name, name, got, goal, verdict))
}

func (r *report) emit(s string) {
	fmt.Println(s)
	if out := os.Getenv(envOut); out != "" {
		f, err := os.OpenFile(out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			r.b.Fatal(err)
		}
		fmt.Fprintln(f, s)
		f.Close()
	}
}

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
func ms(d time.Duration) float64   { return float64(d.Microseconds()) / 1000 }
func mb(kb int) float64            { return float64(kb) / 1024 }

func median(d []time.Duration) time.Duration { return pct(d, 0.5) }

func pct(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func medianSteps(all []map[string]float64) map[string]float64 {
	vals := map[string][]time.Duration{}
	for _, m := range all {
		for k, v := range m {
			vals[k] = append(vals[k], secs(v))
		}
	}
	out := map[string]float64{}
	for k, v := range vals {
		out[k] = median(v).Seconds()
	}
	return out
}

func fmtSteps(m map[string]float64) string {
	order := []string{"fetch", "load", "render", "actual", "plan", "runtime", "persist", "reload", "keepalived", "verify", "record"}
	var parts []string
	for _, k := range order {
		if v, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %.1f ms", k, v*1000))
		}
	}
	return strings.Join(parts, ", ")
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
