package trigger_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ddc-gitops/ddc-gitops/reconciler/trigger"
)

// pending drains the trigger without blocking and returns what was there.
func pending(tr *trigger.Trigger) []trigger.Reason {
	var out []trigger.Reason
	for {
		select {
		case r := <-tr.C():
			out = append(out, r)
		default:
			return out
		}
	}
}

func TestNotifyCollapses(t *testing.T) {
	tr := trigger.New()
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			if i == 0 {
				tr.Notify("first")
				return
			}
			tr.Notify("other")
		})
	}
	wg.Wait()
	got := pending(tr)
	if len(got) != 1 {
		t.Fatalf("%d triggers pending after 100 notifications, want 1", len(got))
	}
	if n, c := tr.Counts(); n != 100 || c != 99 {
		t.Errorf("counts = %d notified, %d collapsed; want 100, 99", n, c)
	}
	tr.Notify("again")
	if got := pending(tr); len(got) != 1 || got[0].What != "again" {
		t.Errorf("after draining, a new notification gives %v", got)
	}
}

func TestPoll(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration
		jitter   float64
		min, max time.Duration
	}{
		{"default interval with jitter", 0, trigger.DefaultPollJitter, 12 * time.Second, 18 * time.Second},
		{"no jitter", time.Minute, 0, time.Minute, time.Minute},
		{"half jitter", 10 * time.Second, 0.5, 5 * time.Second, 15 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := trigger.New()
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error)
				go func() { done <- tr.Poll(ctx, tc.interval, tc.jitter) }()
				prev := time.Now()
				gaps := map[time.Duration]bool{}
				for range 50 {
					r := <-tr.C()
					gap := r.At.Sub(prev)
					if gap < tc.min || gap > tc.max || r.What != trigger.ReasonPoll {
						t.Fatalf("poll after %v (%q), want between %v and %v", gap, r.What, tc.min, tc.max)
					}
					gaps[gap] = true
					prev = r.At
				}
				if tc.jitter > 0 && len(gaps) < 10 {
					t.Errorf("only %d distinct intervals in 50 polls: jitter not applied", len(gaps))
				}
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Poll returned %v on cancel", err)
				}
			})
		})
	}
}

func TestPollWithoutReceiverCollapses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := trigger.New()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() { _ = tr.Poll(ctx, time.Second, 0) }()
		time.Sleep(10*time.Second + time.Millisecond) // virtual time: ten polls
		synctest.Wait()
		if got := pending(tr); len(got) != 1 {
			t.Fatalf("%d pending after ten unreceived polls, want 1", len(got))
		}
		if n, c := tr.Counts(); n != 10 || c != 9 {
			t.Errorf("counts = %d, %d; want 10 notified, 9 collapsed", n, c)
		}
	})
}

func TestPollRejectsBadJitter(t *testing.T) {
	for _, j := range []float64{-0.1, 1, 2} {
		if err := trigger.New().Poll(t.Context(), time.Second, j); err == nil {
			t.Errorf("jitter %v accepted", j)
		}
	}
}

func TestSignals(t *testing.T) {
	tr := trigger.New()
	ctx, cancel := context.WithCancel(t.Context())
	done := tr.Signals(ctx, syscall.SIGHUP)
	defer func() { cancel(); <-done }()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-tr.C():
		if r.What != "signal hangup" {
			t.Errorf("reason %q", r.What)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no trigger within 10s of SIGHUP")
	}
}

