package plan

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

func ctr(name, host, image string, mod func(c *desired.Container)) *desired.Container {
	w := 100
	c := &desired.Container{Kind: desired.KindContainer, Name: name, Image: image, Zone: "eu", Host: host, Address: "198.18.1.65",
		Port: 8080, Restart: "unless-stopped", PullPolicy: desired.PullNever, Serve: &desired.Serve{Backend: "b", Port: 8080, Weight: &w}}
	if mod != nil {
		mod(c)
	}
	return c
}

func TestDiffContainers(t *testing.T) {
	old := &desired.Fleet{Containers: []*desired.Container{
		ctr("same", "eu-docker-1", "app:1", nil),
		ctr("gone", "eu-docker-1", "app:1", nil),
		ctr("image", "eu-docker-1", "app:1", nil),
		ctr("weight", "eu-docker-1", "app:1", nil),
		ctr("moved", "eu-docker-1", "app:1", nil),
	}}
	nw := &desired.Fleet{Containers: []*desired.Container{
		ctr("same", "eu-docker-1", "app:1", nil),
		ctr("image", "eu-docker-1", "app:2", func(c *desired.Container) { c.Env = []desired.EnvVar{{Name: "A", Value: "1"}} }),
		ctr("weight", "eu-docker-1", "app:1", func(c *desired.Container) { w := 5; c.Serve.Weight = &w }),
		ctr("moved", "eu-docker-2", "app:1", nil),
		ctr("new", "eu-docker-2", "app:1", nil),
	}}
	got := DiffContainers(old, nw)
	want := []ContainerHostPlan{
		{Host: "eu-docker-1", Zone: "eu", Ops: []ContainerOp{
			{Op: ContainerRemove, Container: "gone", Detail: "app:1"},
			{Op: ContainerReplace, Container: "image", Detail: "image, env (image app:1 -> app:2)"},
			{Op: ContainerRemove, Container: "moved", Detail: "app:1"},
			{Op: ContainerUpdate, Container: "weight", Detail: "serve"},
		}},
		{Host: "eu-docker-2", Zone: "eu", Ops: []ContainerOp{
			{Op: ContainerCreate, Container: "moved", Detail: "app:1 at 198.18.1.65"},
			{Op: ContainerCreate, Container: "new", Detail: "app:1 at 198.18.1.65"},
		}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i].Host != want[i].Host || got[i].Zone != want[i].Zone || len(got[i].Ops) != len(want[i].Ops) {
			t.Fatalf("host %d: got %+v want %+v", i, got[i], want[i])
		}
		for j := range want[i].Ops {
			if got[i].Ops[j] != want[i].Ops[j] {
				t.Errorf("%s op %d: got %+v want %+v", want[i].Host, j, got[i].Ops[j], want[i].Ops[j])
			}
		}
	}
	if d := DiffContainers(old, old); len(d) != 0 {
		t.Errorf("no change: %+v", d)
	}

	var buf bytes.Buffer
	p := &Plan{Containers: got}
	if err := p.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"### Containers: 6 changes on 2 container hosts", "#### eu-docker-1 (eu)", "- replace image: image, env (image app:1 -> app:2)", "- create new: app:1 at 198.18.1.65"} {
		if !strings.Contains(buf.String(), line) {
			t.Errorf("text lacks %q:\n%s", line, buf.String())
		}
	}
}
