package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
)

// TestContainersLifecycle: the original design's body declares a container
// as one validated commit (host and address chosen from the zone), a name
// in use is 409, a bad image or zone 422 with nothing committed, GET joins
// git with the container host's report, DELETE removes the file.
func TestContainersLifecycle(t *testing.T) {
	e := newEnv(t, envOpts{transport: local, agents: true, cfg: func(c *Config) {}})
	dockerAgent := newFakeAgent(t, "eu-docker-1", "eu", e.bare)
	e.srv.agents = NewAgents(append(e.srv.cfg.Agents, Agent{Host: "eu-docker-1", Zone: "eu", URL: dockerAgent.srv.URL}), "sync-token", time.Second, nil)
	seed := e.head()

	orig := `{"name":"new-backend","image":"nginx:alpine","zone":"eu"}`
	res := e.call(http.MethodPost, "/api/v1/containers", "otto", orig)
	if res.code != http.StatusAccepted {
		t.Fatalf("POST: %d %s", res.code, res.body)
	}
	var m struct {
		Revision  string         `json:"revision"`
		Container map[string]any `json:"container"`
	}
	res.decode(t, &m)
	if m.Container["host"] != "eu-docker-1" || m.Container["address"] != "198.18.1.65" {
		t.Errorf("placement: %v", m.Container)
	}
	e.validAt(m.Revision)
	file := e.show(m.Revision, "containers/new-backend.yaml")
	for _, want := range []string{"kind: Container", "name: new-backend", "image: nginx:alpine", "zone: eu", "host: eu-docker-1", "address: 198.18.1.65", "port: 80", "serve:\n  backend: ddc_nodes_http"} {
		if !strings.Contains(file, want) {
			t.Errorf("containers/new-backend.yaml lacks %q:\n%s", want, file)
		}
	}
	if msg := gitRun(t, e.bare, "log", "-1", "--format=%an %s%n%b", m.Revision); !strings.Contains(msg, "otto api: add container new-backend (nginx:alpine) in eu") || !strings.Contains(msg, "Api-Endpoint: POST /api/v1/containers") {
		t.Errorf("commit: %s", msg)
	}

	// The same name again: 409, nothing committed.
	head := e.head()
	if res := e.call(http.MethodPost, "/api/v1/containers", "otto", orig); res.code != http.StatusConflict || res.apiError(t).Code != CodeDuplicate {
		t.Errorf("duplicate: %d %s", res.code, res.body)
	}
	// A bad image reference and an unknown zone: 422 naming the problem.
	res = e.call(http.MethodPost, "/api/v1/containers", "otto", `{"name":"bad-image","image":"Nginx:alpine; rm -rf /","zone":"eu"}`)
	if e := res.apiError(t); res.code != http.StatusUnprocessableEntity || len(e.Details) != 1 || e.Details[0].File != "containers/bad-image.yaml" || e.Details[0].Line != 3 || e.Details[0].Field != "image" {
		t.Errorf("bad image: %d %s", res.code, res.body)
	}
	res = e.call(http.MethodPost, "/api/v1/containers", "otto", `{"name":"nowhere","image":"nginx:alpine","zone":"mars"}`)
	if res.code != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), `zone \"mars\" does not exist`) {
		t.Errorf("bad zone: %d %s", res.code, res.body)
	}
	// A viewer may not add containers; a bad name is refused before git.
	if res := e.call(http.MethodPost, "/api/v1/containers", "vera", orig); res.code != http.StatusForbidden {
		t.Errorf("viewer: %d", res.code)
	}
	if res := e.call(http.MethodPost, "/api/v1/containers", "otto", `{"name":"../x","image":"nginx:alpine","zone":"eu"}`); res.code != http.StatusBadRequest {
		t.Errorf("bad name: %d %s", res.code, res.body)
	}
	if e.head() != head {
		t.Errorf("a refused request committed")
	}

	// GET joins git with the container host's report.
	res = e.call(http.MethodGet, "/api/v1/containers", "vera", nil)
	var list ContainersResponse
	res.decode(t, &list)
	if res.code != http.StatusOK || len(list.Containers) != 1 || list.Containers[0].State != ContainerStatePending {
		t.Fatalf("GET before the host reported: %d %s", res.code, res.body)
	}
	dockerAgent.set(func(s *agentapi.Status) {
		s.Containers = []agentapi.ContainerStatus{{Name: "new-backend", Image: "nginx:alpine", State: agentapi.ContainerImageMissing, Health: "none",
			Error: `image "nginx:alpine" not present on host eu-docker-1 (pullPolicy Never: build or load it on the host, or set pullPolicy IfNotPresent)`}}
	})
	res = e.call(http.MethodGet, "/api/v1/containers/new-backend", "vera", nil)
	var one ContainerView
	res.decode(t, &one)
	if one.State != agentapi.ContainerImageMissing || !strings.Contains(one.Error, "not present on host eu-docker-1") || one.Host != "eu-docker-1" {
		t.Errorf("GET one: %s", res.body)
	}
	if res := e.call(http.MethodGet, "/api/v1/containers/nope", "vera", nil); res.code != http.StatusNotFound {
		t.Errorf("GET unknown: %d", res.code)
	}

	// A second container takes the next address.
	res = e.call(http.MethodPost, "/api/v1/containers", "otto", `{"name":"dynamic-backend-1","image":"ddc-node:lab","zone":"eu","port":8080,"serve":{"backend":"ddc_nodes_http"}}`)
	res.decode(t, &m)
	if res.code != http.StatusAccepted || m.Container["address"] != "198.18.1.66" {
		t.Errorf("second POST: %d %s", res.code, res.body)
	}

	// DELETE removes the file; again is 404.
	res = e.call(http.MethodDelete, "/api/v1/containers/new-backend", "otto", nil)
	res.decode(t, &m)
	if res.code != http.StatusAccepted || strings.Contains(gitRun(t, e.bare, "ls-tree", "-r", "--name-only", m.Revision), "containers/new-backend.yaml") {
		t.Errorf("DELETE: %d %s", res.code, res.body)
	}
	if res := e.call(http.MethodDelete, "/api/v1/containers/new-backend", "otto", nil); res.code != http.StatusNotFound {
		t.Errorf("DELETE again: %d %s", res.code, res.body)
	}
	_ = seed
}

