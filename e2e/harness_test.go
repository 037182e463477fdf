//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/internal/netns"
	"github.com/ddc-gitops/ddc-gitops/internal/netns/netnstest"
	"github.com/ddc-gitops/ddc-gitops/lab"
	"github.com/ddc-gitops/ddc-gitops/lab/labtest"
	"github.com/ddc-gitops/ddc-gitops/lab/nodesim"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// env is one running lab.
type env struct {
	t      *testing.T
	info   lab.Info
	ctl    *lab.Control
	prefix string
	fleet  string // the example fleet's directory
	client *http.Client
	agents map[string]*agentapi.Client
}

// labOptions tweak the lab of one test.
type labOptions struct {
	agentPoll time.Duration
	// chain runs the dev chain, the spare nodes and the bot.
	chain bool
	// monitoring runs Prometheus and Alertmanager (on free ports).
	monitoring bool
}

// logWriter sends lines to t.Log until the test ends.
type logWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && testing.Verbose() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *logWriter) close() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// startLab brings a lab up for t and registers its teardown and the leak
// checks with t.Cleanup.
func startLab(t *testing.T, lo labOptions) *env {
	t.Helper()
	netnstest.RequireRoot(t)
	for _, bin := range []string{"haproxy", "keepalived", "git"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("skipping: %s not in PATH: the e2e suite runs the real programs", bin)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	fleet, err := filepath.Abs("../examples/fleet")
	if err != nil {
		t.Fatal(err)
	}
	// A short state directory: its path ends up in socket paths.
	state, err := os.MkdirTemp("", "ddce2e")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(state) })
	prefix := netnstest.Prefix(t)
	out := &logWriter{t: t}
	t.Cleanup(out.close)
	ready := make(chan lab.Info, 1)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	opts := lab.Options{
		Prefix:       prefix,
		StateDir:     state,
		Fleet:        os.DirFS(fleet),
		Exe:          exe,
		ChildEnv:     []string{labtest.ChildEnv + "=1"},
		AgentPoll:    lo.agentPoll,
		NoChain:      !lo.chain,
		NoPrometheus: !lo.monitoring,
		StartTimeout: 60 * time.Second,
		StopTimeout:  10 * time.Second,
		Out:          out,
		Ready:        func(i lab.Info) { ready <- i },
	}
	go func() { errc <- lab.Up(ctx, opts) }()
	var info lab.Info
	var pids map[int]string
	t.Cleanup(func() {
		if info.Control != nil {
			pids = map[int]string{}
			for _, c := range info.Control.Children() {
				pids[c.PID] = c.Name
			}
		}
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("lab.Up: %v", err)
			}
		case <-time.After(90 * time.Second):
			t.Errorf("lab.Up did not return within 90s of cancel")
		}
		_ = netns.Cleanup(context.Background(), prefix) // in case the lab failed to
		checkNoLeaks(t, prefix, state, pids)
	})
	select {
	case info = <-ready:
	case err := <-errc:
		errc <- err // for the cleanup
		t.Fatalf("lab.Up returned before ready: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("lab not ready within 90s")
	}
	// What the lab seeded: the example fleet plus each host's agentURL (lab/waves.go).
	e := &env{t: t, info: info, ctl: info.Control, prefix: prefix, fleet: filepath.Join(state, "seed"),
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
		agents: map[string]*agentapi.Client{}}
	for _, a := range info.Agents {
		e.agents[a.Host] = &agentapi.Client{BaseURL: a.URL, Token: info.SyncToken, HTTP: e.client}
	}
	if len(e.agents) != 4 {
		t.Fatalf("lab has %d agents, want 4: %+v", len(e.agents), info.Agents)
	}
	// Every agent has applied the seed before a scenario starts.
	seed, err := e.ctl.Git().Head()
	if err != nil {
		t.Fatal(err)
	}
	e.waitApplied(seed, nil, 60*time.Second)
	return e
}

