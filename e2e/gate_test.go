//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
)

// TestHealthGateQuarantinesBadHealthCheckPath is issue 17's gate scenario
// on the lab: a commit whose health check path every node fails (the node
// simulator answers 404 on paths it does not serve). Every host that
// applies it sees its backends' servers go DOWN, its health gate trips
// within the window, it rolls back to the last good revision (runtime and
// file, verified) and quarantines the revision, which later syncs do not
// apply again; a newer commit is applied everywhere and lifts the
// quarantine. A client loops through both zones' load balancers: it may see
// failures only within the window.
//
// Which hosts apply the bad commit is the waves' business (issue 17,
// waves): with waves, only wave 0 must apply it (and then the other zone's
// client must see no failure); without them (status without a wave), every
// host applies it and every host must trip and roll back. The test asserts
// the gate's guarantees in both cases and the wave part only when the
// agents report waves.
func TestHealthGateQuarantinesBadHealthCheckPath(t *testing.T) {
	e := startLab(t, labOptions{})
	const window = 15 * time.Second
	// The seeded fleet.yaml (the lab adapts the example's, e.g. its maxconn).
	fleet := e.seededFile("fleet.yaml")
	var err error
	fleet = append(fleet, []byte("healthGate:\n  window: 15s\n  sampleInterval: 500ms\n  probeTimeout: 300ms\n")...)
	good := e.commit(map[string][]byte{"fleet.yaml": fleet}, "e2e: a 15 s health gate window")
	e.syncAll("e2e gate window")
	e.waitApplied(good, nil, 60*time.Second)
	e.waitFor(30*time.Second, "every host takes "+short(good)+" as its last good revision", func() error {
		return e.eachStatus(func(h string, st *agentapi.Status) error {
			if st.LastGoodRevision != good {
				return fmt.Errorf("%s: last good %s", h, short(st.LastGoodRevision))
			}
			return nil
		})
	})

	// A good structural commit (one verified reload on every host) passes
	// the gate everywhere: a reload alone does not look like a bad revision.
	euZone, usZone := e.seededFile("zones/eu/zone.yaml"), e.seededFile("zones/us/zone.yaml")
	reload := e.commit(map[string][]byte{
		"zones/eu/zone.yaml": append(append([]byte{}, euZone...), "reloadGeneration: 1\n"...),
		"zones/us/zone.yaml": append(append([]byte{}, usZone...), "reloadGeneration: 1\n"...),
	}, "e2e: one reload everywhere")
	e.syncAll("e2e reload")
	// With waves, each wave waits for the earlier ones' windows to pass.
	e.waitFor(4*window+30*time.Second, "every host to pass the gate for "+short(reload), func() error {
		return e.eachStatus(func(h string, st *agentapi.Status) error {
			if quarantines(st, reload) {
				e.dumpLogs()
				t.Fatalf("%s quarantined the good structural commit: %+v", h, st.Quarantined)
			}
			if st.LastGoodRevision != reload {
				return fmt.Errorf("%s: applied %s, last good %s, gate %+v", h, short(st.AppliedRevision), short(st.LastGoodRevision), st.Gate)
			}
			return nil
		})
	})
	good = reload

	eu, us := e.zone("eu"), e.zone("us")
	ldEU := startLoad(eu.LBURL, 2, false, 3*time.Minute)
	defer ldEU.stop()
	ldUS := startLoad(us.LBURL, 2, false, 3*time.Minute)
	defer ldUS.stop()
	e.waitFor(10*time.Second, "traffic through both load balancers", func() error {
		if ldEU.ok.Load() < 50 || ldUS.ok.Load() < 50 {
			return fmt.Errorf("ok: eu %d, us %d", ldEU.ok.Load(), ldUS.ok.Load())
		}
		return nil
	})

	httpBE, grpcBE := e.seededFile("backends/ddc_nodes_http.yaml"), e.seededFile("backends/ddc_nodes_grpc.yaml")
	bad := e.commit(map[string][]byte{
		"backends/ddc_nodes_http.yaml": e.replaceOnce(httpBE, "path: /health", "path: /e2e-no-such-path"),
		"backends/ddc_nodes_grpc.yaml": e.replaceOnce(grpcBE, "path: /health", "path: /e2e-no-such-path"),
	}, "e2e: a health check path every node fails")
	start := time.Now()
	e.syncAll("e2e bad health check path")

	// Every host that applied the bad revision trips and rolls back; with
	// waves, the hosts of later waves never apply it.
	tripped := map[string]time.Duration{}
	e.waitFor(2*window+30*time.Second, "the hosts that applied "+short(bad)+" to trip, roll back and quarantine it", func() error {
		var waiting []string
		err := e.eachStatus(func(h string, st *agentapi.Status) error {
			if st.Wave != nil && st.Wave.Wave > 0 {
				if st.AppliedRevision == bad {
					return fmt.Errorf("%s (wave %d) applied %s", h, st.Wave.Wave, short(bad))
				}
				return nil // later waves hold (the waves' part)
			}
			g := st.Gate
			if g == nil || g.Revision != bad || g.State != agentapi.GateTripped || !quarantines(st, bad) || st.AppliedRevision != good {
				waiting = append(waiting, fmt.Sprintf("%s: applied %s gate %+v quarantined %d", h, short(st.AppliedRevision), g, len(st.Quarantined)))
				return nil
			}
			if _, ok := tripped[h]; !ok {
				tripped[h] = time.Since(start)
				q := st.Quarantined[len(st.Quarantined)-1]
				if q.At.Sub(g.Since) > window {
					return fmt.Errorf("%s tripped %s after the apply, later than the window %s", h, q.At.Sub(g.Since), window)
				}
				t.Logf("%s tripped %s after applying %s: %s", h, q.At.Sub(g.Since).Round(time.Millisecond), short(bad), q.Reason)
			}
			return nil
		})
		if err != nil {
			e.dumpLogs()
			t.Fatal(err)
		}
		if len(waiting) > 0 {
			sort.Strings(waiting)
			return errors.New(strings.Join(waiting, "; "))
		}
		return nil
	})

	// With waves, the later waves hold the revision: wave 0 quarantined it.
	e.waitFor(30*time.Second, "the later waves to hold "+short(bad), func() error {
		saysQuarantined := false
		waves := false
		err := e.eachStatus(func(h string, st *agentapi.Status) error {
			if st.Wave == nil || st.Wave.Wave == 0 {
				return nil
			}
			waves = true
			if st.Wave.Holding != bad {
				return fmt.Errorf("%s (wave %d) holds %q, want %s", h, st.Wave.Wave, short(st.Wave.Holding), short(bad))
			}
			if strings.Contains(strings.Join(st.Wave.WaitingFor, " "), "quarantined") {
				saysQuarantined = true
			}
			return nil
		})
		if err == nil && waves && !saysQuarantined {
			err = errors.New("no later-wave host says its earlier wave quarantined the revision")
		}
		return err
	})

	// Later syncs do not apply the quarantined revision again.
	reconciles := map[string]int{}
	if err := e.eachStatus(func(h string, st *agentapi.Status) error { reconciles[h] = st.Counts.Reconciles; return nil }); err != nil {
		t.Fatal(err)
	}
	e.syncAll("e2e after the quarantine")
	e.waitFor(30*time.Second, "another reconcile everywhere", func() error {
		return e.eachStatus(func(h string, st *agentapi.Status) error {
			if st.Counts.Reconciles <= reconciles[h] || st.InProgress != nil {
				return fmt.Errorf("%s: %d reconciles", h, st.Counts.Reconciles)
			}
			return nil
		})
	})
	err = e.eachStatus(func(h string, st *agentapi.Status) error {
		if st.AppliedRevision == bad {
			return fmt.Errorf("%s applied the quarantined %s again", h, short(bad))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	okEU, failEU := ldEU.stop()
	okUS, failUS := ldUS.stop()
	for _, l := range []struct {
		zone     string
		ld       *load
		ok, fail int64
	}{{"eu", ldEU, okEU, failEU}, {"us", ldUS, okUS, failUS}} {
		span := time.Duration(0)
		if l.fail > 0 {
			span = l.ld.lastFail.Sub(l.ld.firstFail)
		}
		t.Logf("zone %s: %d ok, %d failed, failures over %s (%v)", l.zone, l.ok, l.fail, span.Round(time.Millisecond), l.ld.errs)
		bench(t, "gate_bad_check_path", "zone", l.zone, "ok", l.ok, "failed", l.fail, "failure_span_s", span.Seconds())
		if span > window {
			t.Errorf("zone %s: clients saw failures over %s, longer than the window %s", l.zone, span, window)
		}
	}
	if hostsOfWave0 := len(tripped); hostsOfWave0 < len(e.agents) && failUS > 0 {
		t.Errorf("with waves (%d hosts applied the bad commit), the us client saw %d failures", hostsOfWave0, failUS)
	}

	// The API proposes the revert (docs/rollouts.md "Automatic revert"): a
	// revert/<sha> branch whose tree is the last good one. Merging it, as a
	// reviewer would, is the newer commit that every host applies and that
	// lifts the quarantine.
	branch := "revert/" + bad
	e.waitFor(60*time.Second, "the API to propose the revert of "+short(bad), func() error { return e.hasBranch(branch) })
	fixed := e.mergeBranch(branch)
	for path, want := range map[string][]byte{"backends/ddc_nodes_http.yaml": httpBE, "backends/ddc_nodes_grpc.yaml": grpcBE} {
		got, err := e.git("show", fixed+":"+path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(got) != strings.TrimSpace(string(want)) {
			t.Fatalf("the revert of %s leaves %s as\n%s\nwant\n%s", short(bad), path, got, want)
		}
	}
	e.syncAll("e2e revert merged")
	e.waitApplied(fixed, nil, 4*window+60*time.Second)
	e.waitFor(2*window, "the quarantine to lift", func() error {
		return e.eachStatus(func(h string, st *agentapi.Status) error {
			if len(st.Quarantined) > 0 {
				return fmt.Errorf("%s still quarantines %s", h, short(st.Quarantined[0].Revision))
			}
			return nil
		})
	})
}

// seededFile reads a file of the fleet the lab seeded (its working clone).
func (e *env) seededFile(path string) []byte {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.info.CloneDir, path))
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// eachStatus calls fn with every agent's status, in host order.
func (e *env) eachStatus(fn func(host string, st *agentapi.Status) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	sts, err := e.statuses(ctx)
	if err != nil {
		return err
	}
	hosts := make([]string, 0, len(sts))
	for h := range sts {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	var errs []error
	for _, h := range hosts {
		if err := fn(h, sts[h]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func quarantines(st *agentapi.Status, rev string) bool {
	return slices.ContainsFunc(st.Quarantined, func(q agentapi.Quarantine) bool { return q.Revision == rev })
}
