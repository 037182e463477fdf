package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/forge"
)

// fakeGitHub imitates the GitHub REST endpoints the forge uses (under
// /api-v3/) and records every request.
type fakeGitHub struct {
	srv      *httptest.Server
	mu       sync.Mutex
	requests []string // "METHOD /path body"
	prs      int
	statuses []map[string]string
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := &fakeGitHub{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.requests = append(f.requests, r.Method+" "+r.URL.Path+" "+strings.TrimSpace(string(body)))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/api-v3/repos/acme/fleet/pulls":
			_, _ = io.WriteString(w, "[]")
		case r.Method == "POST" && r.URL.Path == "/api-v3/repos/acme/fleet/pulls":
			var in map[string]any
			_ = json.Unmarshal(body, &in)
			f.prs++
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]any{"number": f.prs, "state": "open", "title": in["title"], "body": in["body"],
				"html_url": "https://github.example/acme/fleet/pull/" + string(rune('0'+f.prs)),
				"head":     map[string]any{"ref": in["head"]}, "base": map[string]any{"ref": in["base"]}})
		case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/labels"):
			var names []string
			_ = json.Unmarshal(body, &names)
			out := []map[string]string{}
			for _, n := range names {
				out = append(out, map[string]string{"name": n})
			}
			_ = json.NewEncoder(w).Encode(out)
		case r.Method == "POST" && strings.HasPrefix(r.URL.Path, "/api-v3/repos/acme/fleet/statuses/"):
			var in map[string]string
			_ = json.Unmarshal(body, &in)
			in["sha"] = strings.TrimPrefix(r.URL.Path, "/api-v3/repos/acme/fleet/statuses/")
			f.statuses = append(f.statuses, in)
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(body)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHub) forge(t *testing.T) *forge.GitHub {
	g, err := forge.NewGitHub(forge.GitHubOptions{Token: "t", BaseURL: f.srv.URL + "/api-v3/", Owner: "acme", Repo: "fleet"})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func (f *fakeGitHub) sent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.statuses)
}

// status returns the last status sent for sha and context, "" if none.
func (f *fakeGitHub) status(sha, context string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	state := ""
	for _, s := range f.statuses {
		if s["sha"] == sha && s["context"] == context {
			state = s["state"]
		}
	}
	return state
}

func TestPRMode(t *testing.T) {
	gh := newFakeGitHub(t)
	e := newEnv(t, envOpts{
		cfg:  func(c *Config) { c.PR = PRMode{Roles: []Role{RoleOperator}, Routes: []string{"POST /api/v1/config"}} },
		deps: func(d *Deps) { d.Forge = gh.forge(t) },
	})
	main := e.head()
	res := e.call("POST", "/api/v1/backends/ddc_nodes_http/servers", "otto", `{"name":"pr-1","address":"10.1.0.120:80"}`, RequestIDHeader, "req-pr")
	var out struct {
		Branch         string `json:"branch"`
		PullRequestURL string `json:"pull_request_url"`
		Revision       string `json:"revision"`
	}
	res.decode(t, &out)
	if res.code != 202 || !strings.HasPrefix(out.Branch, "api/otto/") || out.PullRequestURL != "https://github.example/acme/fleet/pull/1" {
		t.Fatalf("PR mode: %d %s", res.code, res.body)
	}
	if e.head() != main {
		t.Fatal("PR mode moved main")
	}
	if got := gitRun(t, e.bare, "rev-parse", out.Branch); got != out.Revision {
		t.Fatalf("branch %s is at %s, want %s", out.Branch, got, out.Revision)
	}
	if !strings.Contains(e.show(out.Revision, "backends/ddc_nodes_http.yaml"), "name: pr-1") {
		t.Fatal("the branch lacks the change")
	}
	gh.mu.Lock()
	reqs := strings.Join(gh.requests, "\n")
	gh.mu.Unlock()
	for _, want := range []string{
		"GET /api-v3/repos/acme/fleet/pulls ",
		`POST /api-v3/repos/acme/fleet/pulls {"title":"api: add server pr-1 to ddc_nodes_http (eu)","head":"` + out.Branch + `","base":"main","body":"Proposed through the ddc-gitops API by otto.`,
		`Request-Id: req-pr`,
		`POST /api-v3/repos/acme/fleet/issues/1/labels ["ddc-gitops","api"]`,
	} {
		if !strings.Contains(reqs, want) {
			t.Errorf("GitHub did not get %q; got:\n%s", want, reqs)
		}
	}
	// The admin is not in a PR role, but POST /config is a PR route, in
	// its zone form too.
	res = e.call("POST", "/api/v1/zones/us/config", "ada", `{"backend":"ddc_nodes_http","servers":[]}`)
	if res.code != 200 { // nothing to remove in us: no change, no PR
		t.Fatalf("no-op PR route: %d %s", res.code, res.body)
	}
	res = e.call("POST", "/api/v1/zones/us/config", "ada", `{"backend":"ddc_nodes_http","servers":[{"name":"pr-2","address":"10.2.0.120:80"}]}`)
	if res.code != 202 || !strings.Contains(string(res.body), `"branch": "api/ada/`) {
		t.Fatalf("PR route: %d %s", res.code, res.body)
	}
	// Other admin changes go straight to the branch.
	if res := e.call("POST", "/api/v1/config/reload", "ada", nil); res.code != 202 || strings.Contains(string(res.body), "branch") || e.head() == main {
		t.Fatalf("direct change: %d %s", res.code, res.body)
	}
}

