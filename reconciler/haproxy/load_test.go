package haproxy_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/plan"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// TestNoFailedRequestsDuringRuntimeChanges runs a bounded keep-alive load
// through haproxy while 500 runtime changes (adds, weight changes, graceful
// deletes) happen, and expects zero failed requests and zero reloads.
func TestNoFailedRequestsDuringRuntimeChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const (
		changes     = 500
		clients     = 8
		maxRequests = 20000 // per client
		maxDuration = 90 * time.Second
	)
	in, url := startHAProxy(t, "")
	in.Runtime.PollInterval = 10 * time.Millisecond
	ctx := testCtx(t, 2*maxDuration)
	before := reloads(t, in)

	type target struct {
		host string
		port int
	}
	pool := make([]target, 12)
	for i := range pool {
		pool[i].host, pool[i].port = backendServer(t, fmt.Sprintf("pool%02d", i))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	next := 0
	live := []string{}
	add := func() error {
		p := pool[rng.IntN(len(pool))]
		name := fmt.Sprintf("dyn%04d", next)
		next++
		s := server(name, p.host, p.port, 1+rng.IntN(100))
		if _, err := apply(ctx, in, 5*time.Second, adds("be", s)...); err != nil {
			return err
		}
		live = append(live, name)
		return nil
	}
	for range 4 {
		if err := add(); err != nil {
			t.Fatal(err)
		}
	}

	// Load: keep-alive clients, bounded in count and time.
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	loadCtx, stopLoad := context.WithTimeout(ctx, maxDuration)
	defer stopLoad()
	transport := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < maxRequests && loadCtx.Err() == nil; i++ {
				resp, err := client.Get(url + "/")
				if err != nil {
					if loadCtx.Err() != nil {
						return // stopped mid-request: not a failure of haproxy
					}
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "pool") {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d body %q err %v", resp.StatusCode, body, err))
					continue
				}
				ok.Add(1)
			}
		}()
	}

	// Changes while the load runs.
	counts := map[string]int{}
	start := time.Now()
	for i := 0; i < changes; i++ {
		var err error
		switch k := rng.IntN(3); {
		case k == 0 || len(live) <= 2:
			counts["add"]++
			err = add()
		case k == 1:
			counts["weight"]++
			_, err = apply(ctx, in, 5*time.Second, op(plan.OpSetWeight, "be", render.Server{Name: live[rng.IntN(len(live))], Weight: 1 + rng.IntN(100)}))
		default:
			counts["del"]++
			j := rng.IntN(len(live))
			name := live[j]
			live = append(live[:j], live[j+1:]...)
			var res haproxy.ApplyResult
			res, err = apply(ctx, in, 5*time.Second, dels("be", name)...)
			if len(res.Forced) > 0 {
				t.Errorf("deleting %s needed to shut down sessions", name)
			}
		}
		if err != nil {
			stopLoad()
			wg.Wait()
			t.Fatalf("change %d: %v", i, err)
		}
	}
	elapsed := time.Since(start)
	served := ok.Load()
	stopLoad()
	wg.Wait()

	t.Logf("%d changes (%v) in %v; %d requests ok, %d failed", changes, counts, elapsed.Round(time.Millisecond), served, failed.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d failed requests, first: %v", failed.Load(), firstErr.Load())
	}
	if served < 500 {
		t.Fatalf("only %d requests overlapped the changes: the load did not run", served)
	}
	if loadCtx.Err() != nil && elapsed >= maxDuration {
		t.Fatalf("the changes outlasted the load bound (%v)", maxDuration)
	}
	if after := reloads(t, in); after != before {
		t.Fatalf("reload counter %d -> %d: runtime changes must not reload", before, after)
	}
	actual := serversOf(t, ctx, in, "be")
	if len(actual) != len(live) {
		t.Fatalf("haproxy has %d servers, the test kept %d", len(actual), len(live))
	}
	for _, n := range live {
		if a, ok := actual[n]; !ok || a.State != haproxy.StateReady {
			t.Fatalf("%s: %+v", n, a)
		}
	}
}
