package botapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/bot"
	"github.com/ddc-gitops/ddc-gitops/bot/botapi"
	"github.com/ddc-gitops/ddc-gitops/bot/chain"
	"github.com/ddc-gitops/ddc-gitops/forge"
	"github.com/ddc-gitops/ddc-gitops/gittree"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

const euCluster = "0x67424cc500a0532b2ca4e63d681a279809170593"

type staticRegistry struct{ snap chain.Snapshot }

func (r *staticRegistry) ConfirmedBlock(context.Context) (uint64, error) { return r.snap.Block, nil }
func (r *staticRegistry) Registry(context.Context, uint64) (chain.Snapshot, error) {
	return r.snap, nil
}

func record(i int) chain.Record {
	return chain.Record{PubKey: fmt.Sprintf("0x%08x%056x", 0xb0a7000+i, i), ProviderID: fmt.Sprintf("0x%064x", 0xb0b), ClusterID: euCluster,
		Host: fmt.Sprintf("198.18.1.%d", 60+i), Domain: fmt.Sprintf("n%d.ddc.example", i), HTTPPort: 8080, GRPCPort: 9091, P2PPort: 9070, Mode: "full"}
}

// newBot is a real bot on a served copy of the example fleet, without a
// forge, reading a fixed registry.
func newBot(t *testing.T, reg bot.Registry) (*bot.Bot, *gitserver.Server) {
	t.Helper()
	srv := gitservertest.New(t, gitserver.Options{})
	gitservertest.MustSeed(t, srv, "../../examples/fleet", "seed")
	dir := t.TempDir()
	r, err := repo.Open(context.Background(), repo.Options{URL: srv.URL(), Dir: filepath.Join(dir, "repo")})
	if err != nil {
		t.Fatal(err)
	}
	f, err := forge.NewPlain(filepath.Join(dir, "proposals"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bot.New(bot.Config{StateDir: dir, RepoURL: srv.URL(), ClusterZones: map[string]string{euCluster: "eu"}, PruneClusters: []string{}},
		bot.Deps{Registry: reg, Repo: r, Forge: f, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return b, srv
}

func do(t *testing.T, h http.Handler, method, path string, out any) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, rec.Body)
		}
	}
	return rec.Code
}

// GET lists the registry with git statuses; POST sync proposes what is
// missing, and again does nothing; GET then shows the proposals pending.
func TestNodesAndSync(t *testing.T) {
	good, bad, idle := record(1), record(2), record(3)
	bad.HTTPPort = 0
	reg := &staticRegistry{chain.Snapshot{ChainID: 1337, Block: 7, BlockHash: "0x" + strings.Repeat("cd", 32), Nodes: []chain.RegistryNode{
		{Record: good, Provider: "0x00000000000000000000000000000000000000aa", InCluster: true, Validated: true},
		{Record: bad, InCluster: true, Validated: true},
		{Record: idle},
	}}}
	b, srv := newBot(t, reg)
	h := botapi.Routes(b, nil)

	var nodes bot.NodesReport
	if code := do(t, h, http.MethodGet, botapi.NodesPath, &nodes); code != http.StatusOK {
		t.Fatalf("GET nodes: %d", code)
	}
	statuses := func(r bot.NodesReport) map[string]string {
		out := map[string]string{}
		for _, n := range r.Nodes {
			out[n.PubKey] = n.Status
		}
		return out
	}
	want := map[string]string{good.PubKey: bot.StatusNotProposed, bad.PubKey: bot.StatusInvalid, idle.PubKey: bot.StatusNotAdmitted}
	if got := statuses(nodes); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("statuses = %v, want %v", got, want)
	}
	if nodes.Block != 7 || nodes.Revision == "" || len(nodes.GitOnly) != 6 {
		t.Fatalf("report = %+v", nodes)
	}
	for _, n := range nodes.Nodes {
		if n.PubKey == bad.PubKey && (len(n.Reasons) != 1 || !strings.Contains(n.Reasons[0], "httpPort 0")) {
			t.Fatalf("invalid node reasons = %q", n.Reasons)
		}
	}

	var sync bot.SyncReport
	if code := do(t, h, http.MethodPost, botapi.SyncPath, &sync); code != http.StatusOK {
		t.Fatalf("POST sync: %d", code)
	}
	if sync.Changed != 1 || len(sync.Results) != 2 {
		t.Fatalf("sync = %+v", sync)
	}
	branch := bot.UpsertBranch(good.PubKey)
	if _, err := gitHead(srv, branch); err != nil {
		t.Fatalf("no proposal branch after sync: %v", err)
	}
	if code := do(t, h, http.MethodPost, botapi.SyncPath, &sync); code != http.StatusOK || sync.Changed != 0 {
		t.Fatalf("second sync: %d %+v", code, sync)
	}
	do(t, h, http.MethodGet, botapi.NodesPath, &nodes)
	want[good.PubKey] = bot.StatusPending
	if got := statuses(nodes); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("statuses after sync = %v, want %v", got, want)
	}

	// Only the two routes, with their methods.
	for _, c := range []struct{ method, path string }{{http.MethodPost, botapi.NodesPath}, {http.MethodGet, botapi.SyncPath}, {http.MethodGet, "/api/v1/blockchain"}} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != http.StatusMethodNotAllowed && rec.Code != http.StatusNotFound {
			t.Errorf("%s %s = %d", c.method, c.path, rec.Code)
		}
	}
}

func gitHead(srv *gitserver.Server, branch string) (string, error) {
	_, rev, err := gittree.Open(srv.RepoPath(), "refs/heads/"+branch)
	if err != nil {
		return "", err
	}
	return rev.Hash, nil
}

// failing is a Bot whose calls fail.
type failing struct{ err error }

func (f failing) Nodes(context.Context) (*bot.NodesReport, error) { return nil, f.err }
func (f failing) Sync(context.Context) (*bot.SyncReport, error)   { return nil, f.err }

func TestErrors(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{bot.ErrNoRegistry, http.StatusNotFound, botapi.CodeNotConfigured},
		{errors.New("chain down"), http.StatusServiceUnavailable, botapi.CodeUnavailable},
	}
	for _, tc := range cases {
		for _, h := range []struct {
			h      http.Handler
			method string
		}{{botapi.NodesHandler(failing{tc.err}, nil), http.MethodGet}, {botapi.SyncHandler(failing{tc.err}, nil), http.MethodPost}} {
			var e botapi.Error
			if code := do(t, h.h, h.method, "/", &e); code != tc.status || e.Code != tc.code || e.Message == "" {
				t.Errorf("%v: %d %+v, want %d %s", tc.err, code, e, tc.status, tc.code)
			}
		}
	}
}
