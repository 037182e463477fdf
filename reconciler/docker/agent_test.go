package docker

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/reconciler"
	"github.com/ddc-gitops/ddc-gitops/reconciler/trigger"
)

// TestAgentContainerRole runs the container role as the agent does: it
// follows a directory, reports each container in /v1/status and metrics,
// recreates a container killed by hand on the engine's event (no poll), and
// keeps running while the engine is down, recovering when it is back.
func TestAgentContainerRole(t *testing.T) {
	d := startDockerd(t)
	d.testImage("ddc-test:1")
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-r", "../../examples/fleet/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if err := os.MkdirAll(filepath.Join(dir, "containers"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "containers", "web-1.yaml"), []byte(containerFile("web-1", "ddc-test:1", 1, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "containers", "new-backend.yaml"), []byte(containerFile("new-backend", "nginx:alpine", 2, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	a, err := NewAgent(AgentConfig{
		Reconciler: ReconcilerConfig{Engine: d.eng, Host: "eu-docker-1", Networking: NetworkNone},
		Source:     &reconciler.DirSource{Dir: dir},
		Resync:     time.Hour, // only triggers and engine events
		Registry:   reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	h, err := a.Handler(trigger.HTTPAuth{Token: "t"}, reg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := &agentapi.Client{BaseURL: srv.URL, Token: "t"}

	container := func(s *agentapi.Status, name string) agentapi.ContainerStatus {
		for _, c := range s.Containers {
			if c.Name == name {
				return c
			}
		}
		return agentapi.ContainerStatus{}
	}
	var first string
	waitFor(t, "web-1 running and healthy in /v1/status", func() (bool, string) {
		s, err := client.Status(ctx)
		if err != nil {
			return false, err.Error()
		}
		c := container(s, "web-1")
		first = c.ID
		return c.State == agentapi.ContainerRunning && c.Health == HealthHealthy, c.State + "/" + c.Health
	})
	s, _ := client.Status(ctx)
	if c := container(s, "new-backend"); c.State != agentapi.ContainerImageMissing || !strings.Contains(c.Error, `image "nginx:alpine" not present`) {
		t.Errorf("new-backend: %+v", c)
	}
	if s.Steps["containers"] == 0 || s.Steps["fetch"] == 0 {
		t.Errorf("steps: %v", s.Steps)
	}
	resp, err := srv.Client().Get(srv.URL + agentapi.PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`ddc_gitops_agent_containers{state="running"} 1`, `ddc_gitops_agent_containers{state="image-missing"} 1`, `ddc_gitops_agent_step_duration_seconds_count{step="containers"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// docker kill: the engine's event brings it back.
	if err := d.eng.c.ContainerKill(ctx, first, "KILL"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web-1 recreated after docker kill", func() (bool, string) {
		s := a.Status()
		c := container(&s, "web-1")
		return c.ID != first && c.State == agentapi.ContainerRunning && c.Health == HealthHealthy, c.State + "/" + c.Health
	})

	// Engine down: the agent reports and keeps running; back: it recovers.
	d.stop()
	a.Trigger().Notify("test")
	waitFor(t, "the engine's absence in /v1/status", func() (bool, string) {
		s, err := client.Status(ctx)
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(s.LastError, "docker engine unreachable") && container(s, "web-1").State == agentapi.ContainerUnknown, s.LastError
	})
	d.start()
	a.Trigger().Notify("test")
	waitFor(t, "web-1 running after the engine is back", func() (bool, string) {
		s := a.Status()
		c := container(&s, "web-1")
		if c.State != agentapi.ContainerRunning {
			a.Trigger().Notify("test")
		}
		return c.State == agentapi.ContainerRunning && s.LastError == "", c.State + " " + s.LastError + " " + c.Error
	})

	// An invalid revision: the status names it as failed together with
	// its error (never one without the other), and web-1 keeps running;
	// a valid revision after it clears it.
	bad := filepath.Join(dir, "containers", "bad.yaml")
	if err := os.WriteFile(bad, []byte("kind: Container\nname: bad\nno-such-field: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.Trigger().Notify("test")
	waitFor(t, "the invalid revision in /v1/status", func() (bool, string) {
		s := a.Status()
		if s.FailedRevision != "" && (s.LastError == "" || s.LastResult != agentapi.ResultFailed) {
			t.Fatalf("failed revision %s without its error: result %s, error %q", s.FailedRevision, s.LastResult, s.LastError)
		}
		return s.FailedRevision != "" && s.FailedRevision == s.DesiredRevision && strings.Contains(s.LastError, "bad.yaml"), s.LastResult + " " + s.LastError
	})
	if c := container(ptr(a.Status()), "web-1"); c.State != agentapi.ContainerRunning {
		t.Fatalf("web-1 during the invalid revision: %+v", c)
	}
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	a.Trigger().Notify("test")
	waitFor(t, "a valid revision to clear the failed one", func() (bool, string) {
		s := a.Status()
		return s.FailedRevision == "" && s.LastError == "", s.FailedRevision + " " + s.LastError
	})
}

func ptr[T any](v T) *T { return &v }
