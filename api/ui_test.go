package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/bot"
	"github.com/ddc-gitops/ddc-gitops/forge"
	"github.com/ddc-gitops/ddc-gitops/webhooks"
)

const uiWebhookSecret = "ui-test-generic-webhook-secret-0123456789"

// newUIEnv is an API with four fake agents that apply the remote's head
// when asked to sync, each reporting a host state, and a generic webhook.
func newUIEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, envOpts{agents: true, cfg: func(c *Config) { c.GenericWebhookSecret = uiWebhookSecret }})
	head := e.head()
	for host, a := range e.agents {
		a.mu.Lock()
		a.autoApply = true
		a.status.AppliedRevision, a.status.DesiredRevision, a.status.LastResult = head, head, agentapi.ResultNoop
		a.status.Counts = agentapi.Counts{Reconciles: 3, HAProxyReloads: 1}
		vip := map[string]string{"eu-haproxy-1": "198.18.1.100", "eu-haproxy-2": "198.18.1.101", "us-haproxy-1": "198.18.2.100", "us-haproxy-2": "198.18.2.101"}[host]
		a.hostState = &agentapi.HostState{Host: host,
			Backends: []agentapi.BackendState{{Name: "ddc_nodes_http", Servers: []agentapi.ServerState{
				{Name: "node-1", Status: "UP"}, {Name: "node-2", Status: "DRAIN"}, {Name: "us-vip-1", Status: "UP", Backup: true}}}},
			VIPs: []agentapi.VIPState{{Instance: host + "-vip", Address: vip, Held: true}}}
		a.mu.Unlock()
	}
	return e
}

// pushCommit commits a change to the remote with git (around the API) and
// delivers the generic webhook, as a forge would; it returns the new head.
func (e *env) pushCommit(subject string) string {
	e.t.Helper()
	work := filepath.Join(e.t.TempDir(), "work")
	gitRun(e.t, "", "clone", "-q", e.bare, work)
	f := filepath.Join(work, "README.ui-test")
	if err := os.WriteFile(f, []byte(subject+"\n"), 0o644); err != nil {
		e.t.Fatal(err)
	}
	gitRun(e.t, work, "add", ".")
	gitRun(e.t, work, "-c", "user.name=UI Test", "-c", "user.email=ui@example.invalid", "commit", "-qm", subject)
	gitRun(e.t, work, "push", "-q", "origin", "HEAD:main")
	body := []byte(`{"ref":"refs/heads/main"}`)
	res := e.call(http.MethodPost, "/api/v1/webhooks/generic", "", body, webhooks.SignatureHeader, webhooks.Sign([]byte(uiWebhookSecret), body))
	if res.code != http.StatusAccepted {
		e.t.Fatalf("webhook: %d %s", res.code, res.body)
	}
	return e.head()
}

