package lab_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/internal/netns"
	"github.com/ddc-gitops/ddc-gitops/internal/netns/netnstest"
	"github.com/ddc-gitops/ddc-gitops/lab"
	"github.com/ddc-gitops/ddc-gitops/lab/labtest"
	"github.com/ddc-gitops/ddc-gitops/lab/nodesim"
)

// TestNodeFaultMarksServerDown: a node made unhealthy through the lab's
// control is marked DOWN by HAProxy and comes back UP when it is healthy
// again; an erroring node's 5xx reaches clients through HAProxy; a path the
// node does not serve is a 404 through the load balancer.
func TestNodeFaultMarksServerDown(t *testing.T) {
	netnstest.RequireRoot(t)
	info := startLab(t)
	eu := info.Zones[0]
	ctl := info.Control
	ctx := context.Background()
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	resp, err := client.Get(eu.LBURL + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope through the load balancer = %s, want 404", resp.Status)
	}

	waitFor(t, 30*time.Second, "eu-node-1 UP at start", func() error { return serverStatus(client, eu.StatsURL, "eu-node-1", "UP") })
	start := time.Now()
	if f, err := ctl.SetNodeFault(ctx, "eu-node-1", nodesim.Fault{Unhealthy: true}); err != nil || !f.Unhealthy {
		t.Fatalf("SetNodeFault unhealthy = %v, %v", f, err)
	}
	waitFor(t, 30*time.Second, "HAProxy marks eu-node-1 DOWN", func() error { return serverStatus(client, eu.StatsURL, "eu-node-1", "DOWN") })
	t.Logf("unhealthy -> DOWN after %v (check inter 2s, fall 3)", time.Since(start).Round(100*time.Millisecond))
	start = time.Now()
	if _, err := ctl.SetNodeFault(ctx, "eu-node-1", nodesim.Fault{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "HAProxy marks eu-node-1 UP again", func() error { return serverStatus(client, eu.StatsURL, "eu-node-1", "UP") })
	t.Logf("healthy -> UP after %v (rise 2)", time.Since(start).Round(100*time.Millisecond))

	// error=503: the node stays UP and its answers reach clients.
	if _, err := lab.SetNodeFault(ctx, info.StateDir, "eu-node-1", nodesim.Fault{ErrorStatus: 503}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "eu-node-1's 503 through the load balancer", func() error {
		resp, err := client.Get(eu.LBURL + "/")
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || !strings.Contains(string(b), "eu-node-1 (zone eu): simulated error 503") {
			return fmt.Errorf("%s %q", resp.Status, b)
		}
		return nil
	})
	if f, err := ctl.NodeFault(ctx, "eu-node-1"); err != nil || f.ErrorStatus != 503 {
		t.Errorf("NodeFault = %v, %v", f, err)
	}
	if err := serverStatus(client, eu.StatsURL, "eu-node-1", "UP"); err != nil {
		t.Errorf("an erroring node must stay UP: %v", err)
	}
	if _, err := ctl.SetNodeFault(ctx, "eu-node-1", nodesim.Fault{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.SetNodeFault(ctx, "eu-haproxy-1", nodesim.Fault{}); err == nil {
		t.Error("SetNodeFault on a HAProxy host succeeded")
	}
}

// serverStatus checks that server's status in backend ddc_nodes_http of
// the stats CSV at statsURL is want.
func serverStatus(c *http.Client, statsURL, server, want string) error {
	resp, err := c.Get(statsURL + ";csv")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	r := csv.NewReader(resp.Body)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return fmt.Errorf("stats CSV: %w", err)
	}
	if len(rows) == 0 {
		return fmt.Errorf("stats CSV: empty")
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[strings.TrimPrefix(h, "# ")] = i
	}
	for _, row := range rows[1:] {
		if row[col["pxname"]] == "ddc_nodes_http" && row[col["svname"]] == server {
			if got := row[col["status"]]; got != want {
				return fmt.Errorf("%s is %s", server, got)
			}
			return nil
		}
	}
	return fmt.Errorf("no server %s in ddc_nodes_http", server)
}

// startLab starts a lab without chain and Prometheus on free ports and
// stops it when the test ends, checking that nothing is left.
func startLab(t *testing.T) lab.Info {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	prefix := netnstest.Prefix(t)
	out := &syncWriter{t: t}
	ready := make(chan lab.Info, 1)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	opts := lab.Options{
		Prefix: prefix, StateDir: t.TempDir(), Fleet: os.DirFS("../examples/fleet"), Exe: exe,
		ChildEnv: []string{labtest.ChildEnv + "=1"}, NoChain: true, NoPrometheus: true,
		StartTimeout: 60 * time.Second, StopTimeout: 10 * time.Second, Out: out,
		Ready: func(i lab.Info) { ready <- i },
	}
	go func() { errc <- lab.Up(ctx, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("lab.Up: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Errorf("lab.Up did not return within 60s of cancel")
		}
		out.close()
		_ = netns.Cleanup(context.Background(), prefix)
	})
	select {
	case info := <-ready:
		return info
	case err := <-errc:
		errc <- nil // for the cleanup
		t.Fatalf("lab.Up returned before ready: %v", err)
	case <-time.After(75 * time.Second):
		t.Fatal("lab not ready within 75s")
	}
	return lab.Info{}
}
