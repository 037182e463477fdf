package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/forge"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

// prGitHub imitates the GitHub pull request endpoints the forge uses, with
// state: pull requests are listed by head and state, created, edited,
// labelled, commented and closed. Every request is recorded.
type prGitHub struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	requests []string // "METHOD /path?query body"
	prs      []map[string]any
	comments map[int][]string
}

func newPRGitHub(t *testing.T) *prGitHub {
	g := &prGitHub{t: t, comments: map[int][]string{}}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

const ghRepo = "/api-v3/repos/acme/fleet"

func (g *prGitHub) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	defer g.mu.Unlock()
	line := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		line += "?" + r.URL.RawQuery
	}
	g.requests = append(g.requests, line+" "+strings.TrimSpace(string(body)))
	if r.Header.Get("Authorization") != "Bearer t" {
		http.Error(w, "no token", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	num := func(prefix, suffix string) int {
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, prefix), suffix))
		return n
	}
	switch {
	case r.Method == "GET" && r.URL.Path == ghRepo+"/pulls":
		q := r.URL.Query()
		head, ok := strings.CutPrefix(q.Get("head"), "acme:")
		if !ok {
			g.t.Errorf("listing pull requests with head %q: want acme:BRANCH", q.Get("head"))
		}
		out := []map[string]any{}
		for i := len(g.prs) - 1; i >= 0; i-- { // newest first
			pr := g.prs[i]
			if pr["head"].(map[string]any)["ref"] == head && (q.Get("state") == "all" || q.Get("state") == pr["state"]) {
				out = append(out, pr)
			}
		}
		_ = json.NewEncoder(w).Encode(out)
	case r.Method == "POST" && r.URL.Path == ghRepo+"/pulls":
		var in map[string]any
		if err := json.Unmarshal(body, &in); err != nil {
			g.t.Errorf("creating a pull request: %v", err)
		}
		n := len(g.prs) + 1
		pr := map[string]any{"number": n, "state": "open", "title": in["title"], "body": in["body"],
			"html_url": fmt.Sprintf("https://github.example/acme/fleet/pull/%d", n),
			"head":     map[string]any{"ref": in["head"]}, "base": map[string]any{"ref": in["base"]}}
		g.prs = append(g.prs, pr)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(pr)
	case r.Method == "PATCH" && strings.HasPrefix(r.URL.Path, ghRepo+"/pulls/"):
		n := num(ghRepo+"/pulls/", "")
		if n < 1 || n > len(g.prs) {
			http.NotFound(w, r)
			return
		}
		var in map[string]any
		_ = json.Unmarshal(body, &in)
		for k, v := range in {
			g.prs[n-1][k] = v
		}
		_ = json.NewEncoder(w).Encode(g.prs[n-1])
	case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/labels"):
		var names []string
		_ = json.Unmarshal(body, &names)
		n := num(ghRepo+"/issues/", "/labels")
		if n < 1 || n > len(g.prs) {
			http.NotFound(w, r)
			return
		}
		labels, _ := g.prs[n-1]["labels"].([]map[string]string)
		for _, name := range names {
			labels = append(labels, map[string]string{"name": name})
		}
		g.prs[n-1]["labels"] = labels
		_ = json.NewEncoder(w).Encode(labels)
	case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/comments"):
		var in map[string]string
		_ = json.Unmarshal(body, &in)
		n := num(ghRepo+"/issues/", "/comments")
		g.comments[n] = append(g.comments[n], in["body"])
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": 1, "body": in["body"]})
	default:
		g.t.Errorf("unexpected GitHub request %s", line)
		http.NotFound(w, r)
	}
}

func (g *prGitHub) forge(t *testing.T) *forge.GitHub {
	f, err := forge.NewGitHub(forge.GitHubOptions{Token: "t", BaseURL: g.srv.URL + "/api-v3/", Owner: "acme", Repo: "fleet"})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// take returns the requests recorded since the last take.
func (g *prGitHub) take() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := g.requests
	g.requests = nil
	return out
}

func (g *prGitHub) pr(n int) map[string]any {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.prs[n-1]
}

// writes are the requests among reqs that change something.
func writes(reqs []string) []string {
	var out []string
	for _, r := range reqs {
		if !strings.HasPrefix(r, "GET ") {
			out = append(out, r)
		}
	}
	return out
}