func TestFleetView(t *testing.T) {
	e := newUIEnv(t)
	seed := e.head()
	e.agents["us-haproxy-2"].set(func(s *agentapi.Status) {
		s.LastResult, s.LastError, s.Drift = agentapi.ResultFailed, "haproxy -c: bad config", []string{"haproxy.cfg on disk differs"}
	})
	e.agents["us-haproxy-1"].mu.Lock()
	e.agents["us-haproxy-1"].autoApply = false
	e.agents["us-haproxy-1"].mu.Unlock()
	rev := e.pushCommit("ui: first change")
	eventually(t, "eu agents applied the push", func() bool {
		var v FleetView
		e.call(http.MethodGet, "/api/v1/fleet", "vera", nil).decode(t, &v)
		return v.Summary.UpToDate == 3
	})
	var v FleetView
	res := e.call(http.MethodGet, "/api/v1/fleet", "vera", nil)
	res.decode(t, &v)
	if res.code != 200 || v.Revision != rev {
		t.Fatalf("fleet: %d %s", res.code, res.body)
	}
	if v.Summary != (FleetSummary{Hosts: 4, UpToDate: 3, Failing: 0}) {
		// us-haproxy-2 applied on sync: its lastResult is now applied.
		t.Errorf("summary %+v", v.Summary)
	}
	if len(v.Zones) != 2 || v.Zones[0].Name != "eu" || len(v.Zones[0].Hosts) != 2 || len(v.Zones[1].Hosts) != 2 {
		t.Fatalf("zones %+v", v.Zones)
	}
	eu := v.Zones[0]
	if len(eu.Backends) != 1 || len(eu.Backends[0].Servers) != 3 {
		t.Fatalf("eu backends %+v", eu.Backends)
	}
	if got := eu.Backends[0].Servers[1].States; got["eu-haproxy-1"] != "DRAIN" || got["eu-haproxy-2"] != "DRAIN" {
		t.Errorf("node-2 states %v", got)
	}
	if !eu.Backends[0].Servers[2].Backup {
		t.Errorf("us-vip-1 not reported as backup")
	}
	if h := eu.Hosts[0]; len(h.VIPs) != 1 || !h.VIPs[0].Held || h.VIPs[0].Address != "198.18.1.100" {
		t.Errorf("eu-haproxy-1 VIPs %+v", h.VIPs)
	}
	if len(v.Commits) < 2 || v.Commits[0].Revision != rev || v.Commits[0].Subject != "ui: first change" || v.Commits[1].Revision != seed {
		t.Fatalf("commits %+v", v.Commits)
	}
	if got := v.Commits[0].Hosts; got["eu-haproxy-1"] != RolloutApplied || got["us-haproxy-1"] != RolloutPending {
		t.Errorf("rollout of the head %v", got)
	}
	if got := v.Commits[1].Hosts; got["us-haproxy-1"] != RolloutApplied {
		t.Errorf("rollout of the seed %v", got)
	}
	if v.Proposals != nil {
		t.Errorf("proposals without a bot: %+v", v.Proposals)
	}
	// A failed host is counted.
	e.agents["us-haproxy-2"].set(func(s *agentapi.Status) {
		s.LastResult = agentapi.ResultFailed
		s.FailedRevision = rev
		s.AppliedRevision = seed
	})
	e.call(http.MethodGet, "/api/v1/fleet", "vera", nil).decode(t, &v)
	if v.Summary.Failing != 1 || v.Commits[0].Hosts["us-haproxy-2"] != RolloutFailed {
		t.Errorf("failed host: summary %+v, rollout %v", v.Summary, v.Commits[0].Hosts)
	}
	// Viewers and up only.
	if res := e.call(http.MethodGet, "/api/v1/fleet", "", nil); res.code != 401 {
		t.Errorf("anonymous fleet: %d", res.code)
	}
}

