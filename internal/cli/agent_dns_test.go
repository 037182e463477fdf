package cli

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/reconciler/pdns"
)

// loopbackDNSFleet is a fleet with a DNS host ns1 whose VIPs are loopback
// addresses (nothing of the machine's networks is health-checked).
const loopbackDNSFleet = `kind: Fleet
name: t
addressPolicy: {allowLoopback: true}
dns:
  zone: ddc.example.
  defaultZone: eu
  nameservers: [{name: ns1, address: 127.0.53.1}]
  records: [{name: www, frontend: web}]
`

// TestAgentDNSRoleOnce runs `agent --once` for a host named in
// dns.nameservers against a real pdns_server: the agent takes the DNS role,
// applies the zone and exits 0; the server then answers the record.
func TestAgentDNSRoleOnce(t *testing.T) {
	for _, bin := range []string{pdns.DefaultServerBin, pdns.DefaultUtilBin, pdns.DefaultControlBin} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	fleet := t.TempDir()
	files := map[string]string{
		"fleet.yaml":        loopbackDNSFleet,
		"backends/web.yaml": "kind: Backend\nname: web\nservers: [{name: s1, address: 127.0.9.1, port: 8080}]\n",
		"zones/eu/zone.yaml": `kind: Zone
name: eu
network: {cidr: 127.1.0.0/16}
clientNetworks: [198.18.101.0/24]
vips: [{name: eu-vip-1, address: 127.1.0.100, routerId: 1}]
hosts: [{name: eu-haproxy-1, address: 127.1.0.11, owns: [eu-vip-1]}]
frontends: [{name: web, binds: [{port: 8080}], defaultBackend: web}]
`}
	for p, s := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(fleet, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fleet, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.LocalAddr().(*net.UDPAddr).Port
	l.Close()
	dir := t.TempDir()
	if err := (pdns.ServerConfig{Dir: dir, Address: "127.0.0.1", Port: port}).Write(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &pdns.Process{ConfigDir: dir}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
	defer rcancel()
	if err := p.Ready(rctx); err != nil {
		t.Fatal(err)
	}
	query := "127.0.0.1:" + strconv.Itoa(port)
	code, out, errs := run(t, "agent", "--once", "--watch", fleet, "--host", "ns1", "--state-dir", filepath.Join(dir, "state"),
		"--pdns-config-dir", dir, "--pdns-query", query, "--listen", "")
	if code != 0 || !strings.HasPrefix(out, "ns1: dns applied at dir-") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// A second run finds nothing to do.
	code, out, errs = run(t, "agent", "--once", "--watch", fleet, "--host", "ns1", "--state-dir", filepath.Join(dir, "state"),
		"--pdns-config-dir", dir, "--pdns-query", query, "--listen", "")
	if code != 0 || !strings.HasPrefix(out, "ns1: dns noop at dir-") {
		t.Fatalf("second run: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