// pushCommit commits an edit of the remote's main branch as author, with
// the git command line in a clone of its own, and returns the commit.
func pushCommit(t *testing.T, e *env, name, email, msg string, edit func(dir string)) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "work")
	gitRun(t, filepath.Dir(dir), "clone", "--quiet", e.bare, dir)
	edit(dir)
	gitRun(t, dir, "add", "-A")
	gitRun(t, dir, "-c", "user.name="+name, "-c", "user.email="+email, "commit", "--quiet", "-m", msg)
	gitRun(t, dir, "push", "--quiet", "origin", "HEAD:main")
	return gitRun(t, dir, "rev-parse", "HEAD")
}

// replaceIn replaces old by new in file, failing when old is absent.
func replaceIn(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

const httpBackend = "backends/ddc_nodes_http.yaml"

// quarantine makes host's agent report rev quarantined with gate evidence.
func quarantine(e *env, host, rev, lastGood string, at time.Time) {
	e.agents[host].set(func(s *agentapi.Status) {
		s.LastGoodRevision = lastGood
		s.Quarantined = []agentapi.Quarantine{{Revision: rev, At: at, Reason: "up_ratio of ddc_nodes_http fell from 1 to 0",
			Evidence: []agentapi.GateEvidence{
				{Signal: "up_ratio", Subject: "ddc_nodes_http", Before: 1, After: 0, Threshold: 0.5, Tripped: true},
				{Signal: "http_5xx_rate", Subject: "ddc_nodes_http", Before: 0, After: 0.25, Threshold: 0.05, Tripped: true},
			}}}
	})
}

func reverts(t *testing.T, e *env) RevertList {
	t.Helper()
	res := e.call("GET", "/api/v1/rollout/reverts", "vera", nil)
	var out RevertList
	res.decode(t, &out)
	if res.code != 200 {
		t.Fatalf("GET /rollout/reverts: %d %s", res.code, res.body)
	}
	return out
}

func revertOf(t *testing.T, e *env, rev string) RevertProposal {
	t.Helper()
	for _, rp := range reverts(t, e).Reverts {
		if rp.Revision == rev {
			return rp
		}
	}
	t.Fatalf("no revert proposal for %.12s", rev)
	return RevertProposal{}
}

func newRevertEnv(t *testing.T, gh *prGitHub) *env { return newRevertEnvOver(t, gh, local) }

func newRevertEnvOver(t *testing.T, gh *prGitHub, tr transport) *env {
	return newEnv(t, envOpts{agents: true, transport: tr,
		cfg: func(c *Config) { c.Reverts = RevertOptions{Enabled: true}; c.NoSyncOnCommit = true },
		deps: func(d *Deps) {
			if gh != nil {
				d.Forge = gh.forge(t)
			}
		}})
}

// TestRevertProposal: a quarantined commit gets a revert/<sha> branch whose
// head reverts it on the branch head, with the hosts' evidence and the plan
// in the commit and the pull request (which mentions the author); polling
// again changes nothing; a second host's quarantine updates the branch and
// the pull request, never a second one; a newer head rebuilds the branch on
// it; a conflicting change stops it.
func TestRevertProposal(t *testing.T) {
	gh := newPRGitHub(t)
	e := newRevertEnv(t, gh)
	ctx := context.Background()
	good := e.head()
	bad := pushCommit(t, e, "Mallory Dev", "4242+mallory@users.noreply.github.com", "backends: check /nope", func(dir string) {
		replaceIn(t, filepath.Join(dir, httpBackend), "path: /health", "path: /nope")
	})
	at := time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)
	quarantine(e, "eu-haproxy-1", bad, good, at)
	p := e.srv.reverts
	p.Poll(ctx)

	branch := "revert/" + bad
	rp := revertOf(t, e, bad)
	if rp.State != RevertProposed || rp.Branch != branch || rp.Base != bad || rp.PullRequest == nil || rp.PullRequest.Number != 1 ||
		rp.Author != "Mallory Dev <4242+mallory@users.noreply.github.com>" || rp.Subject != "backends: check /nope" ||
		len(rp.Files) != 1 || rp.Files[0] != httpBackend || len(rp.Hosts) != 1 || rp.Hosts[0].Host != "eu-haproxy-1" {
		t.Fatalf("proposal = %+v", rp)
	}
	tip := gitRun(t, e.bare, "rev-parse", branch)
	if tip != rp.Commit || gitRun(t, e.bare, "rev-parse", branch+"^") != bad {
		t.Fatalf("branch %s at %s (parent %s), want a commit on %s", branch, tip, gitRun(t, e.bare, "rev-parse", branch+"^"), bad)
	}
	if d := gitRun(t, e.bare, "diff", good, branch); d != "" {
		t.Fatalf("the revert's tree differs from the good revision:\n%s", d)
	}
	msg := gitRun(t, e.bare, "log", "-1", "--format=%an <%ae>%n%B", branch)
	for _, want := range []string{
		"ddc-gitops revert <revert@ddc-gitops>",
		`Revert "backends: check /nope"`,
		"This reverts commit " + bad + " (backends: check /nope, by Mallory Dev <4242+mallory@users.noreply.github.com>).",
		"eu-haproxy-1 (zone eu) at 2026-12-04T20:00:00Z: up_ratio of ddc_nodes_http fell from 1 to 0",
		"up_ratio ddc_nodes_http: before 1, after 0 (threshold 0.5) TRIPPED",
		"http_5xx_rate ddc_nodes_http: before 0, after 0.25 (threshold 0.05) TRIPPED",
		"Plan of the revert (from " + bad[:12] + "):",
		"    ### Plan: 4 hosts",
		"Reverts: " + bad,
		"Revert-Fingerprint: ",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the revert commit's message lacks %q:\n%s", want, msg)
		}
	}
	reqs := gh.take()
	w := writes(reqs)
	if len(w) != 2 || !strings.HasPrefix(w[0], "POST "+ghRepo+"/pulls ") || w[1] != "POST "+ghRepo+`/issues/1/labels ["ddc-gitops","revert"]` {
		t.Fatalf("GitHub writes = %q, want one pull request and its labels", w)
	}
	var created map[string]string
	if err := json.Unmarshal([]byte(strings.TrimPrefix(w[0], "POST "+ghRepo+"/pulls ")), &created); err != nil {
		t.Fatal(err)
	}
	if created["head"] != branch || created["base"] != "main" || created["title"] != "Revert "+bad[:12]+": quarantined by eu-haproxy-1" {
		t.Errorf("pull request = %v", created)
	}
	for _, want := range []string{
		"<!-- ddc-gitops-revert revision=" + bad,
		"The health gate of `eu-haproxy-1` tripped on commit `" + bad + "` (backends: check /nope)",
		"Author of the reverted commit: @mallory, please have a look.",
		"**eu-haproxy-1** (zone `eu`) at 2026-12-04T20:00:00Z",
		"(rolled back to `" + good[:12] + "`)",
		"| up_ratio | `ddc_nodes_http` | 1 | 0 | 0.5 | **yes** |",
		"| http_5xx_rate | `ddc_nodes_http` | 0 | 0.25 | 0.05 | **yes** |",
		"### Plan: 4 hosts",
		"HAProxy reload",
	} {
		if !strings.Contains(created["body"], want) {
			t.Errorf("the pull request body lacks %q:\n%s", want, created["body"])
		}
	}

	// Again: nothing pushed, GitHub not even read (the pull request was
	// read less than 5 minutes ago); after 5 minutes, read but not written.
	p.Poll(ctx)
	if got := gitRun(t, e.bare, "rev-parse", branch); got != tip {
		t.Fatalf("an unchanged proposal was pushed again: %s -> %s", tip, got)
	}
	if r := gh.take(); len(r) != 0 {
		t.Fatalf("an unchanged proposal called GitHub: %q", r)
	}
	e.clock.Add(6 * time.Minute)
	p.Poll(ctx)
	if r := gh.take(); len(r) == 0 || len(writes(r)) != 0 {
		t.Fatalf("an unchanged proposal after 6 minutes: GitHub requests %q, want reads only", r)
	}
	if rp := revertOf(t, e, bad); rp.State != RevertUpToDate || rp.Commit != tip {
		t.Fatalf("second poll: %+v", rp)
	}

	// A second host quarantines it: the branch and the pull request are
	// updated, no second pull request.
	quarantine(e, "eu-haproxy-2", bad, good, at.Add(time.Second))
	p.Poll(ctx)
	tip2 := gitRun(t, e.bare, "rev-parse", branch)
	if tip2 == tip || !strings.Contains(gitRun(t, e.bare, "log", "-1", "--format=%B", branch), "eu-haproxy-2 (zone eu)") {
		t.Fatalf("the branch did not take the second host's evidence")
	}
	w = writes(gh.take())
	if len(w) != 1 || !strings.HasPrefix(w[0], "PATCH "+ghRepo+"/pulls/1 ") {
		t.Fatalf("GitHub writes = %q, want the pull request edited", w)
	}
	if body := gh.pr(1)["body"].(string); !strings.Contains(body, "**eu-haproxy-2**") || gh.pr(1)["title"] != "Revert "+bad[:12]+": quarantined by eu-haproxy-1, eu-haproxy-2" {
		t.Errorf("edited pull request: %v", gh.pr(1)["title"])
	}

	// A newer head that leaves the file alone: rebuilt on it.
	newer := pushCommit(t, e, "Ann Ops", "ann@example.org", "grpc: check every 3s", func(dir string) {
		replaceIn(t, filepath.Join(dir, "backends/ddc_nodes_grpc.yaml"), "interval: 2s", "interval: 3s")
	})
	p.Poll(ctx)
	if got := gitRun(t, e.bare, "rev-parse", branch+"^"); got != newer {
		t.Fatalf("the branch was not rebuilt on the new head: parent %s, want %s", got, newer)
	}
	if d := gitRun(t, e.bare, "diff", "--stat", newer, branch); !strings.Contains(d, httpBackend) || strings.Contains(d, "grpc") {
		t.Fatalf("the rebuilt revert changes: %s", d)
	}
	if rp := revertOf(t, e, bad); rp.State != RevertProposed || rp.Base != newer {
		t.Fatalf("after a new head: %+v", rp)
	}
	if len(gh.prs) != 1 {
		t.Fatalf("%d pull requests, want 1", len(gh.prs))
	}
	tip3 := gitRun(t, e.bare, "rev-parse", branch)
	gh.take()

	// The file changed again since: a conflict, the branch is left alone.
	pushCommit(t, e, "Ann Ops", "ann@example.org", "backends: check /nope2", func(dir string) {
		replaceIn(t, filepath.Join(dir, httpBackend), "path: /nope", "path: /nope2")
	})
	p.Poll(ctx)
	rp = revertOf(t, e, bad)
	if rp.State != RevertConflict || len(rp.Conflicts) != 1 || rp.Conflicts[0] != httpBackend || !strings.Contains(rp.Detail, "revert it by hand") {
		t.Fatalf("conflict: %+v", rp)
	}
	if got := gitRun(t, e.bare, "rev-parse", branch); got != tip3 {
		t.Fatal("a conflicting revert moved the branch")
	}
	if w := writes(gh.take()); len(w) != 0 {
		t.Fatalf("a conflict wrote to GitHub: %q", w)
	}
	// The metric counts each proposal pushed and the conflict.
	res := e.call("GET", "/metrics", "", nil)
	for _, want := range []string{`ddc_gitops_api_revert_proposals_total{result="proposed"} 3`, `ddc_gitops_api_revert_proposals_total{result="conflict"} 1`} {
		if !strings.Contains(string(res.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestRevertNothingToDo: no branch for a commit no longer in the branch, a
// commit already reverted (its open pull request is closed), a root commit;
// a branch with a person's commit and a pull request closed without
// merging are left alone.
func TestRevertNothingToDo(t *testing.T) {
	gh := newPRGitHub(t)
	e := newRevertEnv(t, gh)
	ctx := context.Background()
	p := e.srv.reverts
	seed := e.head()
	at := time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)
	branchExists := func(rev string) bool {
		return exec.Command("git", "-C", e.bare, "rev-parse", "--verify", "--quiet", "refs/heads/revert/"+rev).Run() == nil
	}

	// Proposed, then reverted on main by hand: already reverted, its pull request closed.
	bad := pushCommit(t, e, "Bob", "bob@example.org", "check /nope", func(dir string) {
		replaceIn(t, filepath.Join(dir, httpBackend), "path: /health", "path: /health-x")
	})
	quarantine(e, "us-haproxy-1", bad, seed, at)
	p.Poll(ctx)
	if rp := revertOf(t, e, bad); rp.State != RevertProposed || !branchExists(bad) {
		t.Fatalf("first proposal: %+v", rp)
	}
	if body := gh.pr(1)["body"].(string); !strings.Contains(body, "Author of the reverted commit: Bob (`bob@example.org`)") {
		t.Errorf("the author is not mentioned by name and email:\n%s", body)
	}
	gh.take()
	pushCommit(t, e, "Bob", "bob@example.org", "back to /health", func(dir string) {
		replaceIn(t, filepath.Join(dir, httpBackend), "path: /health-x", "path: /health")
	})
	p.Poll(ctx)
	if rp := revertOf(t, e, bad); rp.State != RevertAlreadyReverted || rp.PullRequest == nil || rp.PullRequest.State != forge.StateClosed {
		t.Fatalf("already reverted: %+v", rp)
	}
	if gh.pr(1)["state"] != "closed" || len(gh.comments[1]) != 1 {
		t.Fatalf("the stale pull request: state %v, comments %q", gh.pr(1)["state"], gh.comments[1])
	}
	gh.take()
	p.Poll(ctx) // nothing more to do
	if w := writes(gh.take()); len(w) != 0 {
		t.Fatalf("an already reverted commit wrote to GitHub again: %q", w)
	}

	// A commit the branch no longer has (main reset past it).
	before := e.head()
	gone := pushCommit(t, e, "Bob", "bob@example.org", "weight 0", func(dir string) {
		replaceIn(t, filepath.Join(dir, httpBackend), "weight: 100", "weight: 0")
	})
	gitRun(t, e.bare, "update-ref", "refs/heads/main", before)
	quarantine(e, "us-haproxy-2", gone, seed, at)
	p.Poll(ctx)
	if rp := revertOf(t, e, gone); rp.State != RevertNotInBranch || branchExists(gone) {
		t.Fatalf("not in branch: %+v (branch made: %v)", rp, branchExists(gone))
	}

	// The root commit cannot be reverted.
	root := gitRun(t, e.bare, "rev-list", "--max-parents=0", "main")
	quarantine(e, "us-haproxy-2", root, "", at)
	p.Poll(ctx)
	if rp := revertOf(t, e, root); rp.State != RevertInvalid || branchExists(root) {
		t.Fatalf("root commit: %+v", rp)
	}

	// A person's commit on the branch: not force-pushed over.
	bad2 := pushCommit(t, e, "Bob", "bob@example.org", "maxconn 1", func(dir string) {
		replaceIn(t, filepath.Join(dir, httpBackend), "maxconn: 500", "maxconn: 1")
	})
	quarantine(e, "eu-haproxy-1", bad2, seed, at)
	p.Poll(ctx)
	if rp := revertOf(t, e, bad2); rp.State != RevertProposed {
		t.Fatalf("bad2: %+v", rp)
	}
	work := filepath.Join(t.TempDir(), "w")
	gitRun(t, filepath.Dir(work), "clone", "--quiet", "--branch", "revert/"+bad2, e.bare, work)
	replaceIn(t, filepath.Join(work, httpBackend), "maxconn: 500", "maxconn: 400")
	gitRun(t, work, "-c", "user.name=Carol", "-c", "user.email=carol@example.org", "commit", "--quiet", "-am", "better: 400")
	gitRun(t, work, "push", "--quiet", "origin", "HEAD:revert/"+bad2)
	carol := gitRun(t, work, "rev-parse", "HEAD")
	quarantine(e, "eu-haproxy-1", bad2, seed, at.Add(time.Minute)) // new evidence would rebuild the branch
	p.Poll(ctx)
	if rp := revertOf(t, e, bad2); rp.State != RevertSkipped || !strings.Contains(rp.Detail, "Carol <carol@example.org>") {
		t.Fatalf("a person's commit: %+v", rp)
	}
	if got := gitRun(t, e.bare, "rev-parse", "revert/"+bad2); got != carol {
		t.Fatal("the person's commit was force-pushed over")
	}

	// A pull request closed without merging is not proposed again.
	n := len(gh.prs)
	gh.mu.Lock()
	gh.prs[n-1]["state"] = "closed"
	gh.mu.Unlock()
	gh.take()
	e.clock.Add(6 * time.Minute) // the pull request is read again
	p.Poll(ctx)
	if rp := revertOf(t, e, bad2); rp.State != RevertSkipped || !strings.Contains(rp.Detail, "closed without merging") {
		t.Fatalf("closed pull request: %+v", rp)
	}
	if w := writes(gh.take()); len(w) != 0 || len(gh.prs) != n {
		t.Fatalf("a closed proposal was written again: %q", w)
	}
}

// TestRevertWithoutForge: without a forge, only the branch (over each
// transport the API reaches git by); the list says what was done; an API
// without Reverts lists nothing.
func TestRevertWithoutForge(t *testing.T) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) { testRevertWithoutForge(t, tr) })
	}
}

