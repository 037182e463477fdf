//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestGitServerDown makes the git server answer 503: the agents keep
// serving, report the fetch error in /v1/status, and apply what was
// committed meanwhile once it answers again.
func TestGitServerDown(t *testing.T) {
	e := startLab(t, labOptions{agentPoll: 2 * time.Second})
	eu := e.zone("eu")
	git := e.ctl.Git()
	good, err := git.Head()
	if err != nil {
		t.Fatal(err)
	}
	ld := startLoad(eu.LBURL, 2, false, 60*time.Second)
	defer ld.stop()

	git.SetFailure(http.StatusServiceUnavailable)
	t.Cleanup(func() { git.SetFailure(0) })
	node := e.fleetFile("nodes/eu-node-1.yaml")
	rev := e.commit(map[string][]byte{"nodes/eu-node-1.yaml": e.replaceOnce(node, "weight: 100", "weight: 70")}, "e2e: while git is down")
	e.syncAll("e2e while git is down")
	e.waitFor(30*time.Second, "every agent reports the fetch error", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		sts, err := e.statuses(ctx)
		if err != nil {
			return err
		}
		for h, st := range sts {
			if !strings.Contains(st.LastError, "503") {
				return fmt.Errorf("%s: last error %q", h, st.LastError)
			}
			if st.AppliedRevision != good {
				return fmt.Errorf("%s applied %s while git was down", h, short(st.AppliedRevision))
			}
		}
		return nil
	})
	for _, z := range e.info.Zones {
		if h, err := health(e.client, z.LBURL); err != nil || h.Zone != z.Name {
			t.Errorf("zone %s while git is down: %+v, %v", z.Name, h, err)
		}
	}

	start := time.Now()
	git.SetFailure(0)
	got := e.waitApplied(rev, &start, 30*time.Second) // by polling: nobody asks them to sync
	for h, d := range got {
		bench(t, "git_recovery_to_applied", "host", h, "poll", "2s", "ms", d.Milliseconds())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	sts, err := e.statuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for h, st := range sts {
		if st.LastError != "" {
			t.Errorf("%s after git returned: last error %q", h, st.LastError)
		}
	}
	ok, failed := ld.stop()
	bench(t, "failed_requests", "scenario", "git_down", "ok", ok, "failed", failed)
	if ok == 0 || failed > 0 {
		t.Errorf("load while git was down: %d ok, %d failed: %s", ok, failed, strings.Join(ld.errs, "; "))
	}
}
