package lab_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/internal/netns"
	"github.com/ddc-gitops/ddc-gitops/internal/netns/netnstest"
	"github.com/ddc-gitops/ddc-gitops/lab"
	"github.com/ddc-gitops/ddc-gitops/lab/labtest"
	"github.com/ddc-gitops/ddc-gitops/lab/nodesim"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// syncWriter sends lines to t.Log until the test ends.
type syncWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *syncWriter) close() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// TestUpServesBothZones brings the lab up with free host-side ports and a
// temporary state directory, checks that each zone's load balancer port
// answers /health from one of that zone's nodes and that the APIs answer,
// then cancels and checks that no namespace, link or process is left.
func TestUpServesBothZones(t *testing.T) {
	netnstest.RequireRoot(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	prefix := netnstest.Prefix(t)
	state := t.TempDir()
	out := &syncWriter{t: t}
	t.Cleanup(out.close)
	ready := make(chan lab.Info, 1)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	opts := lab.Options{
		Prefix:       prefix,
		StateDir:     state,
		Fleet:        os.DirFS("../examples/fleet"),
		Exe:          exe,
		ChildEnv:     []string{labtest.ChildEnv + "=1"},
		StartTimeout: 60 * time.Second,
		StopTimeout:  10 * time.Second,
		Out:          out,
		Ready:        func(i lab.Info) { ready <- i },
	}
	go func() { errc <- lab.Up(ctx, opts) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(60 * time.Second):
			return fmt.Errorf("lab.Up did not return within 60s of cancel")
		}
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("lab.Up: %v", err)
		}
		_ = netns.Cleanup(context.Background(), prefix) // in case the lab failed to
	})

	var info lab.Info
	select {
	case info = <-ready:
	case err := <-errc:
		stopped = true
		t.Fatalf("lab.Up returned before ready: %v", err)
	case <-time.After(75 * time.Second):
		t.Fatal("lab not ready within 75s")
	}
	if len(info.Zones) != 2 || info.Zones[0].Name != "eu" || info.Zones[1].Name != "us" {
		t.Fatalf("zones = %+v, want eu and us", info.Zones)
	}
	kinds := map[string]int{}
	for _, c := range info.Children {
		kinds[strings.Fields(c.Name)[0]]++
	}
	wantKinds := map[string]int{"agent": 4 + len(info.ContainerHosts), "node": 8, "bot": 1, "prometheus": 1, "alertmanager": 1}
	if n := len(info.ContainerHosts); n > 0 {
		wantKinds["dockerd"] = n // a container host runs dockerd and an agent --docker
	}
	if info.DNS != nil {
		wantKinds["agent"] += len(info.DNS.Servers) // the DNS hosts' agents (lab/dns.go)
	}
	if fmt.Sprint(kinds) != fmt.Sprint(wantKinds) {
		t.Errorf("children by kind %v, want %v (6 nodes and 2 spares)", kinds, wantKinds)
	}
	if info.Chain == nil || len(info.Chain.Spares) != 2 || info.Chain.Contract == "" {
		t.Errorf("chain = %+v, want a contract and 2 spares", info.Chain)
	}
	checkTrustSetup(t, info)

	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for _, z := range info.Zones {
		var h nodesim.Health
		waitFor(t, 20*time.Second, z.Name+" load balancer /health", func() error {
			if err := getJSON(client, z.LBURL+"/health", &h); err != nil {
				return err
			}
			if h.Zone != z.Name || !strings.HasPrefix(h.Node, z.Name+"-node-") || h.Status != "healthy" {
				return fmt.Errorf("answered %+v", h)
			}
			return nil
		})
		t.Logf("%s: %s/health answered by %s", z.Name, z.LBURL, h.Node)
		if z.Name == "eu" {
			checkHTTPSDecryptedCert(t, z.VIPs, state)
		}
		var ah map[string]any
		if err := getJSON(client, z.APIURL+"/api/v1/health", &ah); err != nil {
			t.Errorf("%s API: %v", z.Name, err)
		} else if ah["status"] != "healthy" {
			t.Errorf("%s API health = %v", z.Name, ah)
		}
		resp, err := client.Get(z.StatsURL + ";csv")
		if err != nil {
			t.Errorf("%s stats: %v", z.Name, err)
		} else {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), z.Name+"-node-1") {
				t.Errorf("%s stats CSV: %s, %d bytes without %s-node-1", z.Name, resp.Status, len(body), z.Name)
			}
		}
	}

	// The bot read the registry (the fleet's 6 nodes, seeded) and serves it.
	if info.Chain != nil {
		waitFor(t, 30*time.Second, "the bot lists the registry", func() error {
			var r struct {
				Nodes   []map[string]any `json:"nodes"`
				GitOnly []map[string]any `json:"gitOnly"`
			}
			if err := getJSON(client, info.Chain.BotURL+"/api/v1/blockchain/nodes", &r); err != nil {
				return err
			}
			nodes := r.Nodes
			if len(r.GitOnly) != 0 {
				return fmt.Errorf("nodes in git but not on the chain: %v", r.GitOnly)
			}
			if len(nodes) != 6 {
				return fmt.Errorf("%d nodes, want the fleet's 6", len(nodes))
			}
			return nil
		})
	}
	// Prometheus scrapes every target, agents and exporters labelled with
	// their zone and host; Alertmanager answers.
	if info.PrometheusURL == "" || info.AlertmanagerURL == "" {
		t.Fatalf("prometheus %q, alertmanager %q: want both", info.PrometheusURL, info.AlertmanagerURL)
	}
	waitFor(t, 60*time.Second, "prometheus scrapes every target", func() error {
		var r struct {
			Data struct {
				ActiveTargets []struct {
					ScrapeURL string            `json:"scrapeUrl"`
					Health    string            `json:"health"`
					LastError string            `json:"lastError"`
					Labels    map[string]string `json:"labels"`
				} `json:"activeTargets"`
			} `json:"data"`
		}
		if err := getJSON(client, info.PrometheusURL+"/api/v1/targets", &r); err != nil {
			return err
		}
		// 4 agents, 2 APIs, 4 HAProxy exporters, the bot, the container hosts' agents.
		if n, want := len(r.Data.ActiveTargets), 11+len(info.ContainerHosts); n != want {
			return fmt.Errorf("%d targets, want %d", n, want)
		}
		for _, tg := range r.Data.ActiveTargets {
			if tg.Health != "up" {
				return fmt.Errorf("%s: %s %s", tg.ScrapeURL, tg.Health, tg.LastError)
			}
			if j := tg.Labels["job"]; (j == "haproxy" || j == "ddc-gitops-agent") && (tg.Labels["zone"] == "" || tg.Labels["host"] == "") {
				t.Fatalf("%s: labels %v, want zone and host", tg.ScrapeURL, tg.Labels)
			}
		}
		return nil
	})
	var amStatus struct {
		Cluster struct {
			Status string `json:"status"`
		} `json:"cluster"`
	}
	if err := getJSON(client, info.AlertmanagerURL+"/api/v2/status", &amStatus); err != nil {
		t.Errorf("alertmanager status: %v", err)
	}
	if len(info.Agents) != 4 || info.SyncToken == "" || info.Control == nil {
		t.Errorf("agents %+v, sync token set %v, control %v: want 4 agents, a token and a control", info.Agents, info.SyncToken != "", info.Control)
	}
	// Control stops and restarts a child: a new process for the same machine.
	ctl := info.Control
	oldPID := childOf(t, ctl, "eu-node-1").PID
	if err := ctl.Stop("eu-node-1"); err != nil {
		t.Fatal(err)
	}
	if c := childOf(t, ctl, "eu-node-1"); !c.Exited {
		t.Errorf("eu-node-1 after Stop: %+v, want exited", c)
	}
	if err := ctl.Start("eu-node-1"); err != nil {
		t.Fatal(err)
	}
	if err := ctl.Start("eu-node-1"); err == nil {
		t.Error("Start of a running child succeeded, want an error")
	}
	if c := childOf(t, ctl, "eu-node-1"); c.Exited || c.PID == oldPID || syscall.Kill(c.PID, 0) != nil {
		t.Errorf("eu-node-1 after Start: %+v (old pid %d), want a new running process", c, oldPID)
	}
	if err := ctl.Stop("no-such-machine"); err == nil {
		t.Error("Stop of an unknown machine succeeded, want an error")
	}

	pids := map[int]string{}
	for _, c := range ctl.Children() {
		pids[c.PID] = c.Name
	}
	if err := stop(); err != nil {
		t.Fatalf("lab.Up after cancel: %v", err)
	}
	names, err := netns.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			t.Errorf("namespace %s survived the lab", n)
		}
	}
	links, err := netns.LinkNames(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if strings.HasPrefix(l, prefix) {
			t.Errorf("link %s survived the lab", l)
		}
	}
	for pid, name := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("child %s (pid %d) survived the lab", name, pid)
		}
	}
	if procs, err := labtest.ProcessesMentioning(state); err != nil || len(procs) > 0 {
		t.Errorf("processes using the lab's state directory survived: %v (%v)", procs, err)
	}
	if _, err := os.Stat(filepath.Join(state, "lab.pid")); err == nil {
		t.Error("the pid file survived the lab")
	}
}

func getJSON(c *http.Client, url string, v any) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: decoding %q: %w", url, body, err)
	}
	return nil
}

// waitFor polls cond until it returns nil, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, d, err)
		}
		<-tick.C
	}
}

// childOf returns the current child of machine.
func childOf(t *testing.T, ctl *lab.Control, machine string) lab.ChildInfo {
	t.Helper()
	for _, c := range ctl.Children() {
		if c.Machine == machine {
			return c
		}
	}
	t.Fatalf("no child for %s", machine)
	return lab.ChildInfo{}
}
