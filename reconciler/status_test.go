package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
	"github.com/ddc-gitops/ddc-gitops/reconciler/trigger"
)

// slowFetcher is a Fetcher whose Sync blocks until released: a reconcile
// step that takes as long as the test wants.
type slowFetcher struct {
	entered chan struct{}
	release chan struct{}
}

func (f *slowFetcher) Sync(ctx context.Context) (*source.Snapshot, error) {
	f.entered <- struct{}{}
	select {
	case <-f.release:
	case <-ctx.Done():
	}
	return nil, errors.New("slow fetcher: released")
}

// TestStatusAnswersDuringSlowReconcile: while a reconcile is stuck in a
// step, Status, GET /v1/status and GET /readyz answer in well under 50 ms
// and name the step in progress.
func TestStatusAnswersDuringSlowReconcile(t *testing.T) {
	state := t.TempDir()
	applied := persisted{AppliedRevision: "0123456789abcdef0123456789abcdef01234567", AppliedAt: time.Now().Add(-time.Hour)}
	b, _ := json.Marshal(applied)
	if err := os.WriteFile(filepath.Join(state, stateFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	f := &slowFetcher{entered: make(chan struct{}, 1), release: make(chan struct{})}
	a, err := New(Config{Host: "h1", Source: f, StateDir: state, HAProxy: HAProxyPaths{AdminSocket: filepath.Join(state, "admin.sock")}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := a.Handler(trigger.HTTPAuth{Token: "t"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	if s := a.Status(); s.InProgress != nil {
		t.Fatalf("in progress before any reconcile: %+v", s.InProgress)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan Outcome, 1)
	before := time.Now()
	go func() { done <- a.Reconcile(ctx) }()
	select {
	case <-f.entered:
	case <-ctx.Done():
		t.Fatal("the reconcile never reached the fetch step")
	}
	defer func() {
		select {
		case <-f.release:
		default:
			close(f.release)
		}
	}()

	const limit = 50 * time.Millisecond
	var slowest time.Duration
	for range 20 {
		t0 := time.Now()
		s := a.Status()
		slowest = max(slowest, time.Since(t0))
		if s.InProgress == nil || s.InProgress.Step != "fetch" {
			t.Fatalf("status during the fetch: inProgress %+v, want step fetch", s.InProgress)
		}
		if s.InProgress.Since.Before(before) || s.InProgress.StepSince.Before(s.InProgress.Since) {
			t.Fatalf("inProgress times %+v, reconcile started after %v", s.InProgress, before)
		}

		t0 = time.Now()
		resp, err := http.Get(srv.URL + agentapi.PathStatus)
		if err != nil {
			t.Fatal(err)
		}
		var got agentapi.Status
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		slowest = max(slowest, time.Since(t0))
		if err != nil || resp.StatusCode != http.StatusOK || got.InProgress == nil || got.InProgress.Step != "fetch" {
			t.Fatalf("GET /v1/status: %v %v %+v", resp.Status, err, got.InProgress)
		}

		t0 = time.Now()
		resp, err = http.Get(srv.URL + agentapi.PathReadyz)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		slowest = max(slowest, time.Since(t0))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /readyz during a reconcile of a host that runs a revision: %s", resp.Status)
		}
	}
	if slowest >= limit {
		t.Fatalf("slowest status answer during the reconcile took %v, want < %v", slowest, limit)
	}
	t.Logf("slowest status answer during the reconcile: %v", slowest)

	close(f.release)
	out := <-done
	if out.Result != resultRetrying {
		t.Fatalf("outcome %+v, want retrying", out)
	}
	s := a.Status()
	if s.InProgress != nil || s.LastResult != resultRetrying || s.Steps["fetch"] <= 0 || s.Counts.Reconciles != 1 {
		t.Fatalf("status after the reconcile: %+v", s)
	}
}