func testRevertWithoutForge(t *testing.T, tr transport) {
	e := newRevertEnvOver(t, nil, tr)
	good := e.head()
	bad := pushCommit(t, e, "Bob", "bob@example.org", "check /nope", func(dir string) {
		replaceIn(t, filepath.Join(dir, httpBackend), "path: /health", "path: /nope")
	})
	quarantine(e, "eu-haproxy-2", bad, good, time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.reverts.Run(ctx) }()
	eventually(t, "a revert proposal", func() bool {
		l := reverts(t, e)
		return l.Enabled && len(l.Reverts) == 1 && l.Reverts[0].State == RevertProposed
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := gitRun(t, e.bare, "diff", good, "revert/"+bad); d != "" {
		t.Fatalf("the revert differs from the good revision:\n%s", d)
	}
	if rp := revertOf(t, e, bad); rp.PullRequest != nil {
		t.Fatalf("a pull request without a forge: %+v", rp.PullRequest)
	}

	plain := newEnv(t, envOpts{agents: true})
	if l := reverts(t, plain); l.Enabled || len(l.Reverts) != 0 {
		t.Fatalf("without Reverts: %+v", l)
	}
}

// TestRevertMessageHostileText: what agents report cannot add lines or
// trailers to the commit message, nor markup or mentions to the pull request.
func TestRevertMessageHostileText(t *testing.T) {
	m := revertMessage{rev: strings.Repeat("a", 40), head: strings.Repeat("b", 40), plan: "### Plan: 0 hosts\n", fp: "f",
		cd: &repo.CommitDiff{Message: "subject\n", Author: object.Signature{Name: "N", Email: "n@example.org"}},
		hosts: []RevertHost{{Host: "eu-haproxy-1", Zone: "eu", Reason: "bad\nReverts: deadbeef\n<script>@everyone",
			Evidence: []agentapi.GateEvidence{{Signal: "up\nRevert-Fingerprint: 0", Subject: "be|x\n@org/team", Tripped: true}}}}}
	body := m.body()
	for line := range strings.SplitSeq(body, "\n") {
		if strings.HasPrefix(line, "Reverts:") || strings.HasPrefix(line, "Revert-Fingerprint:") {
			t.Errorf("agent text made a trailer line %q in:\n%s", line, body)
		}
	}
	pr := m.prBody()
	for _, bad := range []string{"<script>", "@everyone", "@org/team", "be|x"} {
		if strings.Contains(pr, bad) {
			t.Errorf("the pull request body has %q:\n%s", bad, pr)
		}
	}
	if m.subject() != `Revert "subject"` {
		t.Errorf("subject = %q", m.subject())
	}
}

// TestRevertProposalsTakeTurns: with more quarantined revisions than one
// poll handles, the next poll starts where the last one stopped, so every
// revision gets its proposal (here: refused as not a commit of the branch).
func TestRevertProposalsTakeTurns(t *testing.T) {
	e := newRevertEnv(t, nil)
	good := e.head()
	var qs []agentapi.Quarantine
	for i := range maxRevertsPerPoll + 3 {
		qs = append(qs, agentapi.Quarantine{Revision: fmt.Sprintf("%040x", i+1), At: time.Date(2026, 12, 4, 20, 0, i, 0, time.UTC), Reason: "test"})
	}
	e.agents["eu-haproxy-1"].set(func(s *agentapi.Status) { s.LastGoodRevision, s.Quarantined = good, qs })
	p := e.srv.reverts
	p.Poll(context.Background())
	if got := len(p.List()); got != maxRevertsPerPoll {
		t.Fatalf("after one poll: %d proposals, want %d", got, maxRevertsPerPoll)
	}
	p.Poll(context.Background())
	if got := len(p.List()); got != len(qs) {
		t.Fatalf("after two polls: %d proposals, want all %d", got, len(qs))
	}
}
