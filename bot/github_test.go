package bot

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/bot/chain"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
)

// handle runs one event through the bot and checks the outcome.
func (e *env) handle(ev chain.Event, wantAction string) NodeResult {
	e.t.Helper()
	res := e.bot.HandleEvent(context.Background(), ev)
	if res.Action != wantAction {
		e.t.Fatalf("HandleEvent(%s removed=%v %s) = %s (%s), want %s", ev.Kind, ev.Removed, ev.Node.Host, res.Action, res.Detail, wantAction)
	}
	return res
}

// An admitted node becomes exactly one pull request with a valid node file,
// provenance in the body and the commit, and the right labels; the same
// event again, a restart and a restart without state do nothing more.
func TestAdmissionOpensOnePullRequest(t *testing.T) {
	e := newEnv(t, envOptions{github: true})
	r := testRecord(1)
	ev := testEvent(chain.NodeAdmitted, r, 42)
	res := e.handle(ev, ResultAdd)
	if res.PullRequest == nil || res.PullRequest.Number != 1 || res.Branch != UpsertBranch(r.PubKey) {
		t.Fatalf("result = %+v", res)
	}
	if n := e.gh.count(http.MethodPost, "/pulls"); n != 1 {
		t.Fatalf("%d pull requests created, want 1", n)
	}
	create := e.gh.requestsOf(http.MethodPost, "/pulls")[0]
	var in map[string]string
	if err := json.Unmarshal([]byte(create.Body), &in); err != nil {
		t.Fatal(err)
	}
	if in["head"] != UpsertBranch(r.PubKey) || in["base"] != "main" || !strings.HasPrefix(in["title"], "Admit DDC node node-a11ce0010000 (198.18.1.41:8080) in zone eu") {
		t.Fatalf("create request = %v", in)
	}
	for _, want := range []string{"| Chain ID | 1337 |", "| Block | 42 (`" + ev.BlockHash + "`) |", "| Transaction | `" + ev.TxHash + "` |",
		"| Log index | 3 |", "| Event | NodeAdmitted |", "mapped to zone `eu`", "### Plan: 2 hosts", "eu-haproxy-1", "add `ddc_nodes_http/node-a11ce0010000`",
		"| host | `198.18.1.41` |"} {
		if !strings.Contains(in["body"], want) {
			t.Errorf("pull request body lacks %q:\n%s", want, in["body"])
		}
	}
	if strings.Contains(in["body"], "us-haproxy") {
		t.Errorf("the plan lists hosts the change does not affect:\n%s", in["body"])
	}
	if got := e.gh.labels(t, 1); !slices.Equal(got, []string{"node-admission", "add"}) {
		t.Errorf("labels = %v", got)
	}

	f, fsys, rev := e.mustLoadBranch(UpsertBranch(r.PubKey))
	n := f.Node("node-a11ce0010000")
	if n == nil || !sameChainFields(n, r) || n.Zone != "eu" || !n.Admitted {
		t.Fatalf("node on the branch = %+v", n)
	}
	if _, err := fs.Stat(fsys, "nodes/node-a11ce0010000.yaml"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Chain-Id: 1337\n", "Block: 42\n", "Tx: " + ev.TxHash + "\n", "Log-Index: 3\n", "Node-PubKey: " + r.PubKey + "\n"} {
		if !strings.Contains(rev.Message, want) {
			t.Errorf("commit message lacks trailer %q:\n%s", want, rev.Message)
		}
	}
	if rev.Author != "ddc-gitops-bot <"+DefaultAuthorEmail+">" {
		t.Errorf("commit author = %s", rev.Author)
	}
	head := rev.Hash

	// The same event again (a watcher replay): nothing is written anywhere.
	writes, pushes := e.gh.writes(), e.srv.Stats().ReceivePacks
	e.handle(ev, ResultUpToDate)
	// A restart on the same state directory.
	e.bot = e.newBot(envOptions{})
	e.handle(ev, ResultUpToDate)
	// A restart that lost its state: the branch content tells.
	e.stateDir = t.TempDir()
	e.cfg.StateDir = e.stateDir
	e.bot = e.newBot(envOptions{})
	e.handle(ev, ResultUpToDate)
	if got := e.gh.writes(); got != writes {
		t.Errorf("replays made %d forge writes", got-writes)
	}
	if got := e.srv.Stats().ReceivePacks; got != pushes {
		t.Errorf("replays pushed %d times", got-pushes)
	}
	if e.branchHead(UpsertBranch(r.PubKey)) != head || e.gh.numPRs() != 1 {
		t.Fatalf("replays changed the branch or opened a pull request")
	}
	if got := counter(t, e.bot.metrics.events.WithLabelValues(EventKindAdmitted)); got != 1 {
		t.Errorf("events_total{kind=admitted} of the last bot = %v, want 1", got)
	}
}

