package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/api"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

// TestRolloutCommands runs `ddc-gitops rollout hold|promote|status`
// against a real API server on the example fleet.
func TestRolloutCommands(t *testing.T) {
	gs := gitservertest.New(t, gitserver.Options{})
	head := gitservertest.MustSeed(t, gs, "../../examples/fleet", "seed")
	r, err := repo.Open(context.Background(), repo.Options{URL: gs.RepoPath(), Dir: filepath.Join(t.TempDir(), "clone")})
	if err != nil {
		t.Fatal(err)
	}
	var users []api.User
	for _, u := range []struct {
		name string
		role api.Role
	}{{"ada", api.RoleAdmin}, {"vera", api.RoleViewer}} {
		hash, err := bcrypt.GenerateFromPassword([]byte(u.name+"-password"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, api.User{Username: u.name, PasswordHash: string(hash), Role: u.role})
	}
	cfg := api.Config{Version: "test", Users: users, JWTSecret: []byte("0123456789abcdef0123456789abcdef-rollout"), DefaultZone: "eu",
		AgentToken: "sync", AuthRate: 100, AuthBurst: 100}
	for i, h := range []struct{ host, zone string }{{"eu-haproxy-1", "eu"}, {"eu-haproxy-2", "eu"}, {"us-haproxy-1", "us"}, {"us-haproxy-2", "us"}} {
		st := agentapi.Status{Host: h.host, Zone: h.zone, AppliedRevision: head, LastGoodRevision: head, LastResult: agentapi.ResultNoop}
		if i == 3 {
			st.AppliedRevision = ""
			st.Wave = &agentapi.WaveStatus{Wave: 2, Holding: head, WaitingFor: []string{"us-haproxy-1 (wave 1): unreachable: connection refused"}}
		}
		a := &statusAgent{status: st}
		srv := httptest.NewServer(a)
		t.Cleanup(srv.Close)
		cfg.Agents = append(cfg.Agents, api.Agent{Host: h.host, Zone: h.zone, URL: srv.URL})
	}
	s, err := api.New(cfg, api.Deps{Repo: r, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); s.Close() })
	tokenFile := func(user string) string {
		resp, err := http.Post(hs.URL+"/api/v1/auth/token", "application/json", strings.NewReader(`{"username":"`+user+`","password":"`+user+`-password"}`))
		if err != nil {
			t.Fatal(err)
		}
		var tok api.TokenResponse
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := json.Unmarshal(b, &tok); err != nil || tok.AccessToken == "" {
			t.Fatalf("token: %s %v", b, err)
		}
		p := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(p, []byte(tok.AccessToken+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	admin, viewer := tokenFile("ada"), tokenFile("vera")
	refs := func() string {
		out, err := exec.Command("git", "-C", gs.RepoPath(), "for-each-ref", "--format=%(refname)", "refs/ddc-rollout/").Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}

	// hold with a prefix of the head, then promote with the full hash.
	code, out, errOut := run(t, "rollout", "hold", head[:8], "--api", hs.URL, "--token-file", admin)
	if code != ExitOK || !strings.Contains(out, "hold "+head+": recorded as refs/ddc-rollout/hold/"+head) {
		t.Fatalf("hold: exit %d\n%s%s", code, out, errOut)
	}
	if refs() != "refs/ddc-rollout/hold/"+head {
		t.Errorf("refs after hold: %q", refs())
	}
	if code, out, errOut := run(t, "rollout", "promote", head, "--api", hs.URL, "--token-file", admin); code != ExitOK {
		t.Fatalf("promote: exit %d\n%s%s", code, out, errOut)
	}
	if refs() != "refs/ddc-rollout/promote/"+head {
		t.Errorf("refs after promote: %q", refs())
	}
	// A viewer may not decide; a bad REV is a usage error.
	if code, _, errOut := run(t, "rollout", "hold", head, "--api", hs.URL, "--token-file", viewer); code == ExitOK || !strings.Contains(errOut, "403") {
		t.Errorf("viewer hold: exit %d, %s", code, errOut)
	}
	if code, _, _ := run(t, "rollout", "hold", "xyz", "--api", hs.URL, "--token-file", admin); code != ExitUsage {
		t.Errorf("bad REV: exit %d, want usage", code)
	}

	// status: one row per host, by wave, with why a host holds.
	code, out, errOut = run(t, "rollout", "status", "--api", hs.URL, "--token-file", viewer)
	if code != ExitOK {
		t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 7 {
		t.Fatalf("status output:\n%s", out)
	}
	for i, want := range []string{"0 eu eu-haproxy-1 up_to_date", "1 eu eu-haproxy-2 up_to_date", "1 us us-haproxy-1 up_to_date",
		"2 us us-haproxy-2 holding"} {
		if !strings.HasPrefix(strings.Join(strings.Fields(lines[3+i]), " "), want) {
			t.Errorf("row %d %q, want prefix %q", i, lines[3+i], want)
		}
	}
	if !strings.Contains(lines[6], "us-haproxy-1 (wave 1): unreachable: connection refused") {
		t.Errorf("holding row lacks why: %q", lines[6])
	}
}
