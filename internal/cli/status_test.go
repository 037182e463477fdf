package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/api"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

// statusAgent serves an agent's status and host state.
type statusAgent struct {
	mu     sync.Mutex
	status agentapi.Status
	down   bool
}

func (a *statusAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var v any
	switch r.URL.Path {
	case agentapi.PathStatus:
		v = a.status
	case agentapi.PathHostState:
		v = agentapi.HostState{Host: a.status.Host, Backends: []agentapi.BackendState{},
			VIPs: []agentapi.VIPState{{Instance: "vi", Address: "198.18.1.100", Held: a.status.Host == "eu-haproxy-1"}}}
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (a *statusAgent) set(fn func(*agentapi.Status)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fn(&a.status)
}

// TestStatusAgainstRunningAPI runs `ddc-gitops status` against a real API
// server on the example fleet whose agents report their status.
func TestStatusAgainstRunningAPI(t *testing.T) {
	gs := gitservertest.New(t, gitserver.Options{})
	head := gitservertest.MustSeed(t, gs, "../../examples/fleet", "seed")
	r, err := repo.Open(context.Background(), repo.Options{URL: gs.RepoPath(), Dir: filepath.Join(t.TempDir(), "clone")})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("vera-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{Version: "test", Users: []api.User{{Username: "vera", PasswordHash: string(hash), Role: api.RoleViewer}},
		JWTSecret: []byte("0123456789abcdef0123456789abcdef-status"), DefaultZone: "eu", AgentToken: "sync", AuthRate: 100, AuthBurst: 100}
	agents := map[string]*statusAgent{}
	for _, h := range []struct{ host, zone string }{{"eu-haproxy-1", "eu"}, {"eu-haproxy-2", "eu"}, {"us-haproxy-1", "us"}, {"us-haproxy-2", "us"}} {
		a := &statusAgent{status: agentapi.Status{Host: h.host, Zone: h.zone, AppliedRevision: head, DesiredRevision: head, LastResult: agentapi.ResultNoop,
			Counts: agentapi.Counts{HAProxyReloads: 2}}}
		srv := httptest.NewServer(a)
		t.Cleanup(srv.Close)
		agents[h.host] = a
		cfg.Agents = append(cfg.Agents, api.Agent{Host: h.host, Zone: h.zone, URL: srv.URL})
	}
	s, err := api.New(cfg, api.Deps{Repo: r, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); s.Close() })

	resp, err := http.Post(hs.URL+"/api/v1/auth/token", "application/json", strings.NewReader(`{"username":"vera","password":"vera-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tok api.TokenResponse
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(b, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %s %v", b, err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(tok.AccessToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// A healthy fleet: a table, exit 0.
	code, out, errOut := run(t, "status", "--api", hs.URL, "--token-file", tokenFile)
	if code != ExitOK {
		t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"Branch head " + head[:12] + ": 4 hosts, 4 on the head", "ZONE  HOST", "eu-haproxy-1", "us-haproxy-2", "198.18.1.100", "REVISION", "seed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, head[:12]+"  "+head[:12]+"  True"); n != 4 {
		t.Errorf("%d hosts shown ready on the head, want 4:\n%s", n, out)
	}

	// The token from the environment; -o json is the API's view.
	t.Setenv(statusTokenEnv, tok.AccessToken)
	code, out, _ = run(t, "status", "--api", hs.URL+"/", "-o", "json")
	var v api.FleetView
	if code != ExitOK || json.Unmarshal([]byte(out), &v) != nil || v.Revision != head || v.Summary.Hosts != 4 || len(v.Zones) != 2 {
		t.Fatalf("status -o json: exit %d\n%s", code, out)
	}

	// A failed host, a stalled one, an unreachable one: exit 1, each named.
	agents["eu-haproxy-2"].set(func(s *agentapi.Status) { s.LastResult, s.LastError = agentapi.ResultFailed, "haproxy -c failed" })
	code, out, errOut = run(t, "status", "--api", hs.URL)
	if code != ExitInvalid || !strings.Contains(errOut, "eu-haproxy-2") || !strings.Contains(out, "haproxy -c failed") {
		t.Fatalf("failed host: exit %d\n%s%s", code, out, errOut)
	}
	agents["eu-haproxy-2"].set(func(s *agentapi.Status) { s.LastResult, s.LastError = agentapi.ResultNoop, "" })
	agents["us-haproxy-1"].set(func(s *agentapi.Status) { s.LastResult = agentapi.ResultStalled })
	if code, _, errOut = run(t, "status", "--api", hs.URL, "-o", "json"); code != ExitInvalid || !strings.Contains(errOut, "us-haproxy-1") {
		t.Fatalf("stalled host: exit %d %s", code, errOut)
	}
	agents["us-haproxy-1"].set(func(s *agentapi.Status) { s.LastResult = agentapi.ResultNoop })
	agents["us-haproxy-2"].mu.Lock()
	agents["us-haproxy-2"].down = true
	agents["us-haproxy-2"].mu.Unlock()
	if code, out, errOut = run(t, "status", "--api", hs.URL); code != ExitInvalid || !strings.Contains(out, "unreachable") {
		t.Fatalf("unreachable host: exit %d\n%s%s", code, out, errOut)
	}

	// Usage and auth errors.
	t.Setenv(statusTokenEnv, "")
	if code, _, errOut := run(t, "status", "--api", hs.URL); code != ExitUsage || !strings.Contains(errOut, statusTokenEnv) {
		t.Errorf("no token: exit %d %s", code, errOut)
	}
	if code, _, _ := run(t, "status", "--api", "ftp://x", "--token-file", tokenFile); code != ExitUsage {
		t.Errorf("bad --api: exit %d", code)
	}
	t.Setenv(statusTokenEnv, "not-a-token")
	if code, _, errOut := run(t, "status", "--api", hs.URL); code != ExitInvalid || !strings.Contains(errOut, "401") {
		t.Errorf("bad token: exit %d %s", code, errOut)
	}
}
