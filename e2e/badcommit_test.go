//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/api"
)

// TestBadCommitsAreNotApplied pushes a commit `validate` rejects (a node
// with port 0) and one only `haproxy -c` rejects (a TLS frontend naming a
// missing certificate, in both zones): no host applies either, the API's
// /stats shows the failure per host, traffic is unaffected, and the next
// good commit applies everywhere.
func TestBadCommitsAreNotApplied(t *testing.T) {
	e := startLab(t, labOptions{})
	eu := e.zone("eu")
	token := e.apiToken(eu.APIURL)
	good, err := e.ctl.Git().Head()
	if err != nil {
		t.Fatal(err)
	}
	ld := startLoad(eu.LBURL, 2, false, 60*time.Second)
	defer ld.stop()

	node := e.fleetFile("nodes/eu-node-1.yaml")
	euZone, usZone := e.fleetFile("zones/eu/zone.yaml"), e.fleetFile("zones/us/zone.yaml")
	cases := []struct {
		name  string
		files map[string][]byte
		// waves: the revision renders, so only wave 0 (eu-haproxy-1)
		// tries it and refuses it; the later waves hold it (docs/rollouts.md).
		waves bool
	}{
		{"validate rejects: port 0", map[string][]byte{
			"nodes/eu-node-1.yaml": e.replaceOnce(node, "httpPort: 8080", "httpPort: 0")}, false},
		{"haproxy -c rejects: missing certificate", map[string][]byte{
			"zones/eu/zone.yaml": e.replaceOnce(euZone, "certificate: ddc-example.pem", "certificate: e2e-missing.pem"),
			"zones/us/zone.yaml": e.replaceOnce(usZone, "certificate: ddc-example.pem", "certificate: e2e-missing.pem")}, true},
	}
	for _, c := range cases {
		// Each bad commit replaces the previous one's files by the good ones.
		files := map[string][]byte{"nodes/eu-node-1.yaml": node, "zones/eu/zone.yaml": euZone, "zones/us/zone.yaml": usZone}
		for p, b := range c.files {
			files[p] = b
		}
		bad := e.commit(files, "e2e: "+c.name)
		e.syncAll("e2e bad commit")
		var stats api.StatsResponse
		e.waitFor(30*time.Second, c.name+": every host reports the failure through the API", func() error {
			stats = api.StatsResponse{}
			if err := e.apiDo(http.MethodGet, eu.APIURL+"/api/v1/stats", token, nil, &stats); err != nil {
				return err
			}
			if stats.Revision != bad {
				return fmt.Errorf("/stats revision %s, want %s", short(stats.Revision), short(bad))
			}
			// The zone APIs also list the container hosts' agents; the
			// HAProxy hosts are the ones that must refuse every case.
			n := 0
			for _, a := range stats.Agents {
				if e.agents[a.Host] == nil {
					continue
				}
				n++
				if c.waves && a.Host != "eu-haproxy-1" {
					if a.DesiredRevision != bad || a.LastResult != "holding" {
						return fmt.Errorf("%s: desired %s, last %s, want holding the bad revision for wave 0", a.Host, short(a.DesiredRevision), a.LastResult)
					}
					continue
				}
				if a.FailedRevision != bad || a.LastError == "" {
					return fmt.Errorf("%s: failed %s, last %s %q", a.Host, short(a.FailedRevision), a.LastResult, a.LastError)
				}
			}
			if n != len(e.agents) {
				return fmt.Errorf("/stats lists %d of the %d HAProxy hosts", n, len(e.agents))
			}
			return nil
		})
		failing := 0
		for _, a := range stats.Agents {
			if a.FailedRevision == bad {
				failing++
			}
			if e.agents[a.Host] == nil {
				continue
			}
			if a.AppliedRevision != good || a.UpToDate {
				t.Errorf("%s: %s: applied %s (up to date %v), want still %s", c.name, a.Host, short(a.AppliedRevision), a.UpToDate, short(good))
			}
			t.Logf("%s: %s: %s: %s", c.name, a.Host, a.LastResult, firstLine(a.LastError))
		}
		if want := map[bool]int{false: len(e.agents), true: 1}[c.waves]; stats.Summary.Failing != failing || failing < want {
			t.Errorf("%s: /stats summary %+v, want %d failing (at least the %d HAProxy hosts)", c.name, stats.Summary, failing, len(e.agents))
		}
		// The hosts still serve.
		if h, err := health(e.client, eu.LBURL); err != nil || !strings.HasPrefix(h.Node, "eu-node-") {
			t.Errorf("%s: EU load balancer: %+v, %v", c.name, h, err)
		}
	}

	fixed := e.commit(map[string][]byte{"nodes/eu-node-1.yaml": e.replaceOnce(node, "weight: 100", "weight: 90"),
		"zones/eu/zone.yaml": euZone, "zones/us/zone.yaml": usZone}, "e2e: good again")
	e.syncAll("e2e good commit")
	e.waitApplied(fixed, nil, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sts, err := e.statuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for h, st := range sts {
		if st.LastError != "" {
			t.Errorf("%s after the good commit: last error %q", h, st.LastError)
		}
	}
	ok, failed := ld.stop()
	t.Logf("load on %s during the bad commits: %d ok, %d failed", eu.LBURL, ok, failed)
	bench(t, "failed_requests", "scenario", "bad_commits", "ok", ok, "failed", failed)
	if ok == 0 {
		t.Error("the load loop made no successful request")
	}
	if failed > 0 {
		t.Errorf("%d requests failed; first errors: %s", failed, strings.Join(ld.errs, "; "))
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
