//go:build e2e

package e2e

import (
	"fmt"
	"os"
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

// TestPushConverges commits weight changes straight to the repository and
// checks that every agent applies each one, with a sync request after the
// commit (what the API and the webhook receiver send) and with polling only;
// it logs commit-to-applied per host.
func TestPushConverges(t *testing.T) {
	const poll = 2 * time.Second
	e := startLab(t, labOptions{agentPoll: poll})
	node := e.fleetFile("nodes/eu-node-1.yaml")
	weight, commits := 100, 0
	for _, mode := range []string{"sync", "poll"} {
		per := map[string][]time.Duration{}
		n := rounds(map[string]int{"sync": 5, "poll": 3}[mode])
		for i := range n {
			commits++
			weight = 10 + commits%90 // 11..99, never the seed's 100: every commit changes it
			start := time.Now()
			rev := e.commit(map[string][]byte{"nodes/eu-node-1.yaml": e.replaceOnce(node, "weight: 100", "weight: "+strconv.Itoa(weight))},
				fmt.Sprintf("e2e: eu-node-1 weight %d (%s %d)", weight, mode, i))
			if mode == "sync" {
				e.syncAll("e2e commit " + short(rev))
			}
			got := e.waitApplied(rev, &start, 4*poll+20*time.Second)
			for h, d := range got {
				per[h] = append(per[h], d)
			}
		}
		hosts := e.hosts("")
		sort.Strings(hosts)
		for _, h := range hosts {
			ds := per[h]
			p50, p99 := percentile(ds, 50), percentile(ds, 99)
			t.Logf("%s %s: commit-to-applied p50 %v p99 %v over %d commits", mode, h, p50.Round(time.Millisecond), p99.Round(time.Millisecond), len(ds))
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
