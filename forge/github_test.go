package forge

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const sha = "0123456789abcdef0123456789abcdef01234567"

// fast keeps the retry waits of tests short where the test does not check them.
var fast = RetryPolicy{RateLimitWait: 10 * time.Millisecond, Backoff: time.Millisecond}

func TestGitHubEnsurePullRequestCreatesThenUpdates(t *testing.T) {
	f := newFakeGitHub(t)
	g := f.forge(t, fast)
	ctx := context.Background()

	pr, err := g.EnsurePullRequest(ctx, PR{Head: "api/ada/1a2b3c4d", Base: "main", Title: "api: add server", Body: "first", Labels: []string{"ddc-gitops", "api"}})
	if err != nil {
		t.Fatal(err)
	}
	want := &PullRequest{Number: 1, URL: "https://github.example/acme/fleet/pull/1", State: "open", Head: "api/ada/1a2b3c4d", Base: "main",
		HeadSHA: "0000000000000000000000000000000000000abc", Title: "api: add server", Body: "first", Labels: []string{"ddc-gitops", "api"}}
	if !reflect.DeepEqual(pr, want) {
		t.Fatalf("pull request\n got %+v\nwant %+v", pr, want)
	}
	// The same head again: the open PR is updated, not duplicated, and
	// labels it already has are not added again.
	pr, err = g.EnsurePullRequest(ctx, PR{Head: "api/ada/1a2b3c4d", Base: "main", Title: "api: add server", Body: "second", Labels: []string{"api"}})
	if err != nil || pr.Number != 1 || pr.Body != "second" {
		t.Fatalf("second ensure: %+v %v", pr, err)
	}

	got := f.recorded()
	wantReqs := []recorded{
		{"GET", "/repos/acme/fleet/pulls", "direction=desc&head=acme%3Aapi%2Fada%2F1a2b3c4d&per_page=10&sort=created&state=open", ""},
		{"POST", "/repos/acme/fleet/pulls", "", `{"title":"api: add server","head":"api/ada/1a2b3c4d","base":"main","body":"first"}`},
		{"POST", "/repos/acme/fleet/issues/1/labels", "", `["ddc-gitops","api"]`},
		{"GET", "/repos/acme/fleet/pulls", "direction=desc&head=acme%3Aapi%2Fada%2F1a2b3c4d&per_page=10&sort=created&state=open", ""},
		{"PATCH", "/repos/acme/fleet/pulls/1", "", `{"title":"api: add server","body":"second"}`},
	}
	if !reflect.DeepEqual(got, wantReqs) {
		t.Fatalf("requests\n got %+v\nwant %+v", got, wantReqs)
	}
}

func TestGitHubFindCommentCloseAndStatus(t *testing.T) {
	f := newFakeGitHub(t)
	g := f.forge(t, fast)
	ctx := context.Background()

	if pr, err := g.FindPullRequest(ctx, "bot/node/x"); err != nil || pr != nil {
		t.Fatalf("find before any PR: %+v %v", pr, err)
	}
	if _, err := g.EnsurePullRequest(ctx, PR{Head: "bot/node/x", Base: "main", Title: "admit x"}); err != nil {
		t.Fatal(err)
	}
	if err := g.ClosePullRequest(ctx, 1, "superseded"); err != nil {
		t.Fatal(err)
	}
	// Closed PRs are still found (state=all).
	pr, err := g.FindPullRequest(ctx, "bot/node/x")
	if err != nil || pr == nil || pr.State != StateClosed || pr.Merged {
		t.Fatalf("find after close: %+v %v", pr, err)
	}
	if err := g.Comment(ctx, 1, "hello"); err != nil {
		t.Fatal(err)
	}
	if got := f.comments[1]; !reflect.DeepEqual(got, []string{"superseded", "hello"}) {
		t.Fatalf("comments = %q", got)
	}
	err = g.SetCommitStatus(ctx, sha, Status{Context: "ddc-gitops/eu-haproxy-1", State: StatusSuccess, Description: strings.Repeat("x", 200), TargetURL: "https://api.example/api/v1/revisions/" + sha})
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.recorded()
	last := reqs[len(reqs)-1]
	if last.Method != "POST" || last.Path != "/repos/acme/fleet/statuses/"+sha {
		t.Fatalf("status request %+v", last)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(last.Body), &body); err != nil {
		t.Fatal(err)
	}
	if body["state"] != "success" || body["context"] != "ddc-gitops/eu-haproxy-1" || len([]rune(body["description"])) != 140 || !strings.HasSuffix(body["target_url"], sha) {
		t.Fatalf("status body %v", body)
	}
	for _, r := range reqs {
		if r.Method == "GET" && !strings.Contains(r.Query, "head=acme%3Abot%2Fnode%2Fx") {
			t.Errorf("list without OWNER:BRANCH head filter: %+v", r)
		}
	}
	// Invalid input is refused before any request.
	n := len(f.recorded())
	for _, err := range []error{
		g.SetCommitStatus(ctx, "abc", Status{Context: "c", State: StatusSuccess}),
		g.SetCommitStatus(ctx, sha, Status{Context: "c", State: "done"}),
		g.Comment(ctx, 1, " "),
		func() error {
			_, err := g.EnsurePullRequest(ctx, PR{Head: "main", Base: "main", Title: "x"})
			return err
		}(),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("err = %v, want ErrInvalid", err)
		}
	}
	if len(f.recorded()) != n {
		t.Error("invalid input reached GitHub")
	}
}