// A parameter change before the merge updates the same pull request; after
// the merge it opens an update pull request.
func TestParameterChange(t *testing.T) {
	e := newEnv(t, envOptions{github: true})
	r := testRecord(1)
	e.handle(testEvent(chain.NodeAdmitted, r, 10), ResultAdd)
	branch := UpsertBranch(r.PubKey)
	first := e.branchHead(branch)

	moved := r
	moved.Host, moved.HTTPPort = "198.18.1.77", 8081
	upd := testEvent(chain.NodeUpdated, moved, 11)
	upd.Prev = &r
	res := e.handle(upd, ResultAdd)
	if res.PullRequest.Number != 1 || e.gh.count(http.MethodPost, "/pulls") != 1 {
		t.Fatalf("the change opened another pull request: %+v", res)
	}
	if e.gh.count(http.MethodPatch, "/pulls/1") != 1 {
		t.Fatalf("pull request #1 was not edited")
	}
	body := e.gh.pr(t, 1)["body"].(string)
	if !strings.Contains(body, "| host | `198.18.1.77` |") || !strings.Contains(body, "| Block | 11 ") {
		t.Fatalf("body not updated:\n%s", body)
	}
	f, _, _ := e.mustLoadBranch(branch)
	if n := f.Node("node-a11ce0010000"); n == nil || n.Host != "198.18.1.77" || n.HTTPPort != 8081 {
		t.Fatalf("branch node = %+v", n)
	}
	if e.branchHead(branch) == first {
		t.Fatal("branch not force-updated")
	}

	// Merge, then the chain changes the node again: an update proposal.
	e.merge(branch, "nodes/node-a11ce0010000.yaml")
	e.gh.setClosed(1, true)
	e.handle(upd, ResultNone)
	again := moved
	again.Mode = "cache"
	upd2 := testEvent(chain.NodeUpdated, again, 12)
	upd2.Prev = &moved
	res = e.handle(upd2, ResultUpdate)
	if res.PullRequest.Number != 2 || !slices.Equal(e.gh.labels(t, 2), []string{"node-admission", "update"}) {
		t.Fatalf("update proposal = %+v, labels %v", res.PullRequest, e.gh.labels(t, 2))
	}
	if body := e.gh.pr(t, 2)["body"].(string); !strings.Contains(body, "mode `storage` → `cache`") || !strings.Contains(body, "kept from `nodes/node-a11ce0010000.yaml`") {
		t.Fatalf("update body:\n%s", body)
	}
	f, _, rev := e.mustLoadBranch(branch)
	if n := f.Node("node-a11ce0010000"); n == nil || n.Mode != "cache" {
		t.Fatalf("branch node = %+v", n)
	}
	main, _ := e.srv.Head()
	if !strings.Contains(rev.Message, "Block: 12") || e.parentOf(branch) != main {
		t.Fatalf("update commit not on the main head (parent %s, main %s):\n%s", e.parentOf(branch), main, rev.Message)
	}
}

// parentOf is the first parent of a branch's head.
func (e *env) parentOf(branch string) string {
	e.t.Helper()
	info, err := e.bot.branches.inspect(context.Background(), branch, "x", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return info.Parent
}

// A removal before the admission is merged closes the admission pull
// request with a comment; so does a reorg that undoes the admission.
func TestRemovalSupersedesOpenAdmission(t *testing.T) {
	for _, tc := range []struct {
		name  string
		event func(chain.Record) chain.Event
	}{
		{"node removed", func(r chain.Record) chain.Event { return testEvent(chain.NodeRemoved, r, 20) }},
		{"admission undone by a reorg", func(r chain.Record) chain.Event {
			ev := testEvent(chain.NodeAdmitted, r, 10)
			ev.Removed = true
			return ev
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{github: true})
			r := testRecord(1)
			e.handle(testEvent(chain.NodeAdmitted, r, 10), ResultAdd)
			res := e.handle(tc.event(r), ResultNone)
			if !slices.Equal(res.Closed, []int{1}) {
				t.Fatalf("closed = %v, want [1]", res.Closed)
			}
			if st := e.gh.pr(t, 1)["state"]; st != "closed" {
				t.Fatalf("pull request #1 is %v", st)
			}
			if c := e.gh.commentsOf(1); len(c) != 1 || !strings.Contains(c[0], "Superseded") {
				t.Fatalf("comments = %q", c)
			}
			if e.gh.count(http.MethodPost, "/pulls") != 1 || e.branchHead(RemoveBranch(r.PubKey)) != "" {
				t.Fatal("a removal was proposed for a node main never had")
			}
			if got := counter(t, e.bot.metrics.prs.WithLabelValues(ActionClose)); got != 1 {
				t.Errorf("prs_total{action=close} = %v", got)
			}
			// The node comes back: a new admission proposal, not blocked by
			// the closed one (the bot closed it, not a person).
			res = e.handle(testEvent(chain.NodeAdmitted, r, 30), ResultAdd)
			if res.PullRequest.Number != 2 {
				t.Fatalf("re-admission = %+v", res.PullRequest)
			}
		})
	}
}

