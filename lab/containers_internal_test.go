package lab

import (
	"context"
	"os"
	"testing"
)

// TestPlanContainerHosts: every container host of the example fleet gets a
// namespace on its zone network at its address, marked as a container host.
func TestPlanContainerHosts(t *testing.T) {
	f, _ := loadExample(t)
	p, err := planTopology(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.addContainerHosts(f); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range p.machines {
		if m.ctr != nil {
			got[m.name] = m.zone + " " + m.iface + " " + m.addr.String()
		}
	}
	want := map[string]string{"eu-docker-1": "eu eth0 198.18.1.31/24", "us-docker-1": "us eth0 198.18.2.31/24"}
	if len(got) != len(want) || got["eu-docker-1"] != want["eu-docker-1"] || got["us-docker-1"] != want["us-docker-1"] {
		t.Errorf("container hosts = %v, want %v", got, want)
	}
	// A container host on the router's address is refused.
	f.Zone("eu").Containers.Hosts[0].Address = "198.18.1.1"
	p, _ = planTopology(f)
	if err := p.addContainerHosts(f); err == nil {
		t.Error("a container host on the router's address was planned")
	}
}

// TestSharedLibs: a static binary has none; a dynamic one lists its loader.
func TestSharedLibs(t *testing.T) {
	libs, err := sharedLibs(context.Background(), "/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) == 0 {
		t.Fatalf("/bin/true: no libraries")
	}
	for _, l := range libs {
		if _, err := os.Stat(l); err != nil {
			t.Errorf("%s: %v", l, err)
		}
	}
}
