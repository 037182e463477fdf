package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
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

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ddc-gitops/ddc-gitops/bot/chain"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/forge"
	"github.com/ddc-gitops/ddc-gitops/gittree"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

// Clusters of the example fleet's nodes.
const (
	euCluster = "0x67424cc500a0532b2ca4e63d681a279809170593"
	usCluster = "0x1d4dc5501242b509e42d08d9e04f0adef07a9737"
)

// waitTimeout bounds every wait of these tests.
const waitTimeout = 60 * time.Second

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testRecord is a valid chain record number i, in the eu cluster, on an
// address the example fleet does not use.
func testRecord(i int) chain.Record {
	return chain.Record{
		PubKey:     fmt.Sprintf("0x%08x%056x", 0xa11ce000+i, i),
		ProviderID: fmt.Sprintf("0x%064x", 0xb0b),
		ClusterID:  euCluster,
		Host:       fmt.Sprintf("198.18.1.%d", 40+i),
		Domain:     fmt.Sprintf("node%d.ddc.example", i),
		HTTPPort:   8080,
		GRPCPort:   9091,
		P2PPort:    9070,
		Mode:       "storage",
	}
}

// testEvent is an event about r at block.
func testEvent(kind chain.EventKind, r chain.Record, block uint64) chain.Event {
	return chain.Event{Kind: kind, Node: r, ChainID: 1337, Block: block,
		BlockHash: fmt.Sprintf("0x%064x", block), TxHash: fmt.Sprintf("0x%064x", block*1000+7), LogIndex: 3}
}

// fakeGitHub imitates the GitHub REST endpoints the forge uses (pulls
// list/create/edit, issue labels and comments) under /api-v3/, in memory.
type fakeGitHub struct {
	srv *httptest.Server

	mu       sync.Mutex
	requests []ghRequest
	prs      []map[string]any
	comments map[int][]string
	fail     map[string]int // "METHOD /path" -> answer 500 this many times
	// onCreate is called (outside mu) when a pull request is created.
	onCreate func(number int)
}

type ghRequest struct {
	Method, Path, Query, Body string
}

