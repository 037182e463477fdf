//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/lab"
	"github.com/ddc-gitops/ddc-gitops/lab/labtest"
)

// TestNodeAdmission drives the chain the way a DDC provider and cluster
// manager would (`ddc-gitops lab node register|admit|remove`), and checks
// that the bot proposes the EU spare node as a branch, that merging the
// branch (a git push to main) makes the node serve EU traffic and only EU's,
// and that a removal on the chain is proposed and, merged, takes it out.
func TestNodeAdmission(t *testing.T) {
	e := startLab(t, labOptions{chain: true})
	if e.info.Chain == nil {
		t.Fatal("the lab has no chain info")
	}
	var spare lab.SpareInfo
	for _, s := range e.info.Chain.Spares {
		if s.Zone == "eu" {
			spare = s
		}
	}
	if spare.Name == "" {
		t.Fatalf("no EU spare node: %+v", e.info.Chain.Spares)
	}
	branch := "bot/node/" + strings.TrimPrefix(spare.PubKey, "0x")
	if e.servesServer("eu", spare.Name) == nil {
		t.Fatalf("%s is in EU's backends before its admission", spare.Name)
	}

	start := time.Now()
	e.labNode("register", "--zone", "eu")
	e.labNode("admit", "--zone", "eu")
	admitted := time.Since(start)
	e.waitFor(60*time.Second, "the bot's proposal branch "+branch, func() error { return e.hasBranch(branch) })
	proposed := time.Since(start)
	// The bot proposes this admission and nothing else (the fleet's own
	// nodes are on the chain: no removal of them is proposed).
	if out, err := e.git("ls-remote", "--heads", "origin", "bot/*"); err != nil {
		t.Fatal(err)
	} else if lines := strings.Split(out, "\n"); len(lines) != 1 {
		t.Errorf("the bot's branches:\n%s\nwant only %s", out, branch)
	}
	t.Logf("register+admit mined in %v; branch %s after %v", admitted.Round(time.Millisecond), branch, proposed.Round(time.Millisecond))
	bench(t, "node_admission", "admit_tx_ms", admitted.Milliseconds(), "proposal_ms", proposed.Milliseconds())

	// A person reviews and merges the proposal.
	rev := e.mergeBranch(branch)
	e.waitApplied(rev, nil, 30*time.Second)
	e.waitFor(30*time.Second, spare.Name+" up on every EU host", func() error { return e.servesServer("eu", spare.Name) })
	for _, h := range e.hosts("us") {
		if rows, err := e.hostStat(h); err == nil && statRow(rows, "ddc_nodes_http", spare.Name) != nil {
			t.Errorf("%s: the EU node %s is in US's backend", h, spare.Name)
		}
	}
	eu := e.zone("eu")
	e.waitFor(30*time.Second, spare.Name+" answers through the EU load balancer", func() error {
		for range 12 {
			h, err := health(e.client, eu.LBURL)
			if err != nil {
				return err
			}
			if h.Node == spare.Name && h.Zone == "eu" {
				return nil
			}
		}
		return fmt.Errorf("12 requests, none answered by %s", spare.Name)
	})

	// Removal: the manager takes it out of its cluster, the provider
	// deletes it; the bot proposes the removal; merged, it is gone.
	e.labNode("remove", "--zone", "eu")
	e.waitFor(60*time.Second, "the bot's removal branch", func() error { return e.hasBranch(branch + "-remove") })
	rev = e.mergeBranch(branch + "-remove")
	e.waitApplied(rev, nil, 30*time.Second)
	e.waitFor(30*time.Second, spare.Name+" gone from every EU host", func() error {
		for _, h := range e.hosts("eu") {
			rows, err := e.hostStat(h)
			if err != nil {
				return err
			}
			if statRow(rows, "ddc_nodes_http", spare.Name) != nil {
				return fmt.Errorf("%s still has %s", h, spare.Name)
			}
		}
		return nil
	})
}

// labNode runs `ddc-gitops lab node ARGS --state-dir STATE` (the test
// binary acting as ddc-gitops) and fails the test if it fails.
func (e *env) labNode(args ...string) {
	e.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(exe, append(append([]string{"lab", "node"}, args...), "--state-dir", e.info.StateDir)...)
	cmd.Env = append(os.Environ(), labtest.ChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("ddc-gitops lab node %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	e.t.Logf("lab node %s:\n%s", strings.Join(args, " "), strings.TrimSpace(string(out)))
}

// hasBranch reports (nil) whether the lab's repository has branch.
func (e *env) hasBranch(branch string) error {
	out, err := e.git("ls-remote", "--heads", "origin", branch)
	if err != nil {
		return err
	}
	if !strings.Contains(out, "refs/heads/"+branch) {
		return fmt.Errorf("no branch %s yet", branch)
	}
	return nil
}

// mergeBranch merges the proposal branch into main in the working clone and
// pushes, as a reviewer would; it returns the pushed main.
func (e *env) mergeBranch(branch string) string {
	e.t.Helper()
	for _, args := range [][]string{
		{"checkout", "-q", "main"}, {"pull", "-q", "--ff-only"}, {"fetch", "-q", "origin", branch},
		{"merge", "-q", "--no-edit", "FETCH_HEAD"}, {"push", "-q", "origin", "HEAD:main"},
	} {
		if _, err := e.git(args...); err != nil {
			e.t.Fatal(err)
		}
	}
	rev, err := e.git("rev-parse", "HEAD")
	if err != nil {
		e.t.Fatal(err)
	}
	return rev
}

// servesServer reports (nil) whether every host of zone has server in
// ddc_nodes_http, UP.
func (e *env) servesServer(zone, server string) error {
	for _, h := range e.hosts(zone) {
		rows, err := e.hostStat(h)
		if err != nil {
			return err
		}
		r := statRow(rows, "ddc_nodes_http", server)
		if r == nil {
			return fmt.Errorf("%s: no ddc_nodes_http/%s", h, server)
		}
		if !strings.HasPrefix(r["status"], "UP") {
			return fmt.Errorf("%s: ddc_nodes_http/%s is %s", h, server, r["status"])
		}
	}
	return nil
}

// statRow is the show stat row of proxy/server, nil if absent.
func statRow(rows []map[string]string, proxy, server string) map[string]string {
	for _, r := range rows {
		if r["pxname"] == proxy && r["svname"] == server {
			return r
		}
	}
	return nil
}
