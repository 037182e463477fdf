package docker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
)

const rev1, rev2, rev3 = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222", "3333333333333333333333333333333333333333"

// healthy applies f until name is running and healthy.
func waitHealthy(t *testing.T, r *Reconciler, name string) {
	t.Helper()
	waitFor(t, name+" healthy", func() (bool, string) {
		h := r.Health(name)
		return h == HealthHealthy, h
	})
}

// TestCreateReplaceRemove: containers declared in git are created and
// started with the agent's labels; a spec change replaces only the changed
// container; a container no longer declared is removed.
func TestCreateReplaceRemove(t *testing.T) {
	d := startDockerd(t)
	d.testImage("ddc-test:1")
	r := newReconciler(t, d, DriftCorrect)
	ctx := context.Background()

	f := fleet(t, map[string]string{
		"web-1": containerFile("web-1", "ddc-test:1", 1, ""),
		"web-2": containerFile("web-2", "ddc-test:1", 2, "limits:\n  milliCPU: 500\n  memoryMiB: 64\nrestart: always\n"),
	})
	res := r.Apply(ctx, rev1, f)
	if res.Err != nil || res.Ops[OpCreate] != 2 || !res.Converged() {
		t.Fatalf("first apply: err %v ops %v containers %+v", res.Err, res.Ops, res.Containers)
	}
	waitHealthy(t, r, "web-1")
	waitHealthy(t, r, "web-2")
	have := managedNames(t, d.eng)
	if len(have) != 2 || have["web-1"].Labels[LabelRevision] != rev1 || have["web-1"].Labels[LabelHost] != "eu-docker-1" {
		t.Fatalf("managed containers: %+v", have)
	}
	in, err := d.eng.Inspect(ctx, have["web-2"].ID)
	if err != nil {
		t.Fatal(err)
	}
	if in.HostConfig.NanoCPUs != 5e8 || in.HostConfig.Memory != 64<<20 || in.HostConfig.RestartPolicy.Name != "always" {
		t.Errorf("web-2 host config: cpus %d memory %d restart %q", in.HostConfig.NanoCPUs, in.HostConfig.Memory, in.HostConfig.RestartPolicy.Name)
	}

	// A no-op pass changes nothing.
	res = r.Apply(ctx, rev1, f)
	if len(res.Ops) != 0 || !res.Converged() {
		t.Fatalf("no-op apply: ops %v containers %+v", res.Ops, res.Containers)
	}
	// A new revision that does not change a container keeps it.
	id1, id2 := have["web-1"].ID, have["web-2"].ID
	f2 := fleet(t, map[string]string{
		"web-1": containerFile("web-1", "ddc-test:1", 1, ""),
		"web-2": strings.Replace(containerFile("web-2", "ddc-test:1", 2, "restart: always\n"), "value: web-2", "value: web-2-v2", 1),
	})
	res = r.Apply(ctx, rev2, f2)
	if res.Ops[OpReplace] != 1 || len(res.Ops) != 1 || !res.Converged() {
		t.Fatalf("replace: ops %v containers %+v", res.Ops, res.Containers)
	}
	have = managedNames(t, d.eng)
	if have["web-1"].ID != id1 {
		t.Errorf("web-1 was replaced although it did not change")
	}
	if have["web-2"].ID == id2 || have["web-2"].Labels[LabelRevision] != rev2 {
		t.Errorf("web-2 was not replaced: %+v", have["web-2"])
	}
	waitHealthy(t, r, "web-2")

	// Removed from git: removed from the engine.
	f3 := fleet(t, map[string]string{"web-1": containerFile("web-1", "ddc-test:1", 1, "")})
	res = r.Apply(ctx, rev3, f3)
	if res.Ops[OpRemove] != 1 || !res.Converged() {
		t.Fatalf("remove: ops %v containers %+v", res.Ops, res.Containers)
	}
	if have = managedNames(t, d.eng); len(have) != 1 || have["web-1"].ID != id1 {
		t.Fatalf("after remove: %+v", have)
	}
}