func newFakeGitHub(t testing.TB) *fakeGitHub {
	t.Helper()
	f := &fakeGitHub{comments: map[int][]string{}, fail: map[string]int{}}
	f.srv = httptest.NewServer(http.StripPrefix("/api-v3", http.HandlerFunc(f.serve)))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHub) forge(t testing.TB) *forge.GitHub {
	t.Helper()
	g, err := forge.NewGitHub(forge.GitHubOptions{Token: "t0ken", BaseURL: f.srv.URL + "/api-v3/", Owner: "acme", Repo: "fleet",
		Retry: forge.RetryPolicy{MaxAttempts: 2, Backoff: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get("Authorization") != "Bearer t0ken" {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, ghRequest{r.Method, r.URL.Path, r.URL.RawQuery, strings.TrimSpace(string(body))})
	route := r.Method + " " + r.URL.Path
	if f.fail[route] > 0 {
		f.fail[route]--
		f.mu.Unlock()
		http.Error(w, `{"message":"boom"}`, http.StatusInternalServerError)
		return
	}
	created := f.handleLocked(w, r, body)
	hook := f.onCreate
	f.mu.Unlock()
	if created > 0 && hook != nil {
		hook(created)
	}
}

// handleLocked answers one request; it returns the number of a pull request it created.
func (f *fakeGitHub) handleLocked(w http.ResponseWriter, r *http.Request, body []byte) int {
	w.Header().Set("Content-Type", "application/json")
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 4 || parts[0] != "repos" || parts[1] != "acme" || parts[2] != "fleet" {
		http.NotFound(w, r)
		return 0
	}
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	switch {
	case r.Method == http.MethodGet && len(parts) == 4 && parts[3] == "pulls":
		head, state := r.URL.Query().Get("head"), r.URL.Query().Get("state")
		out := []map[string]any{}
		for i := len(f.prs) - 1; i >= 0; i-- {
			p := f.prs[i]
			if head != "" && "acme:"+p["head"].(map[string]any)["ref"].(string) != head {
				continue
			}
			if state != "all" && p["state"] != state {
				continue
			}
			out = append(out, p)
		}
		_ = json.NewEncoder(w).Encode(out)
	case r.Method == http.MethodPost && len(parts) == 4 && parts[3] == "pulls":
		n := len(f.prs) + 1
		p := map[string]any{
			"number": n, "state": "open", "title": in["title"], "body": in["body"],
			"html_url": "https://github.example/acme/fleet/pull/" + strconv.Itoa(n),
			"head":     map[string]any{"ref": in["head"]},
			"base":     map[string]any{"ref": in["base"]},
		}
		f.prs = append(f.prs, p)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(p)
		return n
	case r.Method == http.MethodPatch && len(parts) == 5 && parts[3] == "pulls":
		n, _ := strconv.Atoi(parts[4])
		if n < 1 || n > len(f.prs) {
			http.NotFound(w, r)
			return 0
		}
		p := f.prs[n-1]
		for k, v := range in {
			p[k] = v
		}
		_ = json.NewEncoder(w).Encode(p)
	case r.Method == http.MethodPost && len(parts) == 6 && parts[3] == "issues" && parts[5] == "labels":
		n, _ := strconv.Atoi(parts[4])
		var names []string
		_ = json.Unmarshal(body, &names)
		p := f.prs[n-1]
		labels, _ := p["labels"].([]any)
		for _, l := range names {
			labels = append(labels, map[string]any{"name": l})
		}
		p["labels"] = labels
		_ = json.NewEncoder(w).Encode(labels)
	case r.Method == http.MethodPost && len(parts) == 6 && parts[3] == "issues" && parts[5] == "comments":
		n, _ := strconv.Atoi(parts[4])
		f.comments[n] = append(f.comments[n], in["body"].(string))
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": len(f.comments[n]), "body": in["body"]})
	default:
		http.NotFound(w, r)
	}
	return 0
}

// count counts recorded requests with method and a path ending in suffix.
func (f *fakeGitHub) count(method, suffix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if r.Method == method && strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

// writes counts the requests that change something.
func (f *fakeGitHub) writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if r.Method != http.MethodGet {
			n++
		}
	}
	return n
}

func (f *fakeGitHub) requestsOf(method, suffix string) []ghRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ghRequest
	for _, r := range f.requests {
		if r.Method == method && strings.HasSuffix(r.Path, suffix) {
			out = append(out, r)
		}
	}
	return out
}

// pr returns a copy of the fields of pull request n.
func (f *fakeGitHub) pr(t testing.TB, n int) map[string]any {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if n < 1 || n > len(f.prs) {
		t.Fatalf("no pull request #%d (have %d)", n, len(f.prs))
	}
	out := map[string]any{}
	for k, v := range f.prs[n-1] {
		out[k] = v
	}
	return out
}

func (f *fakeGitHub) numPRs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.prs)
}

func (f *fakeGitHub) labels(t testing.TB, n int) []string {
	var out []string
	labels, _ := f.pr(t, n)["labels"].([]any)
	for _, l := range labels {
		out = append(out, l.(map[string]any)["name"].(string))
	}
	return out
}

func (f *fakeGitHub) commentsOf(n int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.comments[n]...)
}

// setState marks pull request n closed (merged or not), as a person would.
func (f *fakeGitHub) setClosed(n int, merged bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.prs[n-1]
	p["state"] = "closed"
	p["merged"] = merged
	if merged {
		p["merged_at"] = "2026-01-02T03:04:05Z"
	}
}

func (f *fakeGitHub) failNext(route string, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[route] += times
}

// env is a fleet repository served over smart HTTP (seeded with the
// example fleet), a forge and a bot.
type env struct {
	t        testing.TB
	srv      *gitserver.Server
	gh       *fakeGitHub // nil without GitHub
	forge    forge.Forge
	stateDir string
	cfg      Config
	bot      *Bot
}

