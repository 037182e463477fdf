package api

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
)

// TestRolloutDecisionEndpoints checks POST /rollout/{rev}/promote|hold:
// admin only, a ref next to the branch (which does not move), the agents
// asked to sync, and bad revisions refused.
func TestRolloutDecisionEndpoints(t *testing.T) {
	e := newEnv(t, envOpts{agents: true})
	head := e.head()
	refs := func() string { return gitRun(t, e.bare, "for-each-ref", "--format=%(refname)", "refs/ddc-rollout/") }

	for _, user := range []string{"otto", "vera"} {
		if r := e.call(http.MethodPost, "/api/v1/rollout/"+head+"/hold", user, nil); r.code != http.StatusForbidden {
			t.Errorf("%s: %d %s, want 403", user, r.code, r.body)
		}
	}
	if r := e.call(http.MethodPost, "/api/v1/rollout/"+head+"/hold", "", nil); r.code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", r.code)
	}
	r := e.call(http.MethodPost, "/api/v1/rollout/"+head+"/hold", "ada", nil)
	if r.code != http.StatusOK {
		t.Fatalf("hold: %d %s", r.code, r.body)
	}
	var got RolloutDecisionResponse
	r.decode(t, &got)
	if got.Revision != head || got.Decision != agentapi.DecisionHold || got.Ref != "refs/ddc-rollout/hold/"+head {
		t.Errorf("hold answer %+v", got)
	}
	if refs() != "refs/ddc-rollout/hold/"+head {
		t.Errorf("refs after hold: %q", refs())
	}
	if n := e.agents["us-haproxy-2"].syncCount(); n != 1 {
		t.Errorf("agent asked to sync %d times, want 1", n)
	}
	if r := e.call(http.MethodPost, "/api/v1/rollout/"+head+"/promote", "ada", nil); r.code != http.StatusOK {
		t.Fatalf("promote: %d %s", r.code, r.body)
	}
	if refs() != "refs/ddc-rollout/promote/"+head {
		t.Errorf("refs after promote: %q", refs())
	}
	if e.head() != head {
		t.Error("the branch moved")
	}
	for _, tc := range []struct {
		rev  string
		code int
		msg  string
	}{
		{head[:12], http.StatusBadRequest, "full lowercase commit hash"},
		{strings.ToUpper(head), http.StatusBadRequest, "full lowercase commit hash"},
		{"0123456789abcdef0123456789abcdef01234567", http.StatusNotFound, "not on the branch"},
	} {
		r := e.call(http.MethodPost, "/api/v1/rollout/"+tc.rev+"/hold", "ada", nil)
		if r.code != tc.code || !strings.Contains(r.apiError(t).Message, tc.msg) {
			t.Errorf("%s: %d %s, want %d %q", tc.rev, r.code, r.body, tc.code, tc.msg)
		}
	}
	if r := e.call(http.MethodPost, "/api/v1/rollout/"+head+"/maybe", "ada", nil); r.code != http.StatusNotFound {
		t.Errorf("unknown decision: %d, want 404", r.code)
	}
}

// TestWavesView checks GET /rollout: hosts by wave with their state.
func TestWavesView(t *testing.T) {
	e := newEnv(t, envOpts{agents: true})
	head := e.head()
	const old = "1111111111111111111111111111111111111111"
	since := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	e.agents["eu-haproxy-1"].set(func(s *agentapi.Status) {
		s.AppliedRevision, s.LastGoodRevision, s.LastResult = head, head, agentapi.ResultApplied
		s.Wave = &agentapi.WaveStatus{Wave: 0}
	})
	e.agents["eu-haproxy-2"].set(func(s *agentapi.Status) {
		s.AppliedRevision, s.LastResult = old, resultHoldingForTest
		s.Wave = &agentapi.WaveStatus{Wave: 1, Holding: head, WaitingFor: []string{"eu-haproxy-1 (wave 0): gate watching"}, Since: since}
	})
	e.agents["us-haproxy-1"].set(func(s *agentapi.Status) { s.AppliedRevision, s.LastResult = old, agentapi.ResultFailed })
	e.agents["us-haproxy-2"].mu.Lock()
	e.agents["us-haproxy-2"].down = true
	e.agents["us-haproxy-2"].mu.Unlock()

	r := e.call(http.MethodGet, "/api/v1/rollout", "vera", nil)
	if r.code != http.StatusOK {
		t.Fatalf("%d %s", r.code, r.body)
	}
	var v WavesResponse
	r.decode(t, &v)
	var got []string
	for _, h := range v.Hosts {
		got = append(got, h.Host+":"+strconv.Itoa(h.Wave)+":"+h.State)
	}
	want := "eu-haproxy-1:0:up_to_date eu-haproxy-2:1:holding us-haproxy-1:1:failed us-haproxy-2:2:unreachable"
	if strings.Join(got, " ") != want {
		t.Errorf("hosts %q, want %q", strings.Join(got, " "), want)
	}
	if h := v.Hosts[1]; h.Holding != head || len(h.WaitingFor) != 1 || !h.HoldingSince.Equal(since) {
		t.Errorf("holding host %+v", h)
	}
}

const resultHoldingForTest = "holding"
