package api

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentAddsAllLand: 50 writers at once, each adding its own
// server; every one gets its commit and the final tree has all 50.
func TestConcurrentAddsAllLand(t *testing.T) {
	e := newEnv(t, envOpts{})
	seed := e.head()
	tok := e.token("otto")
	const n = 50
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "", fmt.Sprintf(`{"name":"c-%d","address":"10.1.%d.%d:80"}`, i, i/200, i%200+1),
				"Authorization", "Bearer "+tok)
			codes[i] = res.code
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusAccepted {
			t.Errorf("writer %d: %d", i, c)
		}
	}
	rev := e.head()
	file := e.show(rev, "backends/ddc_nodes_http.yaml")
	for i := range n {
		if !strings.Contains(file, fmt.Sprintf("name: c-%d\n", i)) {
			t.Errorf("server c-%d is missing from the final tree", i)
		}
	}
	if got := gitRun(t, e.bare, "rev-list", "--count", seed+"..main"); got != fmt.Sprint(n) {
		t.Errorf("%s commits, want %d", got, n)
	}
	e.validAt(rev)
}

// TestIfMatch: a writer that read an old revision of what it changes gets
// 412 and nothing is committed; one basing its change on the head succeeds.
func TestIfMatch(t *testing.T) {
	e := newEnv(t, envOpts{})
	res := e.call(http.MethodGet, "/api/v1/backends/ddc_nodes_http/servers", "otto", nil)
	etag := res.header.Get("ETag")
	// Someone else changes the backend.
	if res := e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "ada", `{"name":"first","address":"10.1.0.80:80"}`, "If-Match", etag); res.code != 202 {
		t.Fatalf("first writer: %d %s", res.code, res.body)
	}
	moved := e.head()
	res = e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "otto", `{"name":"stale","address":"10.1.0.81:80"}`, "If-Match", etag)
	if res.code != http.StatusPreconditionFailed || res.apiError(t).Code != CodePreconditionFailed || !strings.Contains(string(res.body), "backends/ddc_nodes_http.yaml") {
		t.Fatalf("stale writer: %d %s", res.code, res.body)
	}
	if e.head() != moved {
		t.Fatal("the stale change was committed")
	}
	// A change to another file based on the old revision does not conflict.
	if res := e.call(http.MethodPost, "/api/v1/config/reload", "otto", nil, "If-Match", etag); res.code != 202 {
		t.Fatalf("unrelated change on an old base: %d %s", res.code, res.body)
	}
	// Based on the head, it lands.
	if res := e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "otto", `{"name":"fresh","address":"10.1.0.81:80"}`, "If-Match", `"`+e.head()+`"`); res.code != 202 {
		t.Fatalf("fresh writer: %d %s", res.code, res.body)
	}
}

// TestConcurrentIfMatch: of many writers with the same If-Match, exactly
// one lands; the others get 412 and commit nothing.
func TestConcurrentIfMatch(t *testing.T) {
	e := newEnv(t, envOpts{})
	base := `"` + e.head() + `"`
	tok := e.token("otto")
	const n = 8
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "", fmt.Sprintf(`{"name":"race-%d","address":"10.1.0.%d:80"}`, i, i+1),
				"Authorization", "Bearer "+tok, "If-Match", base).code
		}()
	}
	wg.Wait()
	sort.Ints(codes)
	want := append([]int{202}, make([]int, n-1)...)
	for i := 1; i < n; i++ {
		want[i] = 412
	}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Fatalf("codes %v, want one 202 and %d 412", codes, n-1)
	}
	if got := gitRun(t, e.bare, "rev-list", "--count", strings.Trim(base, `"`)+"..main"); got != "1" {
		t.Fatalf("%s commits landed, want 1", got)
	}
}

func TestStrictModeRequiresIfMatch(t *testing.T) {
	e := newEnv(t, envOpts{cfg: func(c *Config) { c.Strict = true }})
	before := e.head()
	res := e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "otto", `{"name":"s","address":"10.1.0.82:80"}`)
	if res.code != http.StatusPreconditionRequired || res.apiError(t).Code != CodePreconditionNeeded {
		t.Fatalf("without If-Match: %d %s", res.code, res.body)
	}
	if e.head() != before {
		t.Fatal("committed without If-Match in strict mode")
	}
	if res := e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "otto", `{"name":"s","address":"10.1.0.82:80"}`, "If-Match", before); res.code != 202 {
		t.Fatalf("with If-Match: %d %s", res.code, res.body)
	}
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t, envOpts{})
	body := `{"name":"idem","address":"10.1.0.90:80"}`
	first := e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "otto", body, IdempotencyHeader, "k-1")
	if first.code != 202 {
		t.Fatalf("first: %d %s", first.code, first.body)
	}
	rev := e.head()
	again := e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "otto", body, IdempotencyHeader, "k-1")
	if again.code != 202 || string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" || again.header.Get("ETag") != first.header.Get("ETag") {
		t.Fatalf("replay: %d %s", again.code, again.body)
	}
	if e.head() != rev {
		t.Fatal("a replayed request committed again")
	}
	// Same key, other body: refused.
	other := e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "otto", `{"name":"idem-2","address":"10.1.0.91:80"}`, IdempotencyHeader, "k-1")
	if other.code != 422 || other.apiError(t).Code != CodeIdempotencyReuse {
		t.Fatalf("reuse: %d %s", other.code, other.body)
	}
	// Keys belong to their user: another user's same key is a new request.
	if res := e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "ada", `{"name":"idem-3","address":"10.1.0.92:80"}`, IdempotencyHeader, "k-1"); res.code != 202 {
		t.Fatalf("other user's key: %d %s", res.code, res.body)
	}
	// A failed request is not remembered: the key can be retried.
	if res := e.call(http.MethodPost, "/api/v1/backends/nope/servers", "otto", body, IdempotencyHeader, "k-2"); res.code != 404 {
		t.Fatalf("failing: %d", res.code)
	}
	if res := e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "otto", `{"name":"idem-4","address":"10.1.0.93:80"}`, IdempotencyHeader, "k-2"); res.code != 202 {
		t.Fatalf("retry after a failure: %d %s", res.code, res.body)
	}
	if res := e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "otto", body, IdempotencyHeader, "has space"); res.code != 400 {
		t.Fatalf("malformed key: %d", res.code)
	}
}

func TestIdemStoreBounds(t *testing.T) {
	now := time.Unix(0, 0)
	s := newIdemStore(time.Minute, 2, func() time.Time { return now })
	for _, k := range []string{"a", "b", "c"} {
		_, en, err := s.begin(k, "fp")
		if err != nil {
			t.Fatal(err)
		}
		s.complete(en, 202, "", []byte(k))
	}
	if len(s.entries) != 2 {
		t.Fatalf("%d entries, bound 2", len(s.entries))
	}
	if replay, _, _ := s.begin("a", "fp"); replay != nil {
		t.Fatal("the oldest key survived the size bound")
	}
	now = now.Add(2 * time.Minute)
	if replay, _, _ := s.begin("c", "fp"); replay != nil {
		t.Fatal("a key survived its TTL")
	}
	_, busy, _ := s.begin("d", "fp")
	if _, _, err := s.begin("d", "fp"); err == nil || !strings.Contains(err.Error(), "still being processed") {
		t.Fatalf("in-flight key: %v", err)
	}
	s.abandon(busy)
	if _, en, err := s.begin("d", "fp"); err != nil || en == nil {
		t.Fatalf("after abandon: %v", err)
	}
}