type envOptions struct {
	github   bool
	source   chain.Source
	registry Registry
	config   func(*Config)
	// registerer receives the bot's metrics (default: a new registry).
	registerer prometheus.Registerer
	metrics    *Metrics
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{t: t, srv: gitservertest.New(t, gitserver.Options{}), stateDir: t.TempDir()}
	gitservertest.MustSeed(t, e.srv, "../examples/fleet", "seed the example fleet")
	e.cfg = Config{
		StateDir:     e.stateDir,
		ClusterZones: map[string]string{euCluster: "eu", usCluster: "us"},
		RepoURL:      e.srv.URL(),
		RetryMin:     time.Millisecond,
		RetryMax:     10 * time.Millisecond,
	}
	if o.github {
		e.gh = newFakeGitHub(t)
		e.forge = e.gh.forge(t)
		e.cfg.Forge = ForgeConfig{Kind: ForgeGitHub, Owner: "acme", Repo: "fleet"}
	} else {
		p, err := forge.NewPlain(e.cfg.proposalsDir(), testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		e.forge = p
	}
	if o.config != nil {
		o.config(&e.cfg)
	}
	e.bot = e.newBot(o)
	return e
}

// newBot makes a bot on the env's state directory (a restart when one ran before).
func (e *env) newBot(o envOptions) *Bot {
	e.t.Helper()
	r, err := repo.Open(context.Background(), repo.Options{URL: e.srv.URL(), Dir: e.cfg.repoDir()})
	if err != nil {
		e.t.Fatal(err)
	}
	reg := o.registerer
	if reg == nil && o.metrics == nil {
		reg = prometheus.NewRegistry()
	}
	b, err := New(e.cfg, Deps{Source: o.source, Registry: o.registry, Repo: r, Forge: e.forge, Metrics: o.metrics, Registerer: reg, Logger: testLogger(e.t)})
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// branchFS reads a branch of the served repository, fresh from disk.
func (e *env) branchFS(branch string) (fs.FS, *gittree.Revision, error) {
	return gittree.Open(e.srv.RepoPath(), "refs/heads/"+branch)
}

// mustLoadBranch loads and validates the fleet on branch.
func (e *env) mustLoadBranch(branch string) (*desired.Fleet, fs.FS, *gittree.Revision) {
	e.t.Helper()
	fsys, rev, err := e.branchFS(branch)
	if err != nil {
		e.t.Fatalf("reading branch %s: %v", branch, err)
	}
	f, err := desired.Load(fsys)
	if err != nil {
		e.t.Fatalf("desired.Load on branch %s: %v", branch, err)
	}
	return f, fsys, rev
}

// branchHead is the branch's head commit in the served repository, "" when absent.
func (e *env) branchHead(branch string) string {
	_, rev, err := e.branchFS(branch)
	if err != nil {
		return ""
	}
	return rev.Hash
}

// merge applies a proposal branch's change to main the way a merge would:
// the branch's version of path (absent: removed) is committed to main.
func (e *env) merge(branch, path string) {
	e.t.Helper()
	fsys, _, err := e.branchFS(branch)
	if err != nil {
		e.t.Fatal(err)
	}
	data, err := fs.ReadFile(fsys, path)
	if err != nil {
		gitservertest.MustCommit(e.t, e.srv, nil, []string{path}, "Merge "+branch)
		return
	}
	gitservertest.MustCommit(e.t, e.srv, map[string][]byte{path: data}, nil, "Merge "+branch)
}

// humanCommit pushes a commit by a person onto branch with the git CLI.
func (e *env) humanCommit(branch, path string) string {
	e.t.Helper()
	dir := filepath.Join(e.t.TempDir(), "work")
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Env = append(cmd.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+e.t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			e.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("clone", "-q", "--branch", branch, e.srv.RepoPath(), dir)
	data, err := os.ReadFile(filepath.Join(dir, path))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, path), append(data, []byte("# reviewed by Ada\n")...), 0o644); err != nil {
		e.t.Fatal(err)
	}
	git("-C", dir, "-c", "user.name=Ada Operator", "-c", "user.email=ada@example.org", "commit", "-q", "-am", "tweak the node file")
	git("-C", dir, "push", "-q", "origin", "HEAD:"+branch)
	return git("-C", dir, "rev-parse", "HEAD")
}

// counter reads a counter or gauge value.
func counter(t testing.TB, m prometheus.Metric) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	switch {
	case out.Counter != nil:
		return out.Counter.GetValue()
	case out.Gauge != nil:
		return out.Gauge.GetValue()
	}
	t.Fatalf("metric %v is neither a counter nor a gauge", m.Desc())
	return 0
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