// TestContainerWaitApplied: ?wait=applied on POST /containers answers 200
// only once the container host runs it healthy and the zone's HAProxy hosts
// applied the commit without holding its server out of rotation.
func TestContainerWaitApplied(t *testing.T) {
	e := newEnv(t, envOpts{transport: local, agents: true})
	dockerAgent := newFakeAgent(t, "eu-docker-1", "eu", e.bare)
	e.srv.agents = NewAgents(append(e.srv.cfg.Agents, Agent{Host: "eu-docker-1", Zone: "eu", URL: dockerAgent.srv.URL}), "sync-token", time.Second, nil)
	for _, h := range []string{"eu-haproxy-1", "eu-haproxy-2"} {
		e.agents[h].autoApply = true
	}
	dockerAgent.autoApply = true
	body := `{"name":"dynamic-backend-1","image":"ddc-node:lab","zone":"eu","port":8080,"serve":{"backend":"ddc_nodes_http"}}`

	// The container never gets healthy: the wait times out (202).
	res := e.call(http.MethodPost, "/api/v1/containers?wait=applied&timeout=300ms", "otto", body)
	if res.code != http.StatusAccepted || !strings.Contains(string(res.body), `"timed_out": true`) {
		t.Fatalf("unhealthy: %d %s", res.code, res.body)
	}
	// Healthy on its host and not pending on the HAProxy hosts: 200.
	dockerAgent.set(func(s *agentapi.Status) {
		s.Containers = []agentapi.ContainerStatus{{Name: "dynamic-backend-1", State: agentapi.ContainerRunning, Health: "healthy"}}
	})
	res = e.call(http.MethodDelete, "/api/v1/containers/dynamic-backend-1", "otto", nil)
	if res.code != http.StatusAccepted {
		t.Fatalf("delete: %d %s", res.code, res.body)
	}
	res = e.call(http.MethodPost, "/api/v1/containers?wait=applied&timeout=5s", "otto", body)
	if res.code != http.StatusOK || !strings.Contains(string(res.body), `"eu-haproxy-1": true`) {
		t.Fatalf("healthy: %d %s", res.code, res.body)
	}
}

// TestContainerIdempotencyAndIfMatch: a retried POST with the same
// Idempotency-Key replays the first answer (one commit); If-Match with a
// revision the containers directory moved since is refused.
func TestContainerIdempotencyAndIfMatch(t *testing.T) {
	e := newEnv(t, envOpts{transport: local})
	seed := e.head()
	body := `{"name":"web-1","image":"ddc-node:lab","zone":"eu"}`
	first := e.call(http.MethodPost, "/api/v1/containers", "otto", body, "Idempotency-Key", "k-1")
	if first.code != http.StatusAccepted {
		t.Fatalf("POST: %d %s", first.code, first.body)
	}
	head := e.head()
	again := e.call(http.MethodPost, "/api/v1/containers", "otto", body, "Idempotency-Key", "k-1")
	if again.code != first.code || string(again.body) != string(first.body) || e.head() != head {
		t.Errorf("replay: %d %s (head moved: %v)", again.code, again.body, e.head() != head)
	}
	// An explicit address already taken: 422 naming the clash.
	res := e.call(http.MethodPost, "/api/v1/containers", "otto", `{"name":"web-2","image":"ddc-node:lab","zone":"eu","address":"198.18.1.65"}`)
	if res.code != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), `already the address of container`) {
		t.Errorf("clashing address: %d %s", res.code, res.body)
	}
	// DELETE based on the seed, before web-1 existed: 412.
	res = e.call(http.MethodDelete, "/api/v1/containers/web-1", "otto", nil, "If-Match", `"`+seed+`"`)
	if res.code != http.StatusPreconditionFailed {
		t.Errorf("stale If-Match: %d %s", res.code, res.body)
	}
	if e.head() != head {
		t.Errorf("a refused request committed")
	}
}
