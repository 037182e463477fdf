package desired

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

const goodContainer = `kind: Container
name: dynamic-backend-1
image: ddc-node:lab
zone: eu
host: eu-docker-1
address: 198.18.1.65
command: [/ddc-gitops, lab, nodesim]
env:
  - name: NODE_NAME
    value: dynamic-backend-1
port: 8080
limits:
  milliCPU: 500
  memoryMiB: 64
health:
  path: /health
serve:
  backend: ddc_nodes_http
`

func TestLoadContainer(t *testing.T) {
	fsys := readExamples(t)
	fsys["containers/dynamic-backend-1.yaml"] = &fstest.MapFile{Data: []byte(goodContainer)}
	f, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	c := f.Container("dynamic-backend-1")
	if c == nil {
		t.Fatal("container not loaded")
	}
	if c.PullPolicy != PullNever || c.Restart != DefaultContainerRestart {
		t.Errorf("defaults: pullPolicy %q restart %q", c.PullPolicy, c.Restart)
	}
	h := c.Health
	if h.Port != 8080 || h.ExpectStatus != 200 || h.Interval.D() != 2*time.Second || h.Timeout.D() != time.Second || h.Retries != 3 {
		t.Errorf("health defaults: %+v", *h)
	}
	if c.Serve.Port != 8080 {
		t.Errorf("serve.port default = %d, want the container port", c.Serve.Port)
	}
	if z, ch := f.ContainerHost("eu-docker-1"); z == nil || z.Name != "eu" || ch.Interface != "eth0" {
		t.Errorf("ContainerHost(eu-docker-1) = %v, %v", z, ch)
	}
	if got := f.ContainersOn("eu-docker-1"); len(got) != 1 || got[0] != c {
		t.Errorf("ContainersOn = %v", got)
	}
	if got := f.ContainersOn("us-docker-1"); len(got) != 0 {
		t.Errorf("ContainersOn(us-docker-1) = %v", got)
	}
}

func TestImageGrammar(t *testing.T) {
	long := "a"
	for len(long) < 256 {
		long += "a"
	}
	for _, tc := range []struct {
		s  string
		ok bool
	}{
		{"nginx", true},
		{"nginx:alpine", true},
		{"ddc-node:lab", true},
		{"library/nginx:1.25.3-alpine", true},
		{"registry.example:5000/team/app:v1", true},
		{"localhost/app", true},
		{"app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true},
		{"a__b/c.d-e", true},
		{"", false},
		{"Nginx", false},
		{"nginx:", false},
		{"nginx:-x", false},
		{"nginx:alpine; rm -rf /", false},
		{"nginx alpine", false},
		{"nginx\n", false},
		{"-nginx", false},
		{"nginx/", false},
		{"//nginx", false},
		{"nginx@sha256:abc", false},
		{"a..b", false},
		{"$(id)", false},
		{long, false},
	} {
		if got := ValidImage(tc.s); got != tc.ok {
			t.Errorf("ValidImage(%q) = %v, want %v", tc.s, got, tc.ok)
		}
	}
	for _, tc := range []struct {
		s        string
		name     bool
		value    bool
		argument bool
	}{
		{"PATH", true, true, true},
		{"_x1", true, true, true},
		{"1x", false, true, true},
		{"A-B", false, true, true},
		{"", false, true, false},
		{"a b", false, true, true},
		{"a\nb", false, false, false},
		{"a\x00b", false, false, false},
		{"a\x7fb", false, false, false},
		{"é", false, true, true},
	} {
		if got := ValidEnvName(tc.s); got != tc.name {
			t.Errorf("ValidEnvName(%q) = %v", tc.s, got)
		}
		if got := ValidEnvValue(tc.s); got != tc.value {
			t.Errorf("ValidEnvValue(%q) = %v", tc.s, got)
		}
		if got := ValidArg(tc.s); got != tc.argument {
			t.Errorf("ValidArg(%q) = %v", tc.s, got)
		}
	}
}

func TestPlaceContainer(t *testing.T) {
	fsys := readExamples(t)
	f, errs := Decode(fsys)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	host, addr, err := PlaceContainer(f, "eu")
	if err != nil || host != "eu-docker-1" || addr != "198.18.1.65" {
		t.Fatalf("PlaceContainer(eu) = %q, %q, %v", host, addr, err)
	}
	// Taken addresses are skipped, whatever holds them.
	f.Containers = append(f.Containers, &Container{Name: "a", Host: "eu-docker-1", Zone: "eu", Address: "198.18.1.65"})
	f.Nodes[0].Host = "198.18.1.66"
	if _, addr, _ := PlaceContainer(f, "eu"); addr != "198.18.1.67" {
		t.Errorf("next address = %s, want 198.18.1.67", addr)
	}
	// The least loaded host wins; ties go to the first.
	z := f.Zone("eu")
	z.Containers.Hosts = append(z.Containers.Hosts, &ContainerHost{Name: "eu-docker-2", Address: "198.18.1.32", Interface: "eth0"})
	if host, _, _ := PlaceContainer(f, "eu"); host != "eu-docker-2" {
		t.Errorf("host = %s, want the idle eu-docker-2", host)
	}
	for _, zone := range []string{"mars"} {
		if _, _, err := PlaceContainer(f, zone); err == nil {
			t.Errorf("PlaceContainer(%s) succeeded", zone)
		}
	}
	z.Containers.CIDR = "198.18.1.64/30" // .65 and .66 usable, both taken
	f.Nodes[0].Host = "198.18.1.66"
	if _, _, err := PlaceContainer(f, "eu"); err == nil || !strings.Contains(err.Error(), "no free address") {
		t.Errorf("full range: %v", err)
	}
}