// checkNoLeaks fails t if a namespace of prefix, a child or a process
// using the state directory survived the lab.
func checkNoLeaks(t *testing.T, prefix, state string, pids map[int]string) {
	t.Helper()
	names, err := netns.List()
	if err != nil {
		t.Errorf("listing namespaces: %v", err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			t.Errorf("namespace %s survived the lab", n)
		}
	}
	for pid, name := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("child %s (pid %d) survived the lab", name, pid)
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Errorf("reading /proc: %v", err)
		return
	}
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(state)) {
			t.Errorf("process %s survived the lab: %s", e.Name(), bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
}

// zone returns the lab's zone name.
func (e *env) zone(name string) lab.ZoneInfo {
	for _, z := range e.info.Zones {
		if z.Name == name {
			return z
		}
	}
	e.t.Fatalf("no zone %s in the lab", name)
	return lab.ZoneInfo{}
}

// hosts lists the agents' hosts (of zone, or all for "").
func (e *env) hosts(zone string) []string {
	var out []string
	for _, a := range e.info.Agents {
		if zone == "" || a.Zone == zone {
			out = append(out, a.Host)
		}
	}
	return out
}

// waitFor polls cond every 50ms until it returns nil; it fails the test
// after d with cond's last error.
func (e *env) waitFor(d time.Duration, what string, cond func() error) {
	e.t.Helper()
	if err := poll(d, 50*time.Millisecond, cond); err != nil {
		e.dumpLogs()
		e.t.Fatalf("%s: %v", what, err)
	}
}

// dumpLogs logs the end of every child's log (on failure).
func (e *env) dumpLogs() {
	for _, c := range e.ctl.Children() {
		b, err := os.ReadFile(c.Log)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 12 {
			lines = lines[len(lines)-12:]
		}
		e.t.Logf("--- end of %s's log (pid %d, exited %v):\n%s", c.Name, c.PID, c.Exited, strings.Join(lines, "\n"))
	}
}

// vrrpEvents returns the VRRP state changes keepalived logged on zone's
// hosts ("HH:MM:SS.mmm host message", in time order): what a client
// failure on one of the zone's VIPs is read against.
func (e *env) vrrpEvents(zone string) []string {
	hosts := e.hosts(zone)
	var out []string
	for _, c := range e.ctl.Children() {
		if !slices.Contains(hosts, c.Machine) {
			continue
		}
		b, err := os.ReadFile(c.Log)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", c.Machine, err))
			continue
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			var rec struct {
				Time time.Time `json:"time"`
				Msg  string    `json:"msg"`
			}
			if json.Unmarshal(line, &rec) != nil || !strings.HasPrefix(rec.Msg, "keepalived: (") {
				continue
			}
			// "(us-vip-2) Entering MASTER STATE", "... sent 0 priority",
			// "... received lower priority advert", "... removing VIPs." and the like.
			out = append(out, rec.Time.Format("15:04:05.000")+" "+c.Machine+" "+strings.TrimPrefix(rec.Msg, "keepalived: "))
		}
	}
	sort.Strings(out)
	return out
}

// describeFailures says when a client loop failed and what the VIPs of zone
// did meanwhile (see vrrpEvents).
func (e *env) describeFailures(ld *load, zone string) string {
	ld.mu.Lock()
	first, last := ld.firstFail, ld.lastFail
	ld.mu.Unlock()
	if first.IsZero() {
		return "no failure"
	}
	return fmt.Sprintf("failures from %s to %s; zone %s's VRRP events:\n  %s", first.Format("15:04:05.000"), last.Format("15:04:05.000"),
		zone, strings.Join(e.vrrpEvents(zone), "\n  "))
}

// poll calls cond every interval until it returns nil or d passes.
func poll(d, interval time.Duration, cond func() error) error {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v: %w", d, err)
		}
		<-tick.C
	}
}

