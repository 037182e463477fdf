package reconciler

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/desired"
)

// TestWaitingFor is the hold decision: what earlier-wave hosts report ->
// apply (nothing to wait for) or hold, with the reason per host.
func TestWaitingFor(t *testing.T) {
	const (
		rev   = "2222222222222222222222222222222222222222"
		old   = "1111111111111111111111111111111111111111"
		child = "3333333333333333333333333333333333333333" // descends from rev
		other = "4444444444444444444444444444444444444444" // does not
	)
	done := func(good string) bool { return good == rev || good == child }
	peer := func(host string, wave int) wavePeer { return wavePeer{host: host, wave: wave} }
	st := func(f func(s *agentapi.Status)) *agentapi.Status {
		s := &agentapi.Status{AppliedRevision: old, LastGoodRevision: old, LastResult: agentapi.ResultNoop}
		if f != nil {
			f(s)
		}
		return s
	}
	until := time.Date(2026, 12, 4, 21, 0, 30, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		reports []peerReport
		want    []string // substrings, one per waited-for host; none: apply
	}{
		{name: "no earlier wave", want: nil},
		{
			name:    "earlier wave done",
			reports: []peerReport{{peer: peer("eu-haproxy-1", 0), status: st(func(s *agentapi.Status) { s.AppliedRevision, s.LastGoodRevision = rev, rev })}},
		},
		{
			name: "earlier wave moved on to a descendant",
			reports: []peerReport{
				{peer: peer("eu-haproxy-1", 0), status: st(func(s *agentapi.Status) { s.AppliedRevision, s.LastGoodRevision = child, child })},
				{peer: peer("eu-haproxy-2", 1), status: st(func(s *agentapi.Status) { s.AppliedRevision, s.LastGoodRevision = rev, rev })},
			},
		},
		{
			name:    "earlier wave on an unrelated newer revision",
			reports: []peerReport{{peer: peer("eu-haproxy-1", 0), status: st(func(s *agentapi.Status) { s.AppliedRevision, s.LastGoodRevision = other, other })}},
			want:    []string{"eu-haproxy-1 (wave 0): not yet applied (runs 444444444444)"},
		},
		{
			name:    "unreachable",
			reports: []peerReport{{peer: peer("eu-haproxy-1", 0), err: errors.New("connection refused")}},
			want:    []string{"eu-haproxy-1 (wave 0): unreachable: connection refused"},
		},
		{
			name:    "not yet applied",
			reports: []peerReport{{peer: peer("eu-haproxy-1", 0), status: st(nil)}},
			want:    []string{"eu-haproxy-1 (wave 0): not yet applied (runs 111111111111)"},
		},
		{
			name: "itself holding",
			reports: []peerReport{{peer: peer("eu-haproxy-2", 1), status: st(func(s *agentapi.Status) {
				s.Wave = &agentapi.WaveStatus{Wave: 1, Holding: rev}
			})}},
			want: []string{"eu-haproxy-2 (wave 1): not yet applied (holding it for its own earlier waves)"},
		},
		{
			name: "gate watching",
			reports: []peerReport{{peer: peer("eu-haproxy-1", 0), status: st(func(s *agentapi.Status) {
				s.AppliedRevision = rev
				s.Gate = &agentapi.GateStatus{Revision: rev, State: agentapi.GateWatching, Until: until}
			})}},
			want: []string{"eu-haproxy-1 (wave 0): gate watching until 2026-12-04T21:00:30Z"},
		},
		{
			name: "quarantined",
			reports: []peerReport{{peer: peer("eu-haproxy-1", 0), status: st(func(s *agentapi.Status) {
				s.Quarantined = []agentapi.Quarantine{{Revision: rev, Reason: "up ratio of ddc_nodes_http fell to 0"}}
			})}},
			want: []string{"eu-haproxy-1 (wave 0): quarantined 222222222222: up ratio of ddc_nodes_http fell to 0"},
		},
		{
			name: "applied but degraded",
			reports: []peerReport{{peer: peer("eu-haproxy-1", 0), status: st(func(s *agentapi.Status) {
				s.AppliedRevision, s.LastResult = rev, agentapi.ResultDegraded
			})}},
			want: []string{"eu-haproxy-1 (wave 0): applied, not yet reported good (degraded)"},
		},
		{
			name: "failed",
			reports: []peerReport{{peer: peer("eu-haproxy-1", 0), status: st(func(s *agentapi.Status) {
				s.FailedRevision, s.LastError = rev, "reloading haproxy: boom"
			})}},
			want: []string{"eu-haproxy-1 (wave 0): failed to apply: reloading haproxy: boom"},
		},
		{
			name: "one of two waves pending",
			reports: []peerReport{
				{peer: peer("eu-haproxy-1", 0), status: st(func(s *agentapi.Status) { s.AppliedRevision, s.LastGoodRevision = rev, rev })},
				{peer: peer("eu-haproxy-2", 1), err: errors.New("timeout")},
				{peer: peer("us-haproxy-1", 1), status: st(nil)},
			},
			want: []string{"eu-haproxy-2 (wave 1): unreachable: timeout", "us-haproxy-1 (wave 1): not yet applied"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := waitingFor(rev, tc.reports, done)
			if len(got) != len(tc.want) {
				t.Fatalf("waiting for %q, want %d entries %q", got, len(tc.want), tc.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("entry %d: %q, want it to contain %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// TestWavePlan checks which hosts each host of the example fleet waits for.
func TestWavePlan(t *testing.T) {
	f, err := desired.Load(os.DirFS("../examples/fleet"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host    string
		wave    int
		earlier []string
	}{
		{"eu-haproxy-1", 0, nil},
		{"eu-haproxy-2", 1, []string{"eu-haproxy-1@http://198.18.1.11:9100"}},
		{"us-haproxy-1", 1, []string{"eu-haproxy-1@http://198.18.1.11:9100"}},
		{"us-haproxy-2", 2, []string{"eu-haproxy-1@http://198.18.1.11:9100", "eu-haproxy-2@http://198.18.1.12:9100", "us-haproxy-1@http://198.18.2.11:9100"}},
	} {
		p := newWavePlan(f, tc.host)
		var got []string
		for _, e := range p.earlier {
			got = append(got, e.host+"@"+e.url)
		}
		if p.wave != tc.wave || !slices.Equal(got, tc.earlier) {
			t.Errorf("%s: wave %d, earlier %v; want %d, %v", tc.host, p.wave, got, tc.wave, tc.earlier)
		}
		if p.serverChanges != desired.ServerChangesSkip || p.peerTimeout != 2*time.Second || p.recheck != 3*time.Second {
			t.Errorf("%s: plan settings %+v", tc.host, p)
		}
	}
}