func TestGitHubRetriesRateLimits(t *testing.T) {
	cases := []struct {
		name string
		fail func(http.ResponseWriter)
	}{
		{"secondary rate limit 403 with Retry-After", secondaryLimit("1")},
		{"429 with Retry-After", tooMany("1")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGitHub(t)
			g := f.forge(t, RetryPolicy{})
			f.failNext("POST /repos/acme/fleet/statuses/"+sha, tc.fail)
			start := time.Now()
			if err := g.SetCommitStatus(context.Background(), sha, Status{Context: "ddc-gitops", State: StatusPending}); err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el < time.Second {
				t.Errorf("retried after %s, before the 1s Retry-After", el)
			}
			if n := len(f.recorded()); n != 2 {
				t.Errorf("%d requests, want the failed one and one retry", n)
			}
			if len(f.statuses) != 1 {
				t.Errorf("statuses recorded: %d", len(f.statuses))
			}
		})
	}
}

func TestGitHubRetryIsBounded(t *testing.T) {
	f := newFakeGitHub(t)
	g := f.forge(t, RetryPolicy{MaxAttempts: 3, RateLimitWait: time.Millisecond, Backoff: time.Millisecond})
	for range 5 {
		f.failNext("POST /repos/acme/fleet/statuses/"+sha, tooMany("0"))
	}
	err := g.SetCommitStatus(context.Background(), sha, Status{Context: "ddc-gitops", State: StatusPending})
	if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts") {
		t.Fatalf("err = %v", err)
	}
	f.mu.Lock()
	f.fail = map[string][]func(http.ResponseWriter){}
	f.mu.Unlock()
	// A wait longer than MaxWait fails at once instead of blocking the queue.
	g = f.forge(t, RetryPolicy{MaxWait: time.Second})
	f.failNext("POST /repos/acme/fleet/statuses/"+sha, secondaryLimit("3600"))
	start := time.Now()
	err = g.SetCommitStatus(context.Background(), sha, Status{Context: "ddc-gitops", State: StatusPending})
	if err == nil || !strings.Contains(err.Error(), "secondary rate limit for 1h0m0s") || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %s", err, time.Since(start))
	}
	// A non-idempotent write is not retried after a server error; a read is.
	g = f.forge(t, fast)
	f.failNext("POST /repos/acme/fleet/issues/7/comments", status(http.StatusBadGateway))
	if err := g.Comment(context.Background(), 7, "x"); err == nil {
		t.Fatal("a comment was retried after a 502 (it may have been posted)")
	}
	f.failNext("GET /repos/acme/fleet/pulls", status(http.StatusBadGateway))
	if _, err := g.FindPullRequest(context.Background(), "b"); err != nil {
		t.Fatalf("a read was not retried after a 502: %v", err)
	}
	// Other client errors are returned as they are.
	f.failNext("PATCH /repos/acme/fleet/pulls/9", status(http.StatusUnprocessableEntity))
	before := len(f.recorded())
	if err := g.ClosePullRequest(context.Background(), 9, ""); err == nil || len(f.recorded()) != before+1 {
		t.Fatalf("422: err %v, %d requests", err, len(f.recorded())-before)
	}
}

// TestGitHubWritesOneAtATime checks that concurrent writes reach GitHub one
// at a time: each request is held until a second one arrives or 100ms
// pass, so writes that overlap are seen overlapping.
func TestGitHubWritesOneAtATime(t *testing.T) {
	f := newFakeGitHub(t)
	var inflight, peak atomic.Int32
	overlap := make(chan struct{})
	var once sync.Once
	f.hook = func(r *http.Request) {
		if r.Method == http.MethodGet {
			return
		}
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if n > 1 {
			once.Do(func() { close(overlap) })
		}
		select {
		case <-overlap:
		case <-time.After(100 * time.Millisecond):
		}
	}
	g := f.forge(t, fast)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.SetCommitStatus(context.Background(), sha, Status{Context: "ddc-gitops", State: StatusPending}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p != 1 {
		t.Fatalf("%d writes reached GitHub at once, want 1", p)
	}
	if len(f.statuses) != 4 {
		t.Fatalf("statuses = %d", len(f.statuses))
	}
}

func TestGitHubQueueHonoursContext(t *testing.T) {
	f := newFakeGitHub(t)
	g := f.forge(t, RetryPolicy{})
	f.failNext("POST /repos/acme/fleet/statuses/"+sha, secondaryLimit("30"))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := g.SetCommitStatus(ctx, sha, Status{Context: "ddc-gitops", State: StatusPending})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %s: a wait past the deadline must fail fast", err, time.Since(start))
	}
}