// TestDrift: a container removed or stopped by hand is recreated; a
// container without the agent's label is never touched, even when it holds
// a declared container's name (that container reports the conflict and the
// others still run); with --drift=warn drift is only reported.
func TestDrift(t *testing.T) {
	d := startDockerd(t)
	d.testImage("ddc-test:1")
	ctx := context.Background()

	// A container the agent does not manage, running the same image.
	by, err := d.eng.c.ContainerCreate(ctx, &container.Config{Image: "ddc-test:1", Env: []string{"PORT=9999"}},
		&container.HostConfig{NetworkMode: "none"}, nil, nil, "bystander")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.eng.Start(ctx, by.ID); err != nil {
		t.Fatal(err)
	}
	// And one squatting on a declared name.
	sq, err := d.eng.c.ContainerCreate(ctx, &container.Config{Image: "ddc-test:1", Env: []string{"PORT=9998"}},
		&container.HostConfig{NetworkMode: "none"}, nil, nil, "web-3")
	if err != nil {
		t.Fatal(err)
	}

	r := newReconciler(t, d, DriftCorrect)
	f := fleet(t, map[string]string{
		"web-1": containerFile("web-1", "ddc-test:1", 1, ""),
		"web-2": containerFile("web-2", "ddc-test:1", 2, ""),
		"web-3": containerFile("web-3", "ddc-test:1", 3, ""),
	})
	res := r.Apply(ctx, rev1, f)
	if st := byName(res, "web-3"); st.State != agentapi.ContainerError || !strings.Contains(st.Error, "does not manage") {
		t.Errorf("web-3 (name taken by an unmanaged container): %+v", st)
	}
	for _, n := range []string{"web-1", "web-2"} {
		if st := byName(res, n); st.State != agentapi.ContainerRunning {
			t.Fatalf("%s: %+v", n, st)
		}
	}
	have := managedNames(t, d.eng)

	// Removed by hand.
	if err := d.eng.Remove(ctx, have["web-1"].ID, 0); err != nil {
		t.Fatal(err)
	}
	// Stopped by hand.
	secs := 0
	if err := d.eng.c.ContainerStop(ctx, have["web-2"].ID, container.StopOptions{Timeout: &secs}); err != nil {
		t.Fatal(err)
	}
	res = r.Apply(ctx, rev1, f)
	if res.Ops[OpRecreate] != 2 || len(res.Drift) != 2 {
		t.Fatalf("drift: ops %v drift %q", res.Ops, res.Drift)
	}
	if !strings.Contains(strings.Join(res.Drift, "\n"), "web-1 was removed by hand: recreated") {
		t.Errorf("drift: %q", res.Drift)
	}
	for _, n := range []string{"web-1", "web-2"} {
		if st := byName(res, n); st.State != agentapi.ContainerRunning || st.Restarts != 1 {
			t.Errorf("%s after drift: %+v", n, st)
		}
	}
	waitHealthy(t, r, "web-1")

	// The unmanaged containers are untouched.
	for _, id := range []string{by.ID, sq.ID} {
		in, err := d.eng.Inspect(ctx, id)
		if err != nil {
			t.Fatalf("an unmanaged container is gone: %v", err)
		}
		if _, ok := in.Config.Labels[LabelContainer]; ok {
			t.Errorf("unmanaged container %s was labelled", in.Name)
		}
	}
	if in, _ := d.eng.Inspect(ctx, by.ID); !in.State.Running {
		t.Errorf("the bystander was stopped")
	}

	// --drift=warn: reported, not corrected.
	w := newReconciler(t, d, DriftWarn)
	w.Apply(ctx, rev1, f) // learns what runs
	have = managedNames(t, d.eng)
	if err := d.eng.Remove(ctx, have["web-1"].ID, 0); err != nil {
		t.Fatal(err)
	}
	res = w.Apply(ctx, rev1, f)
	if st := byName(res, "web-1"); st.State != agentapi.ContainerMissing || len(res.Ops) != 0 || len(res.Drift) != 1 {
		t.Errorf("warn: web-1 %+v ops %v drift %q", st, res.Ops, res.Drift)
	}
	if _, ok := managedNames(t, d.eng)["web-1"]; ok {
		t.Errorf("--drift=warn recreated web-1")
	}
}

// TestImageMissing: a container whose image is not on the host reports a
// clear per-container error (and with IfNotPresent, why the pull failed);
// the other containers are reconciled all the same.
func TestImageMissing(t *testing.T) {
	d := startDockerd(t)
	d.testImage("ddc-test:1")
	r := newReconciler(t, d, DriftCorrect)
	ctx := context.Background()
	f := fleet(t, map[string]string{
		"new-backend": containerFile("new-backend", "nginx:alpine", 1, ""),
		// A registry on a closed loopback port: the pull fails at once.
		"pulled": containerFile("pulled", "127.0.0.1:1/nope:1", 2, "pullPolicy: IfNotPresent\n"),
		"web-3":  containerFile("web-3", "ddc-test:1", 3, ""),
	})
	res := r.Apply(ctx, rev1, f)
	if res.Err != nil || res.Converged() {
		t.Fatalf("apply: err %v converged %v", res.Err, res.Converged())
	}
	st := byName(res, "new-backend")
	if st.State != agentapi.ContainerImageMissing || st.Error != `image "nginx:alpine" not present on host eu-docker-1 (pullPolicy Never: build or load it on the host, or set pullPolicy IfNotPresent)` {
		t.Errorf("new-backend: %+v", st)
	}
	st = byName(res, "pulled")
	if st.State != agentapi.ContainerImageMissing || !strings.HasPrefix(st.Error, `image "127.0.0.1:1/nope:1" not present on host eu-docker-1 and could not be pulled: `) {
		t.Errorf("pulled: %+v", st)
	}
	if st := byName(res, "web-3"); st.State != agentapi.ContainerRunning {
		t.Errorf("web-3: %+v", st)
	}
	if have := managedNames(t, d.eng); len(have) != 1 {
		t.Errorf("managed: %v", have)
	}
}

// TestEngineDownAndBack: with the engine stopped a pass reports every
// container as unknown with the engine's error and does not panic; once
// the engine is back the next pass converges again.
func TestEngineDownAndBack(t *testing.T) {
	d := startDockerd(t)
	d.testImage("ddc-test:1")
	r := newReconciler(t, d, DriftCorrect)
	ctx := context.Background()
	f := fleet(t, map[string]string{"web-1": containerFile("web-1", "ddc-test:1", 1, "")})
	if res := r.Apply(ctx, rev1, f); !res.Converged() {
		t.Fatalf("apply: %+v", res)
	}
	d.stop()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	res := r.Apply(cctx, rev1, f)
	cancel()
	if res.Err == nil || !strings.Contains(res.Err.Error(), "docker engine unreachable") {
		t.Fatalf("engine down: err %v", res.Err)
	}
	if st := byName(res, "web-1"); st.State != agentapi.ContainerUnknown || st.Error == "" {
		t.Errorf("engine down: web-1 %+v", st)
	}
	d.start()
	waitFor(t, "web-1 running again", func() (bool, string) {
		res := r.Apply(ctx, rev1, f)
		return res.Converged(), byName(res, "web-1").State
	})
	waitHealthy(t, r, "web-1")
}