// status fetches every agent's status.
func (e *env) statuses(ctx context.Context) (map[string]*agentapi.Status, error) {
	out := map[string]*agentapi.Status{}
	var errs []error
	for h, c := range e.agents {
		st, err := c.Status(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[h] = st
	}
	return out, errors.Join(errs...)
}

// waitApplied waits until every agent reports rev applied and returns, per
// host, how long after start (nil: now) it first saw it.
func (e *env) waitApplied(rev string, start *time.Time, d time.Duration) map[string]time.Duration {
	e.t.Helper()
	t0 := time.Now()
	if start != nil {
		t0 = *start
	}
	got := map[string]time.Duration{}
	e.waitFor(d, "every agent applies "+short(rev), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var missing []string
		for h, c := range e.agents {
			if _, ok := got[h]; ok {
				continue
			}
			st, err := c.Status(ctx)
			if err == nil && st.AppliedRevision == rev {
				got[h] = time.Since(t0)
				continue
			}
			if err != nil {
				missing = append(missing, fmt.Sprintf("%s: %v", h, err))
			} else {
				missing = append(missing, fmt.Sprintf("%s: applied %s, last %s %s", h, short(st.AppliedRevision), st.LastResult, st.LastError))
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return errors.New(strings.Join(missing, "; "))
		}
		return nil
	})
	return got
}

// syncAll asks every agent to sync now (what the API and the webhook
// receiver do after a commit).
func (e *env) syncAll(reason string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 0, len(e.agents))
	var mu sync.Mutex
	for _, c := range e.agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Sync(ctx, reason); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		e.t.Fatalf("syncing the agents: %v", err)
	}
}

// commit commits files (paths relative to the fleet) straight to the lab's
// repository.
func (e *env) commit(files map[string][]byte, msg string) string {
	e.t.Helper()
	rev, err := e.ctl.Git().Commit(files, nil, msg)
	if err != nil {
		e.t.Fatalf("committing %q: %v", msg, err)
	}
	return rev
}

// fleetFile reads a file of the fleet the lab seeded.
func (e *env) fleetFile(path string) []byte {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.fleet, path))
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// replaceOnce replaces old by new in b and fails the test unless old occurs
// exactly once.
func (e *env) replaceOnce(b []byte, old, new string) []byte {
	e.t.Helper()
	if n := bytes.Count(b, []byte(old)); n != 1 {
		e.t.Fatalf("%q occurs %d times, want once", old, n)
	}
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}

// health GETs url/health and returns the node that answered.
func health(c *http.Client, url string) (nodesim.Health, error) {
	var h nodesim.Health
	resp, err := c.Get(url + "/health")
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return h, err
	}
	if resp.StatusCode != http.StatusOK {
		return h, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return h, fmt.Errorf("decoding %q: %w", body, err)
	}
	return h, nil
}

// load is a bounded client loop against an URL.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	firstFail  time.Time
	lastFail   time.Time
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

// startLoad runs workers goroutines GETting url/health until stop or max
// passes; keepAlive chooses persistent connections. Each worker paces
// itself to at most one request every 10ms.
func startLoad(url string, workers int, keepAlive bool, max time.Duration) *load {
	ctx, cancel := context.WithTimeout(context.Background(), max)
	l := &load{cancel: cancel}
	for range workers {
		c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 1}}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer c.CloseIdleConnections()
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for ctx.Err() == nil {
				_, err := health(c, url)
				if ctx.Err() != nil && err != nil {
					return // cut short by stop
				}
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					now := time.Now()
					if l.firstFail.IsZero() {
						l.firstFail = now
					}
					l.lastFail = now
					if len(l.errs) < 5 {
						l.errs = append(l.errs, err.Error())
					}
					l.mu.Unlock()
				} else {
					l.ok.Add(1)
				}
				select {
				case <-ctx.Done():
				case <-tick.C:
				}
			}
		}()
	}
	return l
}

// stop ends the loop and returns ok and failed counts.
func (l *load) stop() (ok, failed int64) {
	l.cancel()
	l.wg.Wait()
	return l.ok.Load(), l.failed.Load()
}

func short(rev string) string {
	if len(rev) > 8 {
		return rev[:8]
	}
	return rev
}

// bench logs a measurement line BENCHMARKS.md reuses:
// "BENCH name key=value ...".
func bench(t *testing.T, name string, kv ...any) {
	t.Helper()
	var b strings.Builder
	b.WriteString("BENCH " + name)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	t.Log(b.String())
	if p := os.Getenv("DDC_GITOPS_E2E_BENCH_OUT"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			fmt.Fprintln(f, b.String())
			f.Close()
		}
	}
}

// git runs the git client in the lab's working clone.
func (e *env) git(args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = e.info.CloneDir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.org",
		"GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@example.org")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}
