package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/ddc-gitops/ddc-gitops/webhooks"
)

// TestOpenAPIMatchesRoutes: the document lists exactly the router's routes.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t, envOpts{})
	var routes []string
	err := chi.Walk(e.srv.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if uiPaths[route] {
			return nil // the status page (ui.go): HTML, not the JSON API
		}
		routes = append(routes, method+" "+strings.TrimSuffix(route, "/"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res := e.call("GET", "/api/v1/openapi.json", "", nil)
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	res.decode(t, &doc)
	if res.code != 200 || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi.json: %d", res.code)
	}
	var documented []string
	for p, ops := range doc.Paths {
		for m, op := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
			if _, ok := op["responses"]; !ok {
				t.Errorf("%s %s has no responses", m, p)
			}
			// Every {param} of the path is declared.
			params, _ := op["parameters"].([]any)
			for _, seg := range strings.Split(p, "/") {
				if !strings.HasPrefix(seg, "{") {
					continue
				}
				name := strings.Trim(seg, "{}")
				found := false
				for _, pa := range params {
					if pm := pa.(map[string]any); pm["name"] == name && pm["in"] == "path" {
						found = true
					}
				}
				if !found {
					t.Errorf("%s %s does not declare path parameter %s", m, p, name)
				}
			}
		}
	}
	sort.Strings(routes)
	sort.Strings(documented)
	if strings.Join(routes, "\n") != strings.Join(documented, "\n") {
		t.Fatalf("routes and OpenAPI paths differ:\nrouter:\n%s\n\nopenapi:\n%s", strings.Join(routes, "\n"), strings.Join(documented, "\n"))
	}
	// Every $ref resolves.
	var full map[string]any
	res.decode(t, &full)
	schemas := full["components"].(map[string]any)["schemas"].(map[string]any)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok {
				if _, ok := schemas[strings.TrimPrefix(r, "#/components/schemas/")]; !ok {
					t.Errorf("dangling $ref %s", r)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(full)
}

func TestMetricsAndRequestID(t *testing.T) {
	e := newEnv(t, envOpts{})
	if res := e.call("POST", "/api/v1/backends/ddc_nodes_http/servers", "otto", `{"name":"m-1","address":"10.1.0.140:80"}`); res.code != 202 {
		t.Fatal(res.code)
	}
	e.call("POST", "/api/v1/backends/ddc_nodes_http/servers", "otto", `{"name":"loop","address":"198.18.1.100:80"}`)
	for _, path := range []string{"/metrics", "/api/v1/metrics"} {
		res := e.call("GET", path, "", nil)
		body := string(res.body)
		for _, want := range []string{
			`ddc_gitops_api_requests_total{code="202",method="POST",route="/api/v1/backends/{backend}/servers"} 1`,
			`ddc_gitops_api_commits_total{result="committed"} 1`,
			`ddc_gitops_api_commits_total{result="rejected"} 1`,
			`ddc_gitops_api_validation_failures_total 1`,
			`ddc_gitops_api_commit_conflicts_total 0`,
			`ddc_gitops_api_commit_duration_seconds_count 2`,
			`ddc_gitops_api_request_duration_seconds_bucket{method="POST",route="/api/v1/backends/{backend}/servers"`,
		} {
			if res.code != 200 || !strings.Contains(body, want) {
				t.Errorf("%s lacks %q", path, want)
			}
		}
	}
	// A well-formed request id is kept; a malformed one is replaced.
	if got := e.call("GET", "/api/v1/health", "", nil, RequestIDHeader, "abc-123").header.Get(RequestIDHeader); got != "abc-123" {
		t.Errorf("request id %q", got)
	}
	if got := e.call("GET", "/api/v1/health", "", nil, RequestIDHeader, "bad id with spaces and /slashes").header.Get(RequestIDHeader); got == "" || strings.Contains(got, " ") {
		t.Errorf("request id %q", got)
	}
}

// TestWebhookSyncsAgents: a signed push reaches every registered agent's
// /v1/sync; a forged one reaches none.
func TestWebhookSyncsAgents(t *testing.T) {
	e := newEnv(t, envOpts{agents: true, cfg: func(c *Config) {
		c.GitHubWebhookSecret, c.GenericWebhookSecret, c.NoSyncOnCommit = "gh-secret", "generic-secret", true
	}})
	push := []byte(`{"ref":"refs/heads/main","after":"89abcdef0123456789abcdef0123456789abcdef","pusher":{"name":"ada"}}`)
	send := func(sig, delivery string) int {
		return e.call("POST", "/api/v1/webhooks/github", "", push, "X-GitHub-Event", "push", "X-GitHub-Delivery", delivery, "X-Hub-Signature-256", sig).code
	}
	if code := send(webhooks.Sign([]byte("wrong"), push), "d-0"); code != 401 {
		t.Fatalf("forged: %d", code)
	}
	e.srv.github.Wait()
	for h, a := range e.agents {
		if a.syncCount() != 0 {
			t.Fatalf("%s synced on a forged webhook", h)
		}
	}
	if code := send(webhooks.Sign([]byte("gh-secret"), push), "d-1"); code != 202 {
		t.Fatalf("push: %d", code)
	}
	if code := send(webhooks.Sign([]byte("gh-secret"), push), "d-1"); code != 200 {
		t.Fatalf("duplicate: %d", code)
	}
	e.srv.github.Wait()
	for h, a := range e.agents {
		if n := a.syncCount(); n != 1 {
			t.Fatalf("%s synced %d times, want 1", h, n)
		}
	}
	res := e.call("POST", "/api/v1/webhooks/generic", "", "{}", "X-Signature-256", webhooks.Sign([]byte("generic-secret"), []byte("{}")))
	e.srv.generic.Wait()
	if res.code != 202 || e.agents["us-haproxy-2"].syncCount() != 2 {
		t.Fatalf("generic: %d %s", res.code, res.body)
	}

	// Without a secret the route answers 404.
	e2 := newEnv(t, envOpts{})
	if res := e2.call("POST", "/api/v1/webhooks/github", "", push); res.code != 404 || res.apiError(t).Code != CodeNotConfigured {
		t.Fatalf("unconfigured: %d %s", res.code, res.body)
	}
}

// TestServe runs the real server on a free port and stops it on cancel.
func TestServe(t *testing.T) {
	e := newEnv(t, envOpts{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln) }()
	url := fmt.Sprintf("http://%s/api/v1/health", ln.Addr())
	var h HealthResponse
	eventually(t, "the server answers", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&h) == nil
	})
	if h.Status != "healthy" {
		t.Fatalf("health %+v", h)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get(url); err == nil {
		t.Fatal("still serving after cancel")
	}
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent logging.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestAccessLog(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, envOpts{deps: func(d *Deps) { d.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) }})
	e.call("GET", "/api/v1/backends/ddc_nodes_http/servers", "vera", nil, RequestIDHeader, "log-req-1")
	var entry map[string]any
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"request_id":"log-req-1"`) && strings.Contains(line, `"msg":"request"`) {
			if err := json.Unmarshal([]byte(line), &entry); err != nil {
				t.Fatal(err)
			}
		}
	}
	if entry == nil {
		t.Fatalf("no access log line for the request:\n%s", logs.String())
	}
	for k, want := range map[string]any{"method": "GET", "route": "/api/v1/backends/{backend}/servers", "status": 200.0, "user": "vera"} {
		if entry[k] != want {
			t.Errorf("access log %s = %v, want %v", k, entry[k], want)
		}
	}
}