func sign(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestHTTPHandler(t *testing.T) {
	const token, secret, body = "tok-123", "hook-secret", `{"ref":"refs/heads/main"}`
	tests := []struct {
		name    string
		auth    trigger.HTTPAuth
		method  string
		body    string
		headers map[string]string
		want    int
		trigger bool
	}{
		{"no credentials", trigger.HTTPAuth{Token: token, Secret: secret}, "POST", body, nil, 401, false},
		{"good bearer", trigger.HTTPAuth{Token: token}, "POST", body, map[string]string{"Authorization": "Bearer " + token}, 202, true},
		{"wrong bearer", trigger.HTTPAuth{Token: token}, "POST", body, map[string]string{"Authorization": "Bearer tok-12"}, 401, false},
		{"bearer as basic", trigger.HTTPAuth{Token: token}, "POST", body, map[string]string{"Authorization": "Basic " + token}, 401, false},
		{"good signature", trigger.HTTPAuth{Secret: secret}, "POST", body, map[string]string{"X-Hub-Signature-256": sign(secret, body)}, 202, true},
		{"signature of another body", trigger.HTTPAuth{Secret: secret}, "POST", body + " ", map[string]string{"X-Hub-Signature-256": sign(secret, body)}, 401, false},
		{"signature with another secret", trigger.HTTPAuth{Secret: secret}, "POST", body, map[string]string{"X-Hub-Signature-256": sign("other", body)}, 401, false},
		{"signature not hex", trigger.HTTPAuth{Secret: secret}, "POST", body, map[string]string{"X-Hub-Signature-256": "sha256=zz"}, 401, false},
		{"sha1 signature only", trigger.HTTPAuth{Secret: secret}, "POST", body, map[string]string{"X-Hub-Signature": "sha1=00"}, 401, false},
		{"signature when only a token is set", trigger.HTTPAuth{Token: token}, "POST", body, map[string]string{"X-Hub-Signature-256": sign("", body)}, 401, false},
		{"either of both", trigger.HTTPAuth{Token: token, Secret: secret}, "POST", body, map[string]string{"Authorization": "Bearer nope", "X-Hub-Signature-256": sign(secret, body)}, 202, true},
		{"github ping", trigger.HTTPAuth{Secret: secret}, "POST", body, map[string]string{"X-Hub-Signature-256": sign(secret, body), "X-GitHub-Event": "ping"}, 200, false},
		{"unauthenticated ping", trigger.HTTPAuth{Secret: secret}, "POST", body, map[string]string{"X-GitHub-Event": "ping"}, 401, false},
		{"GET", trigger.HTTPAuth{Token: token}, "GET", "", map[string]string{"Authorization": "Bearer " + token}, 405, false},
		{"signed body too large", trigger.HTTPAuth{Secret: secret}, "POST", strings.Repeat("x", trigger.MaxWebhookBody+1), map[string]string{"X-Hub-Signature-256": sign(secret, strings.Repeat("x", trigger.MaxWebhookBody+1))}, 413, false},
		// A bearer token needs no body: the body is not read at all.
		{"token with a large body", trigger.HTTPAuth{Token: token}, "POST", strings.Repeat("x", trigger.MaxWebhookBody+1), map[string]string{"Authorization": "Bearer " + token}, 202, true},
		{"malformed signature", trigger.HTTPAuth{Secret: secret}, "POST", body, map[string]string{"X-Hub-Signature-256": "sha256=zz"}, 401, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := trigger.New()
			h, err := tr.HTTPHandler(tc.auth)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(tc.method, "/v1/sync", strings.NewReader(tc.body))
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status %d (%s), want %d", rec.Code, rec.Body, tc.want)
			}
			if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if got := len(pending(tr)); got != map[bool]int{false: 0, true: 1}[tc.trigger] {
				t.Errorf("%d triggers, want trigger=%v", got, tc.trigger)
			}
		})
	}
	if _, err := trigger.New().HTTPHandler(trigger.HTTPAuth{}); err == nil {
		t.Error("handler without token or secret constructed")
	}
}

// TestHTTPCollapse sends 100 authenticated requests over a real server
// while a slow consumer runs syncs: they collapse into a handful of syncs.
func TestHTTPCollapse(t *testing.T) {
	tr := trigger.New()
	h, err := tr.HTTPHandler(trigger.HTTPAuth{Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	var wg sync.WaitGroup
	codes := make(chan int, 100)
	for range 100 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/sync", strings.NewReader("{}"))
			req.Header.Set("Authorization", "Bearer tok")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_ = resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusAccepted {
			t.Fatalf("status %d, want 202", c)
		}
	}
	if got := pending(tr); len(got) > 2 || len(got) == 0 || got[0].What != trigger.ReasonWebhook {
		t.Fatalf("100 webhook calls gave %d pending triggers (%v), want 1 or 2", len(got), got)
	}
	if n, c := tr.Counts(); n != 100 || c != 99 {
		t.Errorf("counts = %d notified, %d collapsed", n, c)
	}
}