// browser is an HTTP client with a cookie jar that does not follow redirects.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestStatusPageSession(t *testing.T) {
	e := newUIEnv(t)
	c := browser(t)
	// No session: the page and its fragment refuse.
	resp, _ := get(t, c, e.http.URL+"/")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("GET / without session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := get(t, c, e.http.URL+"/ui/fleet"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /ui/fleet without session: %d", resp.StatusCode)
	}
	resp, body := get(t, c, e.http.URL+"/login")
	if resp.StatusCode != 200 || !strings.Contains(body, `name="password"`) || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("login page: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}
	// A wrong password, a cross-site post.
	post := func(form url.Values, hdr ...string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := post(url.Values{"username": {"vera"}, "password": {"nope"}}); r.StatusCode != http.StatusUnauthorized || len(r.Cookies()) != 0 {
		t.Fatalf("wrong password: %d %v", r.StatusCode, r.Cookies())
	}
	good := url.Values{"username": {"vera"}, "password": {"vera-password"}}
	if r := post(good, "Origin", "https://evil.example"); r.StatusCode != http.StatusForbidden || len(r.Cookies()) != 0 {
		t.Fatalf("cross-origin login: %d", r.StatusCode)
	}
	if r := post(good, "Sec-Fetch-Site", "cross-site"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site login: %d", r.StatusCode)
	}
	r := post(good, "Origin", e.http.URL, "Sec-Fetch-Site", "same-origin")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("login: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	cookies := r.Cookies()
	if len(cookies) != 1 || cookies[0].Name != sessionCookie || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode || cookies[0].Path != "/" {
		t.Fatalf("session cookie %+v", cookies)
	}
	// The page shows the four hosts on the head, the servers and the commits.
	resp, body = get(t, c, e.http.URL+"/")
	if resp.StatusCode != 200 {
		t.Fatalf("page: %d %s", resp.StatusCode, body)
	}
	head := e.head()
	for _, want := range []string{"eu-haproxy-1", "eu-haproxy-2", "us-haproxy-1", "us-haproxy-2", head[:12], "state-DRAIN", "198.18.2.101", "vera (viewer)", `src="/ui/static/fleet.js"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(body, fmt.Sprintf(`data-applied="%s"`, head)); n != 4 {
		t.Errorf("%d hosts on the head, want 4", n)
	}
	if resp, body := get(t, c, e.http.URL+"/ui/fleet"); resp.StatusCode != 200 || strings.Contains(body, "<html") || !strings.Contains(body, "eu-haproxy-1") {
		t.Errorf("fragment: %d %.200s", resp.StatusCode, body)
	}
	// Static files: the script and the style, nothing else of the directory.
	if resp, body := get(t, c, e.http.URL+"/ui/static/fleet.js"); resp.StatusCode != 200 || !strings.Contains(body, "fetch(") {
		t.Errorf("fleet.js: %d", resp.StatusCode)
	}
	if resp, _ := get(t, c, e.http.URL+"/ui/static/layout.html"); resp.StatusCode != 404 {
		t.Errorf("the template is served: %d", resp.StatusCode)
	}
	// HTML in agent data is escaped.
	e.agents["eu-haproxy-1"].set(func(s *agentapi.Status) { s.LastError = `<script>alert(1)</script>` })
	if _, body := get(t, c, e.http.URL+"/"); strings.Contains(body, "<script>alert(1)") || !strings.Contains(body, "&lt;script&gt;alert(1)") {
		t.Errorf("agent error not escaped")
	}
	// Signed in, /login sends to the page; sign out clears the session.
	if resp, _ := get(t, c, e.http.URL+"/login"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login page while signed in: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/logout", nil)
	if resp, err := c.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %v %v", resp, err)
	}
	if resp, _ := get(t, c, e.http.URL+"/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("page after logout: %d", resp.StatusCode)
	}
	// A bearer token is not a session: the page wants the cookie.
	req, _ = http.NewRequest(http.MethodGet, e.http.URL+"/", nil)
	req.Header.Set("Authorization", "Bearer "+e.token("vera"))
	if resp, err := c.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Errorf("page with a bearer token: %v %v", resp, err)
	}
}

// The fleet view lists the bot's open proposals from its nodes report (the
// bot's own JSON type), and says why when the bot cannot answer.
func TestFleetViewProposals(t *testing.T) {
	report := bot.NodesReport{Nodes: []bot.NodeStatus{
		{PubKey: "0xaa", Name: "node-aa", Status: bot.StatusPending, PullRequest: &forge.PullRequest{Number: 7, URL: "https://forge.example/pr/7", State: "open", Title: "Admit node-aa"}},
		{PubKey: "0xbb", Name: "node-bb", Status: bot.StatusAdmitted, PullRequest: &forge.PullRequest{Number: 3, State: "closed", Merged: true}},
		{PubKey: "0xcc", Name: "node-cc", Status: bot.StatusNotProposed},
	}}
	var failing atomic.Bool
	nodes := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "chain unreachable", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(report)
	})
	e := newEnv(t, envOpts{agents: true, deps: func(d *Deps) { d.Blockchain = &Blockchain{Nodes: nodes, Sync: nodes} }})
	var v FleetView
	e.call(http.MethodGet, "/api/v1/fleet", "vera", nil).decode(t, &v)
	if len(v.Proposals) != 1 || v.Proposals[0] != (ProposalView{Node: "node-aa", PubKey: "0xaa", Number: 7, URL: "https://forge.example/pr/7", Title: "Admit node-aa"}) || v.ProposalsError != "" {
		t.Errorf("proposals %+v (%q)", v.Proposals, v.ProposalsError)
	}
	// These agents serve no /v1/hoststate (like a container host's): no error shown.
	for _, z := range v.Zones {
		for _, h := range z.Hosts {
			if h.HostStateError != "" || len(h.VIPs) != 0 {
				t.Errorf("%s: host state error %q, VIPs %v", h.Host, h.HostStateError, h.VIPs)
			}
		}
	}
	failing.Store(true)
	e.call(http.MethodGet, "/api/v1/fleet", "vera", nil).decode(t, &v)
	if len(v.Proposals) != 0 || !strings.Contains(v.ProposalsError, "chain unreachable") {
		t.Errorf("failing bot: proposals %+v, error %q", v.Proposals, v.ProposalsError)
	}
}
