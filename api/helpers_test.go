package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

// Test users; passwords are hashed at the cheapest bcrypt cost for speed.
var testUsers = func() []User {
	var out []User
	for _, u := range []struct {
		name string
		role Role
	}{{"ada", RoleAdmin}, {"otto", RoleOperator}, {"vera", RoleViewer}} {
		h, err := bcrypt.GenerateFromPassword([]byte(u.name+"-password"), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		out = append(out, User{Username: u.name, PasswordHash: string(h), Role: u.role})
	}
	return out
}()

const testSecret = "0123456789abcdef0123456789abcdef-test-secret"

// transport selects how the API's clone reaches the remote.
type transport string

const (
	local     transport = "local"      // a bare repository path (git's own upload/receive-pack)
	smartHTTP transport = "smart-http" // git http-backend over HTTP
)

var transports = []transport{local, smartHTTP}

// env is an API server on a real remote, with fake agents.
type env struct {
	t      testing.TB
	bare   string // the remote's bare repository, for the git CLI
	gs     *gitserver.Server
	url    string // what the API clones: the bare path or its HTTP URL
	repo   *repo.Repo
	srv    *Server
	http   *httptest.Server
	agents map[string]*fakeAgent
	clock  *clock
	tokens map[string]string
}

type envOpts struct {
	transport transport
	cfg       func(*Config)
	deps      func(*Deps)
	// agents: one fake agent per HAProxy host of the example fleet.
	agents bool
}

// clock is an adjustable clock for token expiry tests.
type clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	e := &env{t: t, agents: map[string]*fakeAgent{}, clock: &clock{at: time.Now()}, tokens: map[string]string{}}
	gs := seededServer(t)
	e.gs = gs
	e.bare, e.url = gs.RepoPath(), gs.RepoPath()
	if o.transport == smartHTTP {
		e.url = gs.URL()
	}
	r, err := repo.Open(context.Background(), repo.Options{URL: e.url, Dir: filepath.Join(t.TempDir(), "clone")})
	if err != nil {
		t.Fatal(err)
	}
	e.repo = r
	cfg := Config{Version: "test", Users: testUsers, JWTSecret: []byte(testSecret), DefaultZone: "eu", AgentToken: "sync-token",
		AuthRate: 1000, AuthBurst: 1000, WaitPoll: 10 * time.Millisecond}
	if o.agents {
		for _, h := range []struct{ host, zone string }{{"eu-haproxy-1", "eu"}, {"eu-haproxy-2", "eu"}, {"us-haproxy-1", "us"}, {"us-haproxy-2", "us"}} {
			a := newFakeAgent(t, h.host, h.zone, e.bare)
			e.agents[h.host] = a
			cfg.Agents = append(cfg.Agents, Agent{Host: h.host, Zone: h.zone, URL: a.srv.URL})
		}
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	deps := Deps{Repo: r, Now: e.clock.Now, Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if o.deps != nil {
		o.deps(&deps)
	}
	e.srv, err = New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(e.srv.Handler())
	t.Cleanup(func() {
		e.http.Close()
		e.srv.Close()
	})
	return e
}

// seededServer is a git server (a bare repository, also served over smart
// HTTP) seeded with the example fleet.
func seededServer(t testing.TB) *gitserver.Server {
	t.Helper()
	gs := gitservertest.New(t, gitserver.Options{})
	gitservertest.MustSeed(t, gs, "../examples/fleet", "seed")
	return gs
}

func gitRun(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// head is the remote's branch head.
func (e *env) head() string { return gitRun(e.t, e.bare, "rev-parse", "main") }

// show is a file at a revision of the remote, byte for byte.
func (e *env) show(rev, file string) string {
	e.t.Helper()
	out, err := exec.Command("git", "-C", e.bare, "show", rev+":"+file).Output()
	if err != nil {
		e.t.Fatalf("git show %s:%s: %v", rev, file, err)
	}
	return string(out)
}

// token logs user in (once) and returns the bearer token.
func (e *env) token(user string) string {
	e.t.Helper()
	if tok, ok := e.tokens[user]; ok {
		return tok
	}
	res := e.call(http.MethodPost, "/api/v1/auth/token", "", map[string]string{"username": user, "password": user + "-password"})
	if res.code != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", user, res.code, res.body)
	}
	var tr TokenResponse
	res.decode(e.t, &tr)
	e.tokens[user] = tr.AccessToken
	return tr.AccessToken
}

type result struct {
	code   int
	header http.Header
	body   []byte
}

func (r result) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

func (r result) apiError(t testing.TB) APIError {
	t.Helper()
	var e APIError
	r.decode(t, &e)
	return e
}

// call sends a request as user ("" = no token); body is JSON-encoded
// unless it is a string or []byte (sent as is).
func (e *env) call(method, path, user string, body any, headers ...string) result {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+e.token(user))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return result{code: resp.StatusCode, header: resp.Header, body: b}
}

// fakeAgent serves the agent contract: GET /v1/status returns its status;
// POST /v1/sync records the call and, when autoApply is set, "applies" the
// remote's current head (as a real agent would after fetching).
type fakeAgent struct {
	t         testing.TB
	srv       *httptest.Server
	bare      string
	mu        sync.Mutex
	status    agentapi.Status
	syncs     []string
	autoApply bool
	down      bool
}

func newFakeAgent(t testing.TB, host, zone, bare string) *fakeAgent {
	a := &fakeAgent{t: t, bare: bare, status: agentapi.Status{Host: host, Zone: zone, LastResult: agentapi.ResultPending}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *fakeAgent) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.down {
		http.Error(w, "agent down", http.StatusServiceUnavailable)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == agentapi.PathStatus:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a.status)
	case r.Method == http.MethodPost && r.URL.Path == agentapi.PathSync:
		if r.Header.Get("Authorization") != "Bearer sync-token" {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		var body struct{ Reason string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		a.syncs = append(a.syncs, body.Reason)
		if a.autoApply {
			out, err := exec.Command("git", "-C", a.bare, "rev-parse", "main").Output()
			if err == nil {
				rev := strings.TrimSpace(string(out))
				a.status.DesiredRevision, a.status.AppliedRevision, a.status.LastResult = rev, rev, agentapi.ResultApplied
			}
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, r)
	}
}

func (a *fakeAgent) set(fn func(*agentapi.Status)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fn(&a.status)
}

func (a *fakeAgent) syncCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.syncs)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// testWriter sends log output to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return string(b)
}
