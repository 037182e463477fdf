//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/reconciler/keepalived"
)

// TestCrossZoneFailover stops the three EU node simulators: the EU load
// balancer then answers from US nodes (its backup servers are the US
// VIPs); once they run again, EU nodes answer again.
func TestCrossZoneFailover(t *testing.T) {
	e := startLab(t, labOptions{})
	eu := e.zone("eu")
	nodes := []string{"eu-node-1", "eu-node-2", "eu-node-3"}
	start := time.Now()
	for _, n := range nodes {
		if err := e.ctl.Stop(n); err != nil {
			t.Fatal(err)
		}
	}
	var node string
	e.waitFor(40*time.Second, "the EU load balancer answers from a US node", func() error {
		h, err := health(e.client, eu.LBURL)
		if err != nil {
			return err
		}
		node = h.Node
		if !strings.HasPrefix(h.Node, "us-node-") || h.Zone != "us" {
			return fmt.Errorf("answered by %s (zone %s)", h.Node, h.Zone)
		}
		return nil
	})
	t.Logf("EU nodes down: %s answers after %v", node, time.Since(start).Round(time.Millisecond))
	bench(t, "cross_zone_failover", "to_us_ms", time.Since(start).Milliseconds())
	// Stable: several answers in a row come from the US.
	for range 10 {
		if h, err := health(e.client, eu.LBURL); err != nil || h.Zone != "us" {
			t.Fatalf("after failover: %+v, %v", h, err)
		}
	}

	start = time.Now()
	for _, n := range nodes {
		if err := e.ctl.Start(n); err != nil {
			t.Fatal(err)
		}
	}
	e.waitFor(40*time.Second, "the EU load balancer answers from an EU node again", func() error {
		h, err := health(e.client, eu.LBURL)
		if err != nil {
			return err
		}
		node = h.Node
		if !strings.HasPrefix(h.Node, "eu-node-") {
			return fmt.Errorf("answered by %s (zone %s)", h.Node, h.Zone)
		}
		return nil
	})
	t.Logf("EU nodes back: %s answers after %v", node, time.Since(start).Round(time.Millisecond))
	bench(t, "cross_zone_failover", "back_to_eu_ms", time.Since(start).Milliseconds())
}

// TestVIPFailover stops the agent of eu-haproxy-1 (and with it that host's
// haproxy and keepalived): EU VIP 1 moves to eu-haproxy-2, and a bounded
// client loop through it counts failed requests; once the agent runs again
// the VIP returns (preempt, preemptDelay 5s).
func TestVIPFailover(t *testing.T) {
	e := startLab(t, labOptions{})
	eu := e.zone("eu")
	vip := eu.VIPs[0]
	ns1, ns2 := e.prefix+"-eu-haproxy-1", e.prefix+"-eu-haproxy-2"
	holders := func() []string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		h, err := keepalived.Holders(ctx, "eth0", vip, ns1, ns2)
		if err != nil {
			t.Fatalf("VIP holders: %v", err)
		}
		return h
	}
	if h := holders(); !slices.Equal(h, []string{ns1}) {
		t.Fatalf("before: %s held by %v, want %s", vip, h, ns1)
	}
	ld := startLoad(eu.LBURL, 2, false, 60*time.Second)
	defer ld.stop()
	// Wait for some traffic before the failure.
	e.waitFor(5*time.Second, "load running", func() error {
		if ld.ok.Load() < 20 {
			return fmt.Errorf("%d ok", ld.ok.Load())
		}
		return nil
	})

	start := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- e.ctl.Stop("eu-haproxy-1") }()
	e.waitFor(30*time.Second, vip+" moves to eu-haproxy-2", func() error {
		if h := holders(); !slices.Equal(h, []string{ns2}) {
			return fmt.Errorf("held by %v", h)
		}
		return nil
	})
	moved := time.Since(start)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	// Traffic through the VIP is served by eu-haproxy-2.
	e.waitFor(10*time.Second, "the EU load balancer answers through eu-haproxy-2", func() error {
		_, err := health(e.client, eu.LBURL)
		return err
	})
	okDown, failedDown := ld.ok.Load(), ld.failed.Load()
	ld.mu.Lock()
	outage := time.Duration(0)
	if !ld.firstFail.IsZero() {
		outage = ld.lastFail.Sub(ld.firstFail)
	}
	ld.mu.Unlock()
	t.Logf("VIP moved in %v; %d failed requests (%v between the first and the last failure); first errors: %s",
		moved.Round(time.Millisecond), failedDown, outage.Round(time.Millisecond), strings.Join(ld.errs, "; "))
	bench(t, "vip_failover", "move_ms", moved.Milliseconds(), "failed", failedDown, "ok", okDown, "failed_span_ms", outage.Milliseconds())

	start = time.Now()
	if err := e.ctl.Start("eu-haproxy-1"); err != nil {
		t.Fatal(err)
	}
	e.waitFor(45*time.Second, vip+" returns to eu-haproxy-1", func() error {
		if h := holders(); !slices.Equal(h, []string{ns1}) {
			return fmt.Errorf("held by %v", h)
		}
		return nil
	})
	back := time.Since(start)
	ok, failed := ld.stop()
	t.Logf("VIP back after %v (agent start, haproxy, preempt delay); load: %d ok, %d failed in all", back.Round(time.Millisecond), ok, failed)
	bench(t, "vip_failback", "back_ms", back.Milliseconds(), "failed_total", failed, "ok_total", ok)
	if _, err := health(e.client, eu.LBURL); err != nil {
		t.Errorf("after failback: %v", err)
	}
}
