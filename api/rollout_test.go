package api

import (
	"slices"
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
)

func TestStats(t *testing.T) {
	e := newEnv(t, envOpts{agents: true})
	head := e.head()
	e.agents["eu-haproxy-1"].set(func(s *agentapi.Status) {
		s.AppliedRevision, s.DesiredRevision, s.LastResult = head, head, agentapi.ResultApplied
	})
	e.agents["eu-haproxy-2"].set(func(s *agentapi.Status) {
		s.AppliedRevision, s.LastResult, s.LastError, s.Drift = "0123456789abcdef0123456789abcdef01234567", agentapi.ResultFailed, "haproxy -c failed", []string{"server x weight 10 != 100"}
	})
	e.agents["us-haproxy-2"].mu.Lock()
	e.agents["us-haproxy-2"].down = true
	e.agents["us-haproxy-2"].mu.Unlock()

	res := e.call("GET", "/api/v1/stats", "vera", nil)
	var st StatsResponse
	res.decode(t, &st)
	if res.code != 200 || st.Revision != head || len(st.Agents) != 4 {
		t.Fatalf("stats: %d %s", res.code, res.body)
	}
	want := StatsCount{Agents: 4, Reachable: 3, UpToDate: 1, Failing: 1, WithDrift: 1, Unreachable: 1}
	if st.Summary != want {
		t.Fatalf("summary %+v, want %+v", st.Summary, want)
	}
	byHost := map[string]AgentView{}
	for _, a := range st.Agents {
		byHost[a.Host] = a
	}
	if a := byHost["us-haproxy-2"]; a.Reachable || !strings.Contains(a.Error, "503") {
		t.Errorf("unreachable agent: %+v", a)
	}
	if a := byHost["eu-haproxy-2"]; a.LastError != "haproxy -c failed" || len(a.Drift) != 1 || a.UpToDate {
		t.Errorf("failing agent: %+v", a)
	}
	res = e.call("GET", "/api/v1/stats?zone=us", "vera", nil)
	res.decode(t, &st)
	if len(st.Agents) != 2 || st.Zone != "us" {
		t.Fatalf("zone us: %s", res.body)
	}
}

// TestRevisionRollout follows one commit: a host that applied it or a
// descendant counts as applied, one whose failed revision is it as
// failed, others pending; an unreachable one is reported as such.
func TestRevisionRollout(t *testing.T) {
	e := newEnv(t, envOpts{agents: true, cfg: func(c *Config) { c.NoSyncOnCommit = true }})
	seed := e.head()
	add := func(name, addr string) string {
		res := e.call("POST", "/api/v1/backends/ddc_nodes_http/servers", "otto", ServerInput{Name: name, Address: addr})
		if res.code != 202 {
			t.Fatalf("add %s: %d %s", name, res.code, res.body)
		}
		return e.head()
	}
	r1 := add("r-1", "10.1.0.101:80")
	r2 := add("r-2", "10.1.0.102:80")
	e.agents["eu-haproxy-1"].set(func(s *agentapi.Status) { s.AppliedRevision = r2 }) // a descendant of r1
	e.agents["eu-haproxy-2"].set(func(s *agentapi.Status) {
		s.AppliedRevision, s.FailedRevision, s.LastResult = seed, r1, agentapi.ResultStalled
	})
	e.agents["us-haproxy-1"].set(func(s *agentapi.Status) { s.AppliedRevision = r1 })
	e.agents["us-haproxy-2"].mu.Lock()
	e.agents["us-haproxy-2"].down = true
	e.agents["us-haproxy-2"].mu.Unlock()

	var ro Rollout
	res := e.call("GET", "/api/v1/revisions/"+r1, "vera", nil)
	res.decode(t, &ro)
	states := map[string]string{}
	for _, h := range ro.Hosts {
		states[h.Host] = h.State
	}
	want := map[string]string{"eu-haproxy-1": HostApplied, "eu-haproxy-2": HostFailed, "us-haproxy-1": HostApplied, "us-haproxy-2": HostUnreachable}
	if res.code != 200 || ro.State != RolloutFailed || !mapsEqual(states, want) || !slices.Equal(ro.NotApplied, []string{"eu-haproxy-2", "us-haproxy-2"}) {
		t.Fatalf("rollout of r1: %d %s", res.code, res.body)
	}
	res = e.call("GET", "/api/v1/revisions/"+r2+"?zone=us", "vera", nil)
	res.decode(t, &ro)
	if ro.State != RolloutPending || len(ro.Hosts) != 2 || ro.Hosts[0].State != HostPending {
		t.Fatalf("rollout of r2 in us: %s", res.body)
	}
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/api/v1/revisions/abc", 400},
		{"/api/v1/revisions/0123456789abcdef0123456789abcdef01234567", 404},
		{"/api/v1/revisions/" + r1 + "?zone=mars", 404},
	} {
		if res := e.call("GET", tc.path, "vera", nil); res.code != tc.code {
			t.Errorf("%s: %d %s", tc.path, res.code, res.body)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestWaitApplied: a commit with ?wait=applied returns when the zone's
// agents (which apply on sync) run it; without them it times out and says
// which hosts did not.
func TestWaitApplied(t *testing.T) {
	e := newEnv(t, envOpts{agents: true})
	for _, a := range e.agents {
		a.mu.Lock()
		a.autoApply = true
		a.mu.Unlock()
	}
	res := e.call("POST", "/api/v1/backends/ddc_nodes_http/servers?wait=applied&timeout=20s", "otto", `{"name":"w-1","address":"10.1.0.110:80"}`)
	var out struct {
		Revision string  `json:"revision"`
		Rollout  Rollout `json:"rollout"`
	}
	res.decode(t, &out)
	if res.code != 200 || out.Rollout.State != RolloutApplied || len(out.Rollout.Hosts) != 2 || out.Revision != e.head() {
		t.Fatalf("wait applied: %d %s", res.code, res.body)
	}
	// The API asked exactly the eu agents to sync.
	eventually(t, "eu agents synced", func() bool {
		return e.agents["eu-haproxy-1"].syncCount() >= 1 && e.agents["eu-haproxy-2"].syncCount() >= 1
	})
	if n := e.agents["us-haproxy-1"].syncCount(); n != 0 {
		t.Errorf("a us agent was asked to sync for an eu change (%d)", n)
	}

	// An agent that never applies: the wait ends at the timeout, 202.
	e.agents["eu-haproxy-2"].mu.Lock()
	e.agents["eu-haproxy-2"].autoApply = false
	e.agents["eu-haproxy-2"].mu.Unlock()
	res = e.call("POST", "/api/v1/backends/ddc_nodes_http/servers?wait=applied&timeout=300ms", "otto", `{"name":"w-2","address":"10.1.0.111:80"}`)
	res.decode(t, &out)
	if res.code != 202 || !out.Rollout.TimedOut || out.Rollout.State != RolloutPending || !slices.Equal(out.Rollout.NotApplied, []string{"eu-haproxy-2"}) {
		t.Fatalf("wait timed out: %d %s", res.code, res.body)
	}
	if res := e.call("POST", "/api/v1/config/reload?timeout=1s", "otto", nil); res.code != 400 {
		t.Fatalf("timeout without wait: %d", res.code)
	}
}
