package render

import (
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// exampleWithOverride is the example fleet plus overrides/o.yaml.
func exampleWithOverride(t *testing.T, override string) *desired.Fleet {
	t.Helper()
	fsys := fstest.MapFS{}
	dir := os.DirFS(exampleDir(t))
	err := fs.WalkDir(dir, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(dir, p)
		fsys[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	fsys["overrides/o.yaml"] = &fstest.MapFile{Data: []byte(override)}
	f, err := desired.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func serverOf(h *Host, backend, server string) *Server {
	for i := range h.Backends {
		if h.Backends[i].Name != backend {
			continue
		}
		for j := range h.Backends[i].Servers {
			if h.Backends[i].Servers[j].Name == server {
				return &h.Backends[i].Servers[j]
			}
		}
	}
	return nil
}

func TestRenderOverrides(t *testing.T) {
	until := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	f := exampleWithOverride(t, `kind: Override
name: o
until: 2026-12-04T21:00:00Z
reason: test
zones: [eu]
servers:
  - {backend: ddc_nodes_http, server: eu-node-1, state: drain}
  - {backend: ddc_nodes_http, server: eu-node-2, weight: 7}
  - {backend: ddc_nodes_http, server: eu-node-3, state: maint}
freeze: [ddc_nodes_grpc]
`)
	base, err := Render(f, "eu-haproxy-1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		host   string
		now    time.Time
		active bool
	}{
		{"no clock: base state", "eu-haproxy-1", time.Time{}, false},
		{"in force", "eu-haproxy-1", until.Add(-time.Second), true},
		{"expired", "eu-haproxy-1", until, false},
		{"other zone", "us-haproxy-1", until.Add(-time.Second), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := Render(f, c.host, Options{Now: c.now})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(h.Overrides) == 1; got != c.active {
				t.Fatalf("overrides applied: %v, want %v", h.Overrides, c.active)
			}
			if !c.active {
				if c.host == "eu-haproxy-1" && string(h.HAProxy) != string(base.HAProxy) {
					t.Error("an inactive override changed haproxy.cfg")
				}
				for _, b := range h.Backends {
					if b.Frozen {
						t.Errorf("backend %s frozen", b.Name)
					}
				}
				return
			}
			if s := serverOf(h, "ddc_nodes_http", "eu-node-1"); s.State != "drain" || s.Weight != serverOf(base, "ddc_nodes_http", "eu-node-1").Weight {
				t.Errorf("eu-node-1: %+v", s)
			}
			if s := serverOf(h, "ddc_nodes_http", "eu-node-2"); s.State != "ready" || s.Weight != 7 {
				t.Errorf("eu-node-2: %+v", s)
			}
			if s := serverOf(h, "ddc_nodes_http", "eu-node-3"); s.State != "maint" {
				t.Errorf("eu-node-3: %+v", s)
			}
			if s := serverOf(base, "ddc_nodes_http", "eu-node-1"); s.State != "ready" {
				t.Errorf("the base host was changed in place: %+v", s)
			}
			for _, b := range h.Backends {
				if b.Frozen != (b.Name == "ddc_nodes_grpc") {
					t.Errorf("backend %s frozen=%v", b.Name, b.Frozen)
				}
			}
			if !SkeletonEqual(h.HAProxy, base.HAProxy) {
				t.Error("a server override changed the skeleton of haproxy.cfg (it must never need a reload)")
			}
			lines := ServerLines(h.HAProxy)["ddc_nodes_http"]
			if !strings.Contains(lines["eu-node-3"], " disabled") || !strings.Contains(lines["eu-node-2"], " weight 7") {
				t.Errorf("server lines: %v", lines)
			}
		})
	}
}
