package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
)

const secret = "It's a Secret to Everybody"

// agent is a test listener serving the agent's sync endpoint.
type agent struct {
	srv     *httptest.Server
	syncs   atomic.Int32
	reasons chan string
}

func newAgent(t *testing.T) *agent {
	t.Helper()
	a := &agent{reasons: make(chan string, 100)}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != agentapi.PathSync || r.Header.Get("Authorization") != "Bearer sync-token" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		var body struct{ Reason string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		a.syncs.Add(1)
		a.reasons <- body.Reason
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// agentsNotifier syncs every agent concurrently, as the API's registry does.
func agentsNotifier(agents ...*agent) Notifier {
	return NotifierFunc(func(ctx context.Context, reason string) error {
		var wg sync.WaitGroup
		errs := make([]error, len(agents))
		for i, a := range agents {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = (&agentapi.Client{BaseURL: a.srv.URL, Token: "sync-token"}).Sync(ctx, reason)
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	})
}

func newGitHub(t *testing.T, opts GitHubOptions) *GitHub {
	t.Helper()
	if opts.Secret == "" {
		opts.Secret = secret
	}
	h, err := NewGitHub(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func sign256(key string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// deliver posts a GitHub delivery and returns the response.
func deliver(t *testing.T, h http.Handler, event, delivery string, payload any, sig func([]byte) string) (*httptest.ResponseRecorder, Reply) {
	t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/webhooks/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	if sig != nil {
		req.Header.Set("X-Hub-Signature-256", sig(body))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var rep Reply
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatalf("reply %q: %v", rec.Body, err)
	}
	return rec, rep
}

func good(b []byte) string { return sign256(secret, b) }

func push(ref string, files ...string) map[string]any {
	commits := []any{}
	if len(files) > 0 {
		commits = append(commits, map[string]any{"id": "c1", "modified": files})
	}
	return map[string]any{"ref": ref, "after": "89abcdef0123456789abcdef0123456789abcdef", "pusher": map[string]any{"name": "ada"}, "commits": commits}
}

func merged(action string, isMerged bool, base string) map[string]any {
	return map[string]any{"action": action, "number": 7, "pull_request": map[string]any{
		"number": 7, "merged": isMerged, "merge_commit_sha": "feedfacefeedfacefeedfacefeedfacefeedface", "base": map[string]any{"ref": base},
	}}
}

func TestGitHubDeliveries(t *testing.T) {
	cases := []struct {
		name     string
		paths    []string
		event    string
		payload  any
		sig      func([]byte) string
		code     int
		status   string
		wantSync bool
	}{
		{"push to the branch", nil, "push", push("refs/heads/main", "nodes/x.yaml"), good, 202, StatusAccepted, true},
		{"push to another branch", nil, "push", push("refs/heads/feature", "nodes/x.yaml"), good, 200, StatusIgnored, false},
		{"push deleting the branch", nil, "push", map[string]any{"ref": "refs/heads/main", "deleted": true}, good, 200, StatusIgnored, false},
		{"push outside the fleet paths", []string{"fleet/"}, "push", push("refs/heads/main", "docs/readme.md"), good, 200, StatusIgnored, false},
		{"push inside the fleet paths", []string{"fleet/"}, "push", push("refs/heads/main", "docs/a.md", "fleet/nodes/x.yaml"), good, 202, StatusAccepted, true},
		{"push without a file list", []string{"fleet/"}, "push", push("refs/heads/main"), good, 202, StatusAccepted, true},
		{"pull request merged into the branch", nil, "pull_request", merged("closed", true, "main"), good, 202, StatusAccepted, true},
		{"pull request closed unmerged", nil, "pull_request", merged("closed", false, "main"), good, 200, StatusIgnored, false},
		{"pull request opened", nil, "pull_request", merged("opened", false, "main"), good, 200, StatusIgnored, false},
		{"pull request merged elsewhere", nil, "pull_request", merged("closed", true, "dev"), good, 200, StatusIgnored, false},
		{"ping", nil, "ping", map[string]any{"zen": "Keep it logically awesome."}, good, 200, StatusPong, false},
		{"other event", nil, "issues", map[string]any{"action": "opened"}, good, 200, StatusIgnored, false},
		{"bad signature", nil, "push", push("refs/heads/main"), func(b []byte) string { return sign256("wrong", b) }, 401, StatusError, false},
		{"sha1 signature only", nil, "push", push("refs/heads/main"), nil, 401, StatusError, false},
		{"malformed signature", nil, "push", push("refs/heads/main"), func([]byte) string { return "sha256=zz" }, 401, StatusError, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgent(t)
			h := newGitHub(t, GitHubOptions{Paths: tc.paths, Notifier: agentsNotifier(a)})
			rec, rep := deliver(t, h, tc.event, fmt.Sprintf("d-%d", i), tc.payload, tc.sig)
			if rec.Code != tc.code || rep.Status != tc.status {
				t.Fatalf("got %d %+v, want %d %s", rec.Code, rep, tc.code, tc.status)
			}
			h.Wait()
			if got := a.syncs.Load() == 1; got != tc.wantSync {
				t.Fatalf("agent synced %d times, want sync=%v", a.syncs.Load(), tc.wantSync)
			}
			if tc.wantSync {
				if r := <-a.reasons; !strings.Contains(r, "delivery d-") {
					t.Errorf("sync reason %q does not name the delivery", r)
				}
			}
		})
	}
}

func TestGitHubDuplicateDeliverySyncsOnce(t *testing.T) {
	a, b := newAgent(t), newAgent(t)
	h := newGitHub(t, GitHubOptions{Notifier: agentsNotifier(a, b)})
	for i := range 3 {
		rec, rep := deliver(t, h, "push", "same-id", push("refs/heads/main", "nodes/x.yaml"), good)
		want := StatusAccepted
		if i > 0 {
			want = StatusDuplicate
		}
		if rep.Status != want {
			t.Fatalf("delivery %d: %d %+v, want %s", i, rec.Code, rep, want)
		}
		h.Wait()
	}
	if a.syncs.Load() != 1 || b.syncs.Load() != 1 {
		t.Fatalf("syncs = %d, %d; want 1 each", a.syncs.Load(), b.syncs.Load())
	}
	// A delivery with a bad signature does not poison the id set.
	deliver(t, h, "push", "fresh-id", push("refs/heads/main"), func(b []byte) string { return sign256("x", b) })
	if _, rep := deliver(t, h, "push", "fresh-id", push("refs/heads/main"), good); rep.Status != StatusAccepted {
		t.Fatalf("after a forged delivery with the same id: %+v", rep)
	}
}

// TestGitHubAnswersBeforeTheFanOut: the reply does not wait for agents.
func TestGitHubAnswersBeforeTheFanOut(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	h := newGitHub(t, GitHubOptions{Notifier: NotifierFunc(func(ctx context.Context, _ string) error {
		calls.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})})
	rec, rep := deliver(t, h, "push", "d1", push("refs/heads/main"), good)
	if rec.Code != http.StatusAccepted || rep.Status != StatusAccepted {
		t.Fatalf("%d %+v", rec.Code, rep)
	}
	// More deliveries while the first fan-out hangs: answered too, and
	// folded into one follow-up fan-out.
	for i := range 5 {
		if rec, _ := deliver(t, h, "push", fmt.Sprintf("burst-%d", i), push("refs/heads/main"), good); rec.Code != http.StatusAccepted {
			t.Fatalf("burst %d: %d", i, rec.Code)
		}
	}
	close(release)
	h.Wait()
	if n := calls.Load(); n != 2 {
		t.Fatalf("fan-outs = %d, want 2 (the first and one for the burst)", n)
	}
}

func TestGitHubFanOutTimeout(t *testing.T) {
	done := make(chan error, 1)
	h := newGitHub(t, GitHubOptions{Timeout: 50 * time.Millisecond, Notifier: NotifierFunc(func(ctx context.Context, _ string) error {
		<-ctx.Done()
		done <- ctx.Err()
		return ctx.Err()
	})})
	deliver(t, h, "push", "d1", push("refs/heads/main"), good)
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("fan-out ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the fan-out was not bounded by its timeout")
	}
}

func TestReceiversRefuseEmptySecretAndOversizedBodies(t *testing.T) {
	n := NotifierFunc(func(context.Context, string) error { return nil })
	if _, err := NewGitHub(GitHubOptions{Notifier: n}); err == nil {
		t.Fatal("github receiver accepted an empty secret")
	}
	if _, err := NewGeneric(GenericOptions{Notifier: n}); err == nil {
		t.Fatal("generic receiver accepted an empty secret")
	}
	if _, err := NewGitHub(GitHubOptions{Secret: "s"}); err == nil {
		t.Fatal("github receiver accepted no notifier")
	}
	h := newGitHub(t, GitHubOptions{Notifier: n, MaxBody: 64})
	rec, _ := deliver(t, h, "push", "big", push("refs/heads/main", strings.Repeat("a", 100)), good)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized payload: %d", rec.Code)
	}
}

func TestGeneric(t *testing.T) {
	a := newAgent(t)
	h, err := NewGeneric(GenericOptions{Secret: "generic-secret", Notifier: agentsNotifier(a)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	post := func(body, sig, delivery string) (int, Reply) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/webhooks/generic", strings.NewReader(body))
		if sig != "" {
			req.Header.Set(SignatureHeader, sig)
		}
		if delivery != "" {
			req.Header.Set(DeliveryHeader, delivery)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var rep Reply
		_ = json.Unmarshal(rec.Body.Bytes(), &rep)
		h.Wait()
		return rec.Code, rep
	}
	s := func(body string) string { return Sign([]byte("generic-secret"), []byte(body)) }
	cases := []struct {
		name, body, sig, delivery string
		code                      int
		syncs                     int32
	}{
		{"no signature", `{}`, "", "", 401, 0},
		{"wrong key", `{}`, Sign([]byte("other"), []byte(`{}`)), "", 401, 0},
		{"signature of another body", `{"ref":"refs/heads/main"}`, s(`{}`), "", 401, 0},
		{"empty body", ``, s(``), "", 202, 1},
		{"ref of the branch", `{"ref":"refs/heads/main","after":"abc"}`, s(`{"ref":"refs/heads/main","after":"abc"}`), "g1", 202, 2},
		{"repeated delivery", `{"ref":"refs/heads/main","after":"abc"}`, s(`{"ref":"refs/heads/main","after":"abc"}`), "g1", 200, 2},
		{"other branch", `{"branch":"dev"}`, s(`{"branch":"dev"}`), "", 200, 2},
		{"not JSON", `hello`, s(`hello`), "", 400, 2},
	}
	for _, tc := range cases {
		code, rep := post(tc.body, tc.sig, tc.delivery)
		if code != tc.code || a.syncs.Load() != tc.syncs {
			t.Errorf("%s: %d %+v, syncs %d; want %d, syncs %d", tc.name, code, rep, a.syncs.Load(), tc.code, tc.syncs)
		}
	}
}

func TestLRUIsBounded(t *testing.T) {
	l := newLRU(3)
	for _, id := range []string{"a", "b", "c"} {
		if l.seen(id) {
			t.Fatalf("%s seen before it was added", id)
		}
	}
	if !l.seen("a") { // a becomes the newest
		t.Fatal("a forgotten")
	}
	l.seen("d") // evicts b, the oldest
	if l.seen("b") {
		t.Fatal("b was kept past the bound")
	}
	if len(l.items) != 3 || l.order.Len() != 3 {
		t.Fatalf("size %d/%d, want 3", len(l.items), l.order.Len())
	}
}
