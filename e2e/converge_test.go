//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"
)

// rounds is how many commits TestPushConverges measures per mode
// (DDC_GITOPS_E2E_ROUNDS overrides it for BENCHMARKS.md).
func rounds(def int) int {
	if n, err := strconv.Atoi(os.Getenv("DDC_GITOPS_E2E_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return def
}

// TestPushConverges pushes weight changes and checks that every agent
// applies each one: pushed with the git client from the lab's working clone
// (the git server delivers a GitHub push webhook to the API, which asks
// every agent to sync), and with webhooks off (polling only). It logs
// push-to-applied per host, measured from the start of `git push` (webhook)
// or of the commit (polling).
func TestPushConverges(t *testing.T) {
	const poll = 2 * time.Second
	e := startLab(t, labOptions{agentPoll: poll})
	node := e.fleetFile("nodes/eu-node-1.yaml")
	weight, commits := 100, 0
	for _, mode := range []string{"webhook", "poll"} {
		e.ctl.SetWebhooks(mode == "webhook")
		per := map[string][]time.Duration{}
		n := rounds(map[string]int{"webhook": 5, "poll": 3}[mode])
		hooks0 := e.webhooksAccepted()
		for i := range n {
			commits++
			weight = 10 + commits%90 // 11..99, never the seed's 100: every commit changes it
			files := map[string][]byte{"nodes/eu-node-1.yaml": e.replaceOnce(node, "weight: 100", "weight: "+strconv.Itoa(weight))}
			msg := fmt.Sprintf("e2e: eu-node-1 weight %d (%s %d)", weight, mode, i)
			var start time.Time
			var rev string
			if mode == "webhook" {
				rev = e.gitPush(files, msg, &start)
			} else {
				start = time.Now()
				rev = e.commit(files, msg)
			}
			got := e.waitApplied(rev, &start, 4*poll+20*time.Second)
			for h, d := range got {
				per[h] = append(per[h], d)
			}
		}
		// Each push was delivered as one webhook (and none with webhooks off).
		want := map[string]int{"webhook": n, "poll": 0}[mode]
		e.waitFor(10*time.Second, "the API's receiver counts the webhooks", func() error {
			if got := e.webhooksAccepted() - hooks0; got != want {
				return fmt.Errorf("%s: %d webhooks accepted, want %d", mode, got, want)
			}
			return nil
		})
		hosts := e.hosts("")
		sort.Strings(hosts)
		for _, h := range hosts {
			ds := per[h]
			p50, p99 := percentile(ds, 50), percentile(ds, 99)
			t.Logf("%s %s: push-to-applied p50 %v p99 %v over %d commits", mode, h, p50.Round(time.Millisecond), p99.Round(time.Millisecond), len(ds))
			bench(t, "push_to_applied", "mode", mode, "poll", poll, "host", h, "n", len(ds),
				"p50_ms", p50.Milliseconds(), "p99_ms", p99.Milliseconds(), "max_ms", slices.Max(ds).Milliseconds())
		}
	}
	// The last weight is what the EU hosts run.
	for _, h := range e.hosts("eu") {
		e.waitFor(10*time.Second, h+" runs the last weight", func() error {
			rows, err := e.hostStat(h)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if r["pxname"] == "ddc_nodes_http" && r["svname"] == "eu-node-1" {
					if r["weight"] == strconv.Itoa(weight) {
						return nil
					}
					return fmt.Errorf("eu-node-1 weight %s, want %d", r["weight"], weight)
				}
			}
			return fmt.Errorf("no ddc_nodes_http/eu-node-1 in show stat")
		})
	}
}

// gitPush commits files in the lab's working clone with the git client and
// pushes them over smart HTTP, as a user would; start is set just before
// the push. It returns the pushed commit.
func (e *env) gitPush(files map[string][]byte, msg string, start *time.Time) string {
	e.t.Helper()
	run := func(args ...string) string {
		e.t.Helper()
		out, err := e.git(args...)
		if err != nil {
			e.t.Fatal(err)
		}
		return out
	}
	run("pull", "-q", "--ff-only")
	for p, b := range files {
		if err := os.WriteFile(filepath.Join(e.info.CloneDir, filepath.FromSlash(p)), b, 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
	run("commit", "-q", "-a", "-m", msg)
	*start = time.Now()
	run("push", "-q", "origin", "HEAD:main")
	return run("rev-parse", "HEAD")
}

// reAccepted is the API's counter of accepted GitHub webhook deliveries.
var reAccepted = regexp.MustCompile(`(?m)^ddc_gitops_api_requests_total\{code="202",method="POST",route="/api/v1/webhooks/github"\} (\d+)$`)

// webhooksAccepted reads from the webhook receiver's API (the first zone's)
// how many GitHub webhooks it accepted.
func (e *env) webhooksAccepted() int {
	e.t.Helper()
	resp, err := e.client.Get(e.info.Zones[0].APIURL + "/metrics")
	if err != nil {
		e.t.Fatalf("reading the API's metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		e.t.Fatalf("reading the API's metrics: %s %v", resp.Status, err)
	}
	m := reAccepted.FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// percentile is the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s) + 99) / 100
	if i < 1 {
		i = 1
	}
	return s[i-1]
}
