package plan

import (
	"bytes"
	"io"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/internal/fleetgen"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// Benchmark fleet: 10,000 nodes over 4 zones (8 HAProxy hosts, each with
// two backends of 2,500 node servers plus the failover backups).
const (
	benchNodes = 10000
	benchZones = 4
)

func genFleet(b *testing.B) fstest.MapFS {
	b.Helper()
	fsys, err := fleetgen.Generate(benchNodes, benchZones)
	if err != nil {
		b.Fatal(err)
	}
	return fsys
}

// revise returns a copy of fsys with a few nodes changed: three weights,
// one drained, two added, one removed.
func revise(b *testing.B, fsys fstest.MapFS) fstest.MapFS {
	b.Helper()
	c := make(fstest.MapFS, len(fsys)+2)
	for p, f := range fsys {
		c[p] = f
	}
	for _, i := range []int{10, 2011, 7003} {
		c[fleetgen.NodePath(i)] = &fstest.MapFile{Data: fleetgen.NodeFile(i, benchZones, 50), Mode: 0o644}
	}
	drained := bytes.Replace(fleetgen.NodeFile(42, benchZones, 100), []byte("admitted: true\n"), []byte("admitted: true\nstate: drain\n"), 1)
	c[fleetgen.NodePath(42)] = &fstest.MapFile{Data: drained, Mode: 0o644}
	for _, i := range []int{benchNodes, benchNodes + 1} {
		c[fleetgen.NodePath(i)] = &fstest.MapFile{Data: fleetgen.NodeFile(i, benchZones, 100), Mode: 0o644}
	}
	delete(c, fleetgen.NodePath(5000))
	return c
}

func loadB(b *testing.B, fsys fstest.MapFS) *desired.Fleet {
	b.Helper()
	f, err := desired.Load(fsys)
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkLoadValidateRender10k loads (decode, defaults, validation) and
// renders every host of a 10,000-node fleet. Goal: <= 200 ms/op.
func BenchmarkLoadValidateRender10k(b *testing.B) {
	fsys := genFleet(b)
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		f, err := desired.Load(fsys)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := render.RenderAll(f, render.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad10k is desired.Load alone, to attribute the cost above.
func BenchmarkLoad10k(b *testing.B) {
	fsys := genFleet(b)
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		loadB(b, fsys)
	}
}

// BenchmarkRenderAll10k is render.RenderAll alone.
func BenchmarkRenderAll10k(b *testing.B) {
	f := loadB(b, genFleet(b))
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		if _, err := render.RenderAll(f, render.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlan10k computes the plan between two loaded 10,000-node
// revisions that differ in a few nodes (rendering both, then diffing).
// Goal: <= 100 ms/op.
func BenchmarkPlan10k(b *testing.B) {
	fsys := genFleet(b)
	oldF, newF := loadB(b, fsys), loadB(b, revise(b, fsys))
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	var p *Plan
	for b.Loop() {
		var err error
		if p, err = Compute(oldF, newF, render.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	checkBenchPlan(b, p)
}

// BenchmarkDiff10k is the diff alone, on hosts rendered beforehand.
func BenchmarkDiff10k(b *testing.B) {
	fsys := genFleet(b)
	oldH, err := render.RenderAll(loadB(b, fsys), render.Options{})
	if err != nil {
		b.Fatal(err)
	}
	newH, err := render.RenderAll(loadB(b, revise(b, fsys)), render.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	var p *Plan
	for b.Loop() {
		p = DiffHosts(oldH, newH)
	}
	checkBenchPlan(b, p)
}

// BenchmarkWriteText10k writes the plan as Markdown.
func BenchmarkWriteText10k(b *testing.B) {
	fsys := genFleet(b)
	p, err := Compute(loadB(b, fsys), loadB(b, revise(b, fsys)), render.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		if err := p.WriteText(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime is the CPU time (user and system) the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per op since start (all threads, GC
// included): on a shared machine it varies less than the wall time.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/1e6, "cpu-ms/op")
}

// checkBenchPlan makes sure the benchmark measured a real plan: every host
// applies the revision at runtime, with the expected number of ops.
func checkBenchPlan(b *testing.B, p *Plan) {
	b.Helper()
	if len(p.Hosts) != 2*benchZones {
		b.Fatalf("plan has %d hosts, want %d", len(p.Hosts), 2*benchZones)
	}
	ops := 0
	for _, h := range p.Hosts {
		if h.HAProxy != ActionRuntime || h.Keepalived != ActionNone {
			b.Fatalf("%s: haproxy %s, keepalived %s, reasons %q", h.Host, h.HAProxy, h.Keepalived, h.Reasons)
		}
		ops += len(h.Ops)
	}
	// 7 node changes, each in 2 backends on the 2 hosts of its zone.
	if want := 7 * 2 * 2; ops != want {
		b.Fatalf("plan has %d ops, want %d", ops, want)
	}
}
