//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/ddc-gitops/ddc-gitops/lab"
	"github.com/ddc-gitops/ddc-gitops/lab/nodesim"
	"github.com/ddc-gitops/ddc-gitops/reconciler/pdns"
)

// dnsTTL and dnsCheckInterval are the example fleet's dns.ttl and the lab
// DNS host's --pdns-health-interval: a client follows a failover within
// their sum (plus the check's own timeout) at worst.
const (
	dnsTTL           = 20 * time.Second
	dnsCheckInterval = time.Second
)

// digFrom resolves name from inside namespace ns with dig, as the
// walkthrough does, and returns the sorted addresses.
func digFrom(ns, server, name string) ([]string, error) {
	out, err := exec.Command("ip", "netns", "exec", ns, "dig", "+short", "+time=1", "+tries=1", "@"+server, name).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("dig in %s: %w: %s", ns, err, out)
	}
	addrs := strings.Fields(string(out))
	slices.Sort(addrs)
	return addrs, nil
}

// curlFrom GETs http://name/health from namespace ns, resolving name to addr
// (curl --resolve), and returns the node that answered.
func curlFrom(ns, name, addr string) (nodesim.Health, error) {
	var h nodesim.Health
	out, err := exec.Command("ip", "netns", "exec", ns, "curl", "-sf", "--max-time", "2",
		"--resolve", name+":80:"+addr, "http://"+name+"/health").Output()
	if err != nil {
		return h, fmt.Errorf("curl in %s via %s: %w", ns, addr, err)
	}
	err = json.Unmarshal(out, &h)
	return h, err
}

func sortedVIPs(z lab.ZoneInfo) []string {
	v := slices.Clone(z.VIPs)
	slices.Sort(v)
	return v
}

// TestGeoDNS runs the scenario on the lab: each zone's client
// resolves its own zone's VIPs (by source address, and by EDNS Client
// Subnet from this machine); with both EU HAProxy hosts stopped the EU
// client resolves the US VIPs and its requests succeed; with them back the
// answers return to the EU; a pushed commit adding a record is answered.
func TestGeoDNS(t *testing.T) {
	if _, err := exec.LookPath(pdns.DefaultServerBin); err != nil {
		t.Skip("pdns_server not installed")
	}
	e := startLab(t, labOptions{})
	d := e.info.DNS
	if d == nil || len(d.Servers) == 0 || len(d.Clients) != 2 {
		t.Fatalf("lab DNS: %+v", d)
	}
	server := d.Servers[0].Address
	name := "www.ddc.example"
	eu, us := sortedVIPs(e.zone("eu")), sortedVIPs(e.zone("us"))
	client := map[string]lab.DNSClientInfo{}
	for _, c := range d.Clients {
		client[c.Zone] = c
	}
	answers := func(ns string, want []string) func() error {
		return func() error {
			got, err := digFrom(ns, server, name)
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("answered %v, want %v", got, want)
			}
			return nil
		}
	}

	// Per-zone answers: by source address from the client namespaces...
	e.waitFor(20*time.Second, "the EU client resolves EU VIPs", answers(client["eu"].Netns, eu))
	e.waitFor(20*time.Second, "the US client resolves US VIPs", answers(client["us"].Netns, us))
	// ...by EDNS Client Subnet from this machine, and the default zone (eu) without.
	r := pdns.Resolver{Addr: server + ":53"}
	for zone, want := range map[string][]string{"eu": eu, "us": us} {
		subnet := netip.MustParsePrefix(client[zone].Network)
		got, err := r.Addrs(context.Background(), name, dns.TypeA, subnet)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("+subnet=%v answers %v (%v), want %v", subnet, got, err, want)
		}
	}
	if got, err := r.Addrs(context.Background(), name, dns.TypeA, netip.Prefix{}); err != nil || fmt.Sprint(got) != fmt.Sprint(eu) {
		t.Errorf("from this machine (default zone eu): %v %v, want %v", got, err, eu)
	}
	if h, err := curlFrom(client["eu"].Netns, name, eu[0]); err != nil || h.Zone != "eu" {
		t.Fatalf("EU client's request: %+v %v", h, err)
	}

	// Both EU HAProxy hosts stopped: the EU client resolves US VIPs and
	// its requests succeed (from a US node).
	start := time.Now()
	for _, h := range e.hosts("eu") {
		if err := e.ctl.Stop(h); err != nil {
			t.Fatal(err)
		}
	}
	var answered time.Duration
	e.waitFor(dnsTTL+dnsCheckInterval, "the EU client resolves US VIPs and its request succeeds", func() error {
		if err := answers(client["eu"].Netns, us)(); err != nil {
			return err
		}
		if answered == 0 {
			answered = time.Since(start)
		}
		h, err := curlFrom(client["eu"].Netns, name, us[0])
		if err != nil {
			return err
		}
		if h.Zone != "us" {
			return fmt.Errorf("answered by %s of zone %s", h.Node, h.Zone)
		}
		return nil
	})
	served := time.Since(start)
	t.Logf("EU HAProxy hosts down: EU client resolves US VIPs after %v, its request succeeds after %v (bound: TTL %v + check interval %v)",
		answered.Round(time.Millisecond), served.Round(time.Millisecond), dnsTTL, dnsCheckInterval)
	bench(t, "dns_failover", "answer_ms", answered.Milliseconds(), "request_ok_ms", served.Milliseconds(),
		"worst_client_ms", (served + dnsTTL).Milliseconds())

	// EU back: answers return to the EU VIPs.
	start = time.Now()
	for _, h := range e.hosts("eu") {
		if err := e.ctl.Start(h); err != nil {
			t.Fatal(err)
		}
	}
	e.waitFor(60*time.Second, "the EU client resolves EU VIPs again", answers(client["eu"].Netns, eu))
	back := time.Since(start)
	e.waitFor(20*time.Second, "the EU client's request is served in the EU", func() error {
		h, err := curlFrom(client["eu"].Netns, name, eu[0])
		if err == nil && h.Zone != "eu" {
			err = fmt.Errorf("answered by %s of zone %s", h.Node, h.Zone)
		}
		return err
	})
	t.Logf("EU HAProxy hosts started again: EU answers return after %v (includes the agents starting haproxy and keepalived)", back.Round(time.Millisecond))
	bench(t, "dns_recovery", "answer_ms", back.Milliseconds())

	// A pushed commit adding a record is answered by the DNS host.
	fleet := e.fleetFile("fleet.yaml")
	fleet = e.replaceOnce(fleet, "    - name: www\n", "    - name: cdn\n      frontend: http_in\n    - name: www\n")
	var pushed time.Time
	e.gitPush(map[string][]byte{"fleet.yaml": fleet}, "dns: add cdn", &pushed)
	e.waitFor(30*time.Second, "cdn.ddc.example is answered", func() error {
		got, err := r.Addrs(context.Background(), "cdn.ddc.example", dns.TypeA, netip.MustParsePrefix(client["us"].Network))
		if err == nil && fmt.Sprint(got) != fmt.Sprint(us) {
			err = fmt.Errorf("answered %v, want %v", got, us)
		}
		return err
	})
	t.Logf("push to answer: %v (the DNS agent polls every second)", time.Since(pushed).Round(time.Millisecond))
	bench(t, "dns_push_to_answer", "ms", time.Since(pushed).Milliseconds())
}
