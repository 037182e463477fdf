package reconciler

import (
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkCommitToApplied: a runtime-only change (one node's weight),
// from the commit being on the git server to the agent having applied and
// verified it (fetch included). Reports p50 and p99.
func BenchmarkCommitToApplied(b *testing.B) {
	h := newHarness(b, harnessOpts{nodes: 6, seed: seq(0, 6)})
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		rev := h.commit(map[string][]byte{nodePath(1): nodeFile(1, h.fleet.farm.ports[1], 10+i%200)}, nil, "weight")
		start := time.Now()
		h.reconcile(rev)
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

// BenchmarkApply1000Servers: one commit adding 1,000 nodes, applied at
// runtime (add server + enable health, admitted after the first check),
// persisted to haproxy.cfg and verified, with no reload. The figures are
// the whole reconcile and its steps; BenchmarkAdd1000Servers in
// reconciler/haproxy has the raw socket baseline.
func BenchmarkApply1000Servers(b *testing.B) {
	h := newHarness(b, harnessOpts{nodes: 1000, seed: nil})
	before := h.reloads()
	var total, admitted, runtimeStep, persist, verify, load time.Duration
	files := map[string][]byte{}
	var paths []string
	for _, i := range seq(0, 1000) {
		files[nodePath(i)] = nodeFile(i, h.fleet.farm.ports[i], 100)
		paths = append(paths, nodePath(i))
	}
	b.ResetTimer()
	for range b.N {
		rev := h.commit(files, nil, "add 1000")
		start := time.Now()
		out := h.agent.Reconcile(testCtx(b, time.Minute))
		total += time.Since(start) // in HAProxy and persisted; admission follows on its own
		if out.Err != nil || out.Revision != rev {
			b.Fatalf("outcome %+v", out)
		}
		st := h.agent.Status().Steps
		runtimeStep += secs(st["runtime"])
		persist += secs(st["persist"])
		verify += secs(st["verify"])
		load += secs(st["load"])
		if out.Reloads != 0 || out.RuntimeChanges != 1000 {
			b.Fatalf("outcome %+v", out)
		}
		h.reconcile(rev) // every server's first check passed (inter 100 ms)
		admitted += time.Since(start)
		b.StopTimer()
		h.reconcile(h.commit(nil, paths, "remove 1000"))
		b.StartTimer()
	}
	b.StopTimer()
	if h.reloads() != before {
		b.Fatal("reloads happened")
	}
	n := float64(b.N)
	b.ReportMetric(total.Seconds()/n, "s/reconcile")
	b.ReportMetric(admitted.Seconds()/n, "s/all-admitted")
	b.ReportMetric(runtimeStep.Seconds()/n, "s/runtime-step")
	b.ReportMetric(persist.Seconds()/n, "s/persist")
	b.ReportMetric(verify.Seconds()/n, "s/verify")
	b.ReportMetric(load.Seconds()/n, "s/load+render")
}

// BenchmarkNoopReconcile10k: a reconcile of an unchanged branch at 10,000
// servers (fetch, compare with the running host, nothing to do). It also
// runs one agent in a child process and reports its peak RSS.
func BenchmarkNoopReconcile10k(b *testing.B) {
	h := newHarness(b, harnessOpts{nodes: 10000, seed: seq(0, 10000), checkInterval: "30s"})
	rev, _ := h.git.Head()
	b.ResetTimer()
	for range b.N {
		if out := h.reconcile(rev); out.RuntimeChanges != 0 || out.Reloads != 0 {
			b.Fatalf("no-op reconcile did something: %+v", out)
		}
	}
	b.StopTimer()
	for step, secs := range h.agent.Status().Steps {
		b.ReportMetric(secs*1000, "ms-"+step)
	}
	// Peak RSS of a fresh agent process converging on the same host
	// (clone, load, render, read 10k servers, compare).
	conf, _ := json.Marshal(childConfig{Repo: h.git.URL(), Dir: b.TempDir(), State: b.TempDir(), Paths: h.paths})
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(conf))
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("child agent: %v\n%s", err, out)
	}
	var rssKB float64
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "steady-rss-kb "); ok {
			rssKB, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	b.ReportMetric(rssKB/1024, "MB-agent-steady-RSS")
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		b.ReportMetric(float64(ru.Maxrss)/1024, "MB-agent-peak-RSS")
	}
}

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	b.ReportMetric(float64(p(0.5).Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(p(0.99).Microseconds())/1000, "ms-p99")
}