// TestStatusReporter: per-host statuses and the roll-up go pending, then
// success as agents apply; a failing host makes them failure.
func TestStatusReporter(t *testing.T) {
	gh := newFakeGitHub(t)
	e := newEnv(t, envOpts{agents: true, cfg: func(c *Config) { c.CommitStatuses, c.NoSyncOnCommit = true, true }, deps: func(d *Deps) { d.Forge = gh.forge(t) }})
	res := e.call("POST", "/api/v1/backends/ddc_nodes_http/servers", "otto", `{"name":"st-1","address":"10.1.0.130:80"}`)
	if res.code != 202 {
		t.Fatalf("add: %d %s", res.code, res.body)
	}
	rev := e.head()
	rep := e.srv.reporter
	ctx := context.Background()
	rep.Poll(ctx)
	for _, c := range []string{"ddc-gitops", "ddc-gitops/eu-haproxy-1", "ddc-gitops/eu-haproxy-2"} {
		if got := gh.status(rev, c); got != forge.StatusPending {
			t.Fatalf("%s = %q, want pending", c, got)
		}
	}
	if got := gh.status(rev, "ddc-gitops/us-haproxy-1"); got != "" {
		t.Fatalf("an eu change got a status for a us host: %q", got)
	}
	n := gh.sent()
	rep.Poll(ctx) // nothing changed: nothing sent
	if gh.sent() != n {
		t.Fatalf("unchanged statuses were sent again (%d -> %d)", n, gh.sent())
	}
	e.agents["eu-haproxy-1"].set(func(s *agentapi.Status) { s.AppliedRevision = rev })
	rep.Poll(ctx)
	if gh.status(rev, "ddc-gitops/eu-haproxy-1") != forge.StatusSuccess || gh.status(rev, "ddc-gitops") != forge.StatusPending {
		t.Fatal("one host applied: want its status success, the roll-up pending")
	}
	e.agents["eu-haproxy-2"].set(func(s *agentapi.Status) { s.AppliedRevision = rev })
	rep.Poll(ctx)
	if gh.status(rev, "ddc-gitops") != forge.StatusSuccess {
		t.Fatal("all applied: roll-up not success")
	}

	// A revision pushed around the API (found as the new head) that a host fails on.
	res = e.call("POST", "/api/v1/config/reload", "otto", nil)
	if res.code != 202 {
		t.Fatal(res.code)
	}
	rev2 := e.head()
	rep.Poll(ctx)
	e.agents["eu-haproxy-2"].set(func(s *agentapi.Status) {
		s.FailedRevision, s.LastResult, s.LastError = rev2, agentapi.ResultFailed, "haproxy -c: error"
	})
	rep.Poll(ctx)
	if gh.status(rev2, "ddc-gitops/eu-haproxy-2") != forge.StatusFailure || gh.status(rev2, "ddc-gitops") != forge.StatusFailure {
		t.Fatal("a failed host: want failure")
	}
	rep.mu.Lock()
	left := len(rep.tracked)
	rep.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d revisions still tracked after they finished", left)
	}
}

// TestStatusReporterRun: Run polls on its own and stops on cancel.
func TestStatusReporterRun(t *testing.T) {
	gh := newFakeGitHub(t)
	e := newEnv(t, envOpts{agents: true, cfg: func(c *Config) { c.CommitStatuses, c.StatusInterval = true, 10*time.Millisecond }, deps: func(d *Deps) { d.Forge = gh.forge(t) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.reporter.Run(ctx) }()
	head := e.head()
	for _, a := range e.agents {
		a.set(func(s *agentapi.Status) { s.AppliedRevision = head })
	}
	eventually(t, "the roll-up status of the head", func() bool { return gh.status(head, "ddc-gitops") == forge.StatusSuccess })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
