package docker

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/network"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/internal/netns"
)

// TestMacvlanZoneNetwork: the container host's engine runs in its own
// namespace with eth0 on the zone network; a container joins the zone
// network at its declared address through the macvlan network the agent
// creates on eth0, and another machine of the zone reaches it there.
// Uses network namespaces: run under flock /tmp/ddc-netns.lock.
func TestMacvlanZoneNetwork(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	ctx := context.Background()
	hostNS, peerNS := fmt.Sprintf("ddc13-h%d", os.Getpid()), fmt.Sprintf("ddc13-p%d", os.Getpid())
	for _, ns := range []string{hostNS, peerNS} {
		if err := netns.Add(ctx, ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := netns.Delete(context.Background(), ns); err != nil {
				t.Logf("deleting namespace %s: %v", ns, err)
			}
		})
	}
	if err := netns.AddVeth(ctx, hostNS, "eth0", peerNS, "eth0"); err != nil {
		t.Fatal(err)
	}
	for ns, addr := range map[string]string{hostNS: "198.18.1.31/24", peerNS: "198.18.1.10/24"} {
		if err := netns.AddAddr(ctx, ns, "eth0", netip.MustParsePrefix(addr)); err != nil {
			t.Fatal(err)
		}
		for _, dev := range []string{"lo", "eth0"} {
			if err := netns.SetLink(ctx, ns, dev, true); err != nil {
				t.Fatal(err)
			}
		}
	}

	d := startDockerdIn(t, hostNS)
	d.testImage("ddc-test:1")
	r, err := NewReconciler(ReconcilerConfig{Engine: d.eng, Host: "eu-docker-1", StopGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	f := fleet(t, map[string]string{"web-1": containerFile("web-1", "ddc-test:1", 1, "")})
	res := r.Apply(ctx, rev1, f)
	if !res.Converged() {
		t.Fatalf("apply: err %v containers %+v", res.Err, res.Containers)
	}
	if st := byName(res, "web-1"); st.State != agentapi.ContainerRunning {
		t.Fatalf("web-1: %+v", st)
	}
	n, err := d.eng.c.NetworkInspect(ctx, "ddc-eu", network.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Driver != "macvlan" || n.Options["parent"] != "eth0" || n.IPAM.Config[0].IPRange != "198.18.1.64/27" || n.IPAM.Config[0].Gateway != "198.18.1.1" {
		t.Errorf("network ddc-eu: driver %s options %v ipam %+v", n.Driver, n.Options, n.IPAM.Config)
	}
	waitHealthy(t, r, "web-1")

	// Another machine on the zone network reaches the container at its address.
	waitFor(t, "web-1 answering at 198.18.1.65:8080 from the zone network", func() (bool, string) {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		c, err := netns.Dial(cctx, peerNS, "tcp", "198.18.1.65:8080")
		if err != nil {
			return false, err.Error()
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		req, _ := http.NewRequest(http.MethodGet, "http://198.18.1.65:8080/", nil)
		req.Close = true
		if err := req.Write(c); err != nil {
			return false, err.Error()
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), req)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body := make([]byte, 64)
		k, _ := resp.Body.Read(body)
		return strings.TrimSpace(string(body[:k])) == "web-1", string(body[:k])
	})

	// A second pass finds the network as it is and changes nothing.
	if res := r.Apply(ctx, rev1, f); len(res.Ops) != 0 || !res.Converged() {
		t.Errorf("second pass: err %v ops %v", res.Err, res.Ops)
	}
}
