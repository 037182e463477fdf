package api

import (
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
)

// addServer asks the API to add a static server and returns the response.
func (e *env) addServer(name, addr string) result {
	e.t.Helper()
	return e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "otto",
		`{"name":"`+name+`","address":"`+addr+`:80","weight":100}`)
}

// parentOf is the first parent of rev on the remote.
func (e *env) parentOf(rev string) string { return gitRun(e.t, e.bare, "rev-parse", rev+"^") }

// isAncestor reports whether a is an ancestor of b on the remote.
func (e *env) isAncestor(a, b string) bool {
	e.t.Helper()
	return gitRunCode(e.t, e.bare, "merge-base", "--is-ancestor", a, b) == 0
}

// TestWriteJudgedAgainstCurrentHead: a head broken around the API makes
// writes fail with 422; once someone pushes a fix (here a revert), the
// very next write is judged against the fixed head and committed on it.
func TestWriteJudgedAgainstCurrentHead(t *testing.T) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			e := newEnv(t, envOpts{transport: tr})
			good, err := os.ReadFile("../examples/fleet/fleet.yaml")
			if err != nil {
				t.Fatal(err)
			}
			broken := gitservertest.MustCommit(t, e.gs, map[string][]byte{"fleet.yaml": []byte(strings.Replace(string(good), "maxconn: 20000", "maxconn: -1", 1))}, nil, "break the fleet")
			for i := range 2 {
				res := e.addServer("dyn-"+string(rune('a'+i)), "198.18.7.1")
				if res.code != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), "fleet.yaml") || !strings.Contains(string(res.body), "maxconn -1") {
					t.Fatalf("write on the broken head: %d %s", res.code, res.body)
				}
				if h := e.head(); h != broken {
					t.Fatalf("the branch moved to %s on a refused write", h)
				}
			}
			fixed := gitservertest.MustCommit(t, e.gs, map[string][]byte{"fleet.yaml": good}, nil, "revert the break")
			res := e.addServer("dyn-c", "198.18.7.1")
			if res.code != http.StatusAccepted {
				t.Fatalf("write after the fix: %d %s", res.code, res.body)
			}
			h := e.head()
			if e.parentOf(h) != fixed {
				t.Fatalf("the API committed %s on %s, want on the fix %s", h, e.parentOf(h), fixed)
			}
			e.validAt(h)
		})
	}
}

// TestRollbackIsNotResurrected: after the branch is reset around the API
// to the parent of an API commit, the next write builds on the reset
// branch and never pushes the dropped commit back.
func TestRollbackIsNotResurrected(t *testing.T) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			e := newEnv(t, envOpts{transport: tr})
			seed := e.head()
			if res := e.addServer("dropped", "198.18.7.2"); res.code != http.StatusAccepted {
				t.Fatalf("first write: %d %s", res.code, res.body)
			}
			dropped := e.head()
			if e.parentOf(dropped) != seed {
				t.Fatalf("first write not on the seed")
			}
			gitRun(t, e.bare, "update-ref", "refs/heads/main", seed) // the out-of-band rollback
			if res := e.addServer("kept", "198.18.7.3"); res.code != http.StatusAccepted {
				t.Fatalf("write after the rollback: %d %s", res.code, res.body)
			}
			h := e.head()
			if e.parentOf(h) != seed || e.isAncestor(dropped, h) {
				t.Fatalf("the write after the rollback is %s on %s; the dropped commit %s must not come back", h, e.parentOf(h), dropped)
			}
			be := e.show(h, "backends/ddc_nodes_http.yaml")
			if strings.Contains(be, "dropped") || !strings.Contains(be, "kept") {
				t.Fatalf("backend file after the rollback and the write:\n%s", be)
			}
		})
	}
}

// TestWaitTimeoutCapped: a ?timeout beyond the maximum is refused before
// anything is committed.
func TestWaitTimeoutCapped(t *testing.T) {
	e := newEnv(t, envOpts{})
	seed := e.head()
	start := time.Now()
	res := e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers?wait=applied&timeout=1000000h", "otto",
		`{"name":"w","address":"198.18.7.4:80","weight":100}`)
	if res.code != http.StatusBadRequest || !strings.Contains(string(res.body), "timeout (query)") || !strings.Contains(string(res.body), "at most 5m0s") {
		t.Fatalf("got %d %s, want 400 naming the limit", res.code, res.body)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("took %v", time.Since(start))
	}
	if h := e.head(); h != seed {
		t.Fatalf("the branch moved to %s", h)
	}
}

// TestStrictJSONBodies: duplicate keys and keys that differ from a field
// only in case are refused, with the field named, and nothing is committed.
func TestStrictJSONBodies(t *testing.T) {
	e := newEnv(t, envOpts{})
	seed := e.head()
	for _, tt := range []struct{ body, field, want string }{
		{`{"name":"a","address":"198.18.7.5:80","weight":100,"weight":1}`, "weight", "duplicate key"},
		{`{"name":"a","address":"198.18.7.5:80","Weight":100}`, "Weight", "unknown field"},
		{`{"name":"a","ADDRESS":"198.18.7.5:80"}`, "ADDRESS", "unknown field"},
		{`{"name":"a","address":"198.18.7.5:80","check":{"x":1,"x":2}}`, "", ""},
	} {
		res := e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "otto", tt.body)
		if res.code != http.StatusBadRequest {
			t.Errorf("%s: got %d %s, want 400", tt.body, res.code, res.body)
			continue
		}
		if tt.field == "" {
			continue
		}
		ae := res.apiError(t)
		if len(ae.Details) != 1 || ae.Details[0].Field != tt.field || !strings.Contains(ae.Details[0].Message, tt.want) {
			t.Errorf("%s: %s does not name field %q with %q", tt.body, res.body, tt.field, tt.want)
		}
	}
	if h := e.head(); h != seed {
		t.Fatalf("the branch moved to %s", h)
	}
}

// gitRunCode runs git in dir and returns its exit code.
func gitRunCode(t testing.TB, dir string, args ...string) int {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		t.Fatalf("git %v: %v", args, err)
	}
	return 0
}

// TestDecodeRawBounded: the raw view of a file refuses a mapping with
// thousands of keys at once (yaml.v3 would compare them pairwise).
func TestDecodeRawBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("kind: Fleet\n")
	for i := range 60000 {
		b.WriteString("k" + strconv.Itoa(i) + ": 1\n")
	}
	start := time.Now()
	if _, err := decodeRaw([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "more than 1000 keys") {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
	if m, err := decodeRaw([]byte("kind: Fleet\nname: x\n")); err != nil || m["name"] != "x" {
		t.Fatalf("a small file: %v %v", m, err)
	}
}