// Removing a merged node proposes deleting its file.
func TestRemovalOfAdmittedNode(t *testing.T) {
	e := newEnv(t, envOptions{github: true})
	// eu-node-2 of the example fleet, as the chain has it.
	r := chain.Record{PubKey: "0x" + strings.TrimPrefix(mustField(t, "eu-node-2", "pubKey"), "0x"), ProviderID: mustField(t, "eu-node-2", "providerId"),
		ClusterID: euCluster, Host: "198.18.1.22", Domain: "eu-node-2.ddc.example", HTTPPort: 8080, GRPCPort: 9091, P2PPort: 9070, Mode: "storage"}
	e.handle(testEvent(chain.NodeAdmitted, r, 5), ResultNone)
	if e.gh.writes() != 0 {
		t.Fatal("an admission main already has made forge writes")
	}
	res := e.handle(testEvent(chain.NodeRemoved, r, 6), ResultRemove)
	if res.Branch != RemoveBranch(r.PubKey) || !slices.Equal(e.gh.labels(t, 1), []string{"node-admission", "remove"}) {
		t.Fatalf("removal = %+v labels %v", res, e.gh.labels(t, 1))
	}
	f, fsys, _ := e.mustLoadBranch(res.Branch)
	if f.Node("eu-node-2") != nil {
		t.Fatal("node still on the removal branch")
	}
	if _, err := fs.Stat(fsys, "nodes/eu-node-2.yaml"); err == nil {
		t.Fatal("file still on the removal branch")
	}
	if body := e.gh.pr(t, 1)["body"].(string); !strings.Contains(body, "removes `nodes/eu-node-2.yaml`") || !strings.Contains(body, "del `ddc_nodes_http/eu-node-2`") {
		t.Fatalf("removal body:\n%s", body)
	}
	// Re-admitted before the removal merged: the removal is closed.
	res = e.handle(testEvent(chain.NodeAdmitted, r, 7), ResultNone)
	if !slices.Equal(res.Closed, []int{1}) {
		t.Fatalf("closed = %v", res.Closed)
	}
}

func mustField(t *testing.T, node, field string) string {
	t.Helper()
	for _, line := range strings.Split(mustRead(t, "../examples/fleet/nodes/"+node+".yaml"), "\n") {
		if v, ok := strings.CutPrefix(line, field+": "); ok {
			return v
		}
	}
	t.Fatalf("%s has no %s", node, field)
	return ""
}

// Chain data is untrusted: an injected host or a port 0 never becomes a
// file, a branch or a pull request, and is counted.
func TestInvalidRecordsAreRefused(t *testing.T) {
	e := newEnv(t, envOptions{github: true})
	evil := testRecord(1)
	evil.Host = "evil.example\n  server x 1.2.3.4:80"
	zero := testRecord(2)
	zero.HTTPPort = 0
	dup := testRecord(3)
	dup.Host = "198.18.1.11" // eu-haproxy-1: a load balancer as a node
	nozone := testRecord(4)
	nozone.ClusterID = "0x" + strings.Repeat("cd", 20)
	for i, r := range []chain.Record{evil, zero, dup, nozone} {
		pushes := e.srv.Stats().ReceivePacks
		res := e.handle(testEvent(chain.NodeAdmitted, r, uint64(10+i)), ResultInvalid)
		if got := counter(t, e.bot.metrics.invalid); got != float64(i+1) {
			t.Fatalf("invalid_events_total = %v after %d invalid events", got, i+1)
		}
		if e.srv.Stats().ReceivePacks != pushes || e.branchHead(UpsertBranch(r.PubKey)) != "" {
			t.Fatalf("record %d (%s) was pushed", i, res.Detail)
		}
	}
	if n := e.gh.writes(); n != 0 {
		t.Fatalf("%d forge writes for invalid records", n)
	}
	// An admitted node whose update turns invalid: its open proposal is closed.
	good := testRecord(5)
	e.handle(testEvent(chain.NodeAdmitted, good, 20), ResultAdd)
	bad := good
	bad.P2PPort = 0
	res := e.handle(testEvent(chain.NodeUpdated, bad, 21), ResultInvalid)
	if !slices.Equal(res.Closed, []int{1}) || !strings.Contains(e.gh.commentsOf(1)[0], "p2pPort") {
		t.Fatalf("closed %v, comments %q", res.Closed, e.gh.commentsOf(1))
	}
	if strings.Contains(e.gh.commentsOf(1)[0], "\n  server") {
		t.Fatal("chain data leaked into a comment")
	}
}

