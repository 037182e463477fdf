package docker

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// BenchmarkFiftyContainers: 50 containers declared in one revision, from
// none to all running, through Apply; beside it the engine's own floor,
// create+start of the same 50 containers straight through the API, one
// after the other (floor-ms) and applyWorkers at a time as Apply does
// (floor4-ms). Reported per 50.
func BenchmarkFiftyContainers(b *testing.B) {
	d := startDockerd(b)
	d.testImage("ddc-test:1")
	ctx := context.Background()
	zone, err := os.ReadFile("../../examples/fleet/zones/eu/zone.yaml")
	if err != nil {
		b.Fatal(err)
	}
	// Room for 50: the upper half of the zone network.
	files := map[string]string{"zones/eu/zone.yaml": strings.Replace(string(zone), "cidr: 198.18.1.64/27", "cidr: 198.18.1.128/25", 1)}
	for i := range 50 {
		name := fmt.Sprintf("bench-%02d", i)
		files[name] = strings.Replace(containerFile(name, "ddc-test:1", 0, ""), "address: 198.18.1.64", fmt.Sprintf("address: 198.18.1.%d", 129+i), 1)
	}
	f := fleet(b, files)
	empty := fleet(b, map[string]string{"zones/eu/zone.yaml": files["zones/eu/zone.yaml"]})
	var apply, floor, floor4 time.Duration
	for b.Loop() {
		r, err := NewReconciler(ReconcilerConfig{Engine: d.eng, Host: "eu-docker-1", Networking: NetworkNone, StopGrace: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		t := time.Now()
		res := r.Apply(ctx, rev1, f)
		apply += time.Since(t)
		if !res.Converged() || res.Ops[OpCreate] != 50 {
			b.Fatalf("apply: err %v ops %v", res.Err, res.Ops)
		}
		if res := r.Apply(ctx, rev2, empty); res.Ops[OpRemove] != 50 {
			b.Fatalf("cleanup: %v", res.Ops)
		}
		r.Close()

		// The floor: the same 50 specs, created and started directly.
		floor += engineFloor(b, d, f.ContainersOn("eu-docker-1"), 1)
		floor4 += engineFloor(b, d, f.ContainersOn("eu-docker-1"), applyWorkers)
	}
	b.ReportMetric(float64(apply.Milliseconds())/float64(b.N), "apply-ms/50")
	b.ReportMetric(float64(floor.Milliseconds())/float64(b.N), "floor-ms/50")
	b.ReportMetric(float64(floor4.Milliseconds())/float64(b.N), "floor4-ms/50")
}

// engineFloor creates and starts cs straight through the API, workers at a
// time, returns how long that took, and removes them.
func engineFloor(b *testing.B, d *dockerd, cs []*desired.Container, workers int) time.Duration {
	ctx := context.Background()
	ids := make([]string, len(cs))
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	var failed atomic.Bool
	t := time.Now()
	for i, c := range cs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s := NewSpec(c, "eu-docker-1", rev1, nil)
			resp, err := d.eng.c.ContainerCreate(ctx, &s.Config, &s.HostConfig, &s.NetworkingConfig, nil, s.Name)
			if err == nil {
				ids[i] = resp.ID
				err = d.eng.c.ContainerStart(ctx, resp.ID, container.StartOptions{})
			}
			if err != nil {
				b.Error(err)
				failed.Store(true)
			}
		})
	}
	wg.Wait()
	took := time.Since(t)
	for _, id := range ids {
		if id == "" {
			continue
		}
		if err := d.eng.c.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}); err != nil {
			b.Fatal(err)
		}
	}
	if failed.Load() {
		b.FailNow()
	}
	return took
}
