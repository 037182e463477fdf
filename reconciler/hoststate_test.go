package reconciler

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/reconciler/trigger"
)

// GET /v1/hoststate reports every server of a real haproxy with its state,
// servers awaiting admission as PENDING.
func TestHostStateFromRealHAProxy(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 3, seed: seq(0, 3)})
	handler, err := h.agent.Handler(trigger.HTTPAuth{Token: "t"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	defer srv.Close()
	c := &agentapi.Client{BaseURL: srv.URL}
	st, err := c.HostState(testCtx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if st.Host != "h1" || st.Error != "" {
		t.Fatalf("host state %+v", st)
	}
	var servers []agentapi.ServerState
	for _, b := range st.Backends {
		servers = append(servers, b.Servers...)
	}
	if len(servers) != 3 {
		t.Fatalf("servers %+v, want the 3 nodes", st.Backends)
	}
	for _, s := range servers {
		if s.Status != "UP" {
			t.Errorf("server %s is %q, want UP", s.Name, s.Status)
		}
	}
	pend := st.Backends[0].Name + "/" + st.Backends[0].Servers[0].Name + ": waiting for its first passing health check since 2026-12-04T10:00:00Z"
	h.agent.updateStatus(func(s *agentapi.Status) { s.Pending = []string{pend} })
	resp, err := http.Get(srv.URL + agentapi.PathHostState)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st2 agentapi.HostState
	if err := json.NewDecoder(resp.Body).Decode(&st2); err != nil {
		t.Fatal(err)
	}
	if got := st2.Backends[0].Servers[0].Status; got != "PENDING" {
		t.Errorf("pending server reported %q, want PENDING", got)
	}
}