// A branch a person committed to is never force-pushed: the bot comments
// once per head instead.
func TestHumanCommitIsNotOverwritten(t *testing.T) {
	e := newEnv(t, envOptions{github: true})
	r := testRecord(1)
	e.handle(testEvent(chain.NodeAdmitted, r, 10), ResultAdd)
	branch := UpsertBranch(r.PubKey)
	human := e.humanCommit(branch, "nodes/node-a11ce0010000.yaml")
	moved := r
	moved.Host = "198.18.1.78"
	res := e.handle(testEvent(chain.NodeUpdated, moved, 11), ResultSkipped)
	if e.branchHead(branch) != human {
		t.Fatal("the bot force-pushed over a person's commit")
	}
	if c := e.gh.commentsOf(1); len(c) != 1 || !strings.Contains(c[0], human[:12]) {
		t.Fatalf("comments = %q (%s)", c, res.Detail)
	}
	e.handle(testEvent(chain.NodeUpdated, moved, 12), ResultSkipped)
	if c := e.gh.commentsOf(1); len(c) != 1 {
		t.Fatalf("commented %d times on the same head", len(c))
	}
}

// A pull request a person closed is not reopened for the same change; a
// different change is proposed.
func TestHumanClosedProposalIsRespected(t *testing.T) {
	e := newEnv(t, envOptions{github: true})
	r := testRecord(1)
	ev := testEvent(chain.NodeAdmitted, r, 10)
	e.handle(ev, ResultAdd)
	e.gh.setClosed(1, false)
	e.handle(ev, ResultSkipped)
	if e.gh.numPRs() != 1 {
		t.Fatal("reopened a proposal a person closed")
	}
	moved := r
	moved.HTTPPort = 8090
	res := e.handle(testEvent(chain.NodeUpdated, moved, 11), ResultAdd)
	if res.PullRequest.Number != 2 {
		t.Fatalf("new change = %+v", res.PullRequest)
	}
}

// When main moves, the next event rebuilds the branch on the new head and
// updates the pull request in place.
func TestRebuildOnNewBase(t *testing.T) {
	e := newEnv(t, envOptions{github: true})
	r := testRecord(1)
	ev := testEvent(chain.NodeAdmitted, r, 10)
	e.handle(ev, ResultAdd)
	main := gitservertest.MustCommit(t, e.srv, map[string][]byte{"README.md": []byte("fleet\n")}, nil, "unrelated change")
	e.handle(ev, ResultAdd)
	if p := e.parentOf(UpsertBranch(r.PubKey)); p != main {
		t.Fatalf("branch parent %s, main %s", p, main)
	}
	if e.gh.numPRs() != 1 || !strings.Contains(e.gh.pr(t, 1)["body"].(string), "base="+main) {
		t.Fatal("pull request not updated in place")
	}
}

// A forge failure is retried with backoff until the proposal is made.
func TestTransientFailureIsRetried(t *testing.T) {
	e := newEnv(t, envOptions{github: true})
	e.gh.failNext("POST /repos/acme/fleet/pulls", 2)
	r := testRecord(1)
	e.handle(testEvent(chain.NodeAdmitted, r, 10), ResultFailed)
	if _, ok := e.bot.nextRetry(); !ok {
		t.Fatal("no retry scheduled")
	}
	waitFor(t, "the retry to open the pull request", func() bool {
		if d, ok := e.bot.nextRetry(); ok && d == 0 {
			e.bot.retryDue(context.Background())
		}
		return e.gh.numPRs() == 1
	})
	if _, ok := e.bot.nextRetry(); ok {
		t.Fatal("retry still pending after success")
	}
	if n := e.gh.count(http.MethodPost, "/pulls"); n != 3 {
		t.Fatalf("create attempts = %d, want 3 (two failures, one success)", n)
	}
}

// Run feeds the source's events to the bot and stops on cancel.
func TestRunProcessesEvents(t *testing.T) {
	src := &chanSource{ch: make(chan chain.Event, 4)}
	e := newEnv(t, envOptions{github: true, source: src})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.bot.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Error("Run did not stop")
		}
	})
	src.ch <- testEvent(chain.NodeAdmitted, testRecord(1), 10)
	src.ch <- testEvent(chain.NodeAdmitted, testRecord(2), 11)
	waitFor(t, "two pull requests", func() bool { return e.gh.numPRs() == 2 })
}

// chanSource emits the events sent on ch.
type chanSource struct{ ch chan chain.Event }

func (s *chanSource) Run(ctx context.Context, out chan<- chain.Event) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-s.ch:
			select {
			case out <- e:
			case <-ctx.Done():
				return nil
			}
		}
	}
}
