//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// serverStatus is the `show stat` status of be/sv on host.
func (e *env) serverStatus(host, be, sv string) (string, error) {
	rows, err := e.hostStat(host)
	if err != nil {
		return "", err
	}
	for _, r := range rows {
		if r["pxname"] == be && r["svname"] == sv {
			return r["status"] + " weight " + r["weight"], nil
		}
	}
	return "", fmt.Errorf("%s: no %s/%s in show stat", host, be, sv)
}

// TestOverrideDrainLiftsItself: a 20 s drain override written through the
// EU API drains eu-node-1 on every EU host and lifts itself at its until,
// with no new commit, while clients loop through both zones' load
// balancers without a failed request.
func TestOverrideDrainLiftsItself(t *testing.T) {
	e := startLab(t, labOptions{})
	eu, us := e.zone("eu"), e.zone("us")
	loads := map[string]*load{"eu": startLoad(eu.LBURL, 2, false, 3*time.Minute), "us": startLoad(us.LBURL, 2, false, 3*time.Minute)}
	defer func() {
		for _, l := range loads {
			l.stop()
		}
	}()
	const be, sv = "ddc_nodes_http", "eu-node-1"
	token := e.apiToken(eu.APIURL)
	var out struct {
		Revision string `json:"revision"`
		Override string `json:"override"`
		Until    string `json:"until"`
	}
	start := time.Now()
	if err := e.apiDo(http.MethodPost, eu.APIURL+"/api/v1/zones/eu/backends/"+be+"/servers/"+sv+"/drain?for=20s&reason=e2e+drain", token, nil, &out); err != nil {
		t.Fatal(err)
	}
	until, err := time.Parse(time.RFC3339, out.Until)
	if err != nil {
		t.Fatalf("until %q: %v", out.Until, err)
	}
	e.waitApplied(out.Revision, &start, 30*time.Second)
	for _, h := range e.hosts("eu") {
		e.waitFor(10*time.Second, h+" drains "+sv, func() error {
			st, err := e.serverStatus(h, be, sv)
			if err != nil || !strings.HasPrefix(st, "DRAIN") {
				return fmt.Errorf("%s: %s %v", h, st, err)
			}
			return nil
		})
		bench(t, "override_drain_applied", "host", h, "ms", time.Since(start).Milliseconds())
	}
	if time.Now().After(until) {
		t.Fatalf("the drain took longer than the override (until %s)", until)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	sts, err := e.statuses(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	for h, st := range sts {
		n := 0
		if strings.HasPrefix(h, "eu-") {
			n = 1
		}
		if len(st.Overrides) != n || (n == 1 && st.Overrides[0].Name != out.Override) {
			t.Errorf("%s status overrides: %+v, want %d", h, st.Overrides, n)
		}
	}

	// At until, every EU host puts the server back by itself.
	for _, h := range e.hosts("eu") {
		e.waitFor(time.Until(until)+15*time.Second, h+" lifts the drain", func() error {
			st, err := e.serverStatus(h, be, sv)
			if err != nil || !strings.HasPrefix(st, "UP") {
				return fmt.Errorf("%s: %s %v", h, st, err)
			}
			return nil
		})
		lifted := time.Since(until)
		if lifted < 0 {
			t.Errorf("%s lifted the drain %s before its until", h, -lifted)
		}
		bench(t, "override_lift_after_until", "host", h, "ms", lifted.Milliseconds())
	}
	head, err := e.ctl.Git().Head()
	if err != nil {
		t.Fatal(err)
	}
	if head != out.Revision {
		t.Errorf("the branch moved to %s: lifting must need no commit", short(head))
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	sts, err = e.statuses(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	for h, st := range sts {
		if st.AppliedRevision != out.Revision || len(st.Overrides) != 0 || len(st.Drift) != 0 {
			t.Errorf("%s after the override: applied %s, overrides %+v, drift %v", h, short(st.AppliedRevision), st.Overrides, st.Drift)
		}
	}
	for z, l := range loads {
		ok, failed := l.stop()
		t.Logf("load through %s's load balancer: %d ok, %d failed %v", z, ok, failed, l.errs)
		if failed != 0 || ok == 0 {
			t.Errorf("%s: %d failed requests (%d ok)", z, failed, ok)
		}
	}
}

// TestFreezeHoldsNormalCommits: during a freeze window a normal commit is
// held on every host (shown in the status) and an emergency one applies.
func TestFreezeHoldsNormalCommits(t *testing.T) {
	e := startLab(t, labOptions{})
	loads := map[string]*load{"eu": startLoad(e.zone("eu").LBURL, 2, false, 3*time.Minute), "us": startLoad(e.zone("us").LBURL, 2, false, 3*time.Minute)}
	defer func() {
		for _, l := range loads {
			l.stop()
		}
	}()
	now := time.Now().UTC()
	// fleet.yaml as the lab seeded it (it adapts haproxy.maxconn to the machine).
	if _, err := e.git("fetch", "-q", "origin"); err != nil {
		t.Fatal(err)
	}
	seeded, err := e.git("show", "origin/main:fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fleet := seeded + "\n" + fmt.Sprintf("freeze:\n  - name: e2e\n    from: %s\n    until: %s\n    reason: e2e freeze\n",
		now.Add(-time.Minute).Format(time.RFC3339), now.Add(10*time.Minute).Format(time.RFC3339))
	// The commit that starts a freeze is itself held unless it is an emergency.
	frozen := e.commit(map[string][]byte{"fleet.yaml": []byte(fleet)}, "e2e: freeze\n\nEmergency: yes")
	e.syncAll("e2e freeze")
	e.waitApplied(frozen, nil, 30*time.Second)

	node := e.fleetFile("nodes/eu-node-1.yaml")
	held := e.commit(map[string][]byte{"nodes/eu-node-1.yaml": e.replaceOnce(node, "weight: 100", "weight: 50")}, "e2e: a normal commit")
	e.syncAll("e2e normal")
	e.waitFor(20*time.Second, "every host holds the normal commit", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		sts, err := e.statuses(ctx)
		if err != nil {
			return err
		}
		for h, st := range sts {
			if st.AppliedRevision != frozen {
				return fmt.Errorf("%s applied %s during the freeze", h, short(st.AppliedRevision))
			}
			if st.Freeze == nil || st.Freeze.Holding != held || st.Freeze.Name != "e2e" {
				return fmt.Errorf("%s freeze status %+v", h, st.Freeze)
			}
		}
		return nil
	})
	for _, h := range e.hosts("eu") {
		if st, err := e.serverStatus(h, "ddc_nodes_http", "eu-node-1"); err != nil || !strings.HasSuffix(st, "weight 100") {
			t.Errorf("%s runs %s (%v), want the weight before the held commit", h, st, err)
		}
	}

	start := time.Now()
	emergency := e.commit(map[string][]byte{"nodes/eu-node-1.yaml": e.replaceOnce(node, "weight: 100", "weight: 60")}, "e2e: an emergency\n\nEmergency: yes")
	e.syncAll("e2e emergency")
	got := e.waitApplied(emergency, &start, 30*time.Second)
	for _, h := range e.hosts("eu") {
		e.waitFor(10*time.Second, h+" runs the emergency weight", func() error {
			st, err := e.serverStatus(h, "ddc_nodes_http", "eu-node-1")
			if err != nil || !strings.HasSuffix(st, "weight "+strconv.Itoa(60)) {
				return fmt.Errorf("%s: %s %v", h, st, err)
			}
			return nil
		})
	}
	for h, d := range got {
		bench(t, "freeze_emergency_applied", "host", h, "ms", d.Milliseconds())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sts, err := e.statuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for h, st := range sts {
		if st.Freeze != nil {
			t.Errorf("%s still reports a held revision after the emergency head applied: %+v", h, st.Freeze)
		}
	}
	for z, l := range loads {
		ok, failed := l.stop()
		t.Logf("load through %s's load balancer: %d ok, %d failed %v", z, ok, failed, l.errs)
		if failed != 0 || ok == 0 {
			t.Errorf("%s: %d failed requests (%d ok)", z, failed, ok)
		}
	}
}
