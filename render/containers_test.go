package render

import (
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// TestContainerServers: a container with serve is a server of its backend on
// the HAProxy hosts of its zone only, at the address in its file, with the
// backend's check and settings; the render needs nothing but git.
func TestContainerServers(t *testing.T) {
	f := loadExample(t)
	w := 7
	f.Containers = append(f.Containers, &desired.Container{
		Kind: desired.KindContainer, Name: "dynamic-backend-1", Image: "ddc-node:lab", Zone: "eu", Host: "eu-docker-1",
		Address: "198.18.1.65", Port: 8080, Serve: &desired.Serve{Backend: "ddc_nodes_http", Port: 8080, Weight: &w},
	}, &desired.Container{
		Kind: desired.KindContainer, Name: "not-served", Image: "ddc-node:lab", Zone: "eu", Host: "eu-docker-1",
		Address: "198.18.1.66", Port: 8080,
	})
	for _, tc := range []struct {
		host string
		want bool
	}{{"eu-haproxy-1", true}, {"eu-haproxy-2", true}, {"us-haproxy-1", false}} {
		h, err := Render(f, tc.host, Options{CrtBase: exampleCertDir(t)})
		if err != nil {
			t.Fatal(err)
		}
		var line string
		for _, b := range h.Backends {
			for _, s := range b.Servers {
				if s.Name == "not-served" {
					t.Errorf("%s: container without serve rendered in %s", tc.host, b.Name)
				}
				if s.Name == "dynamic-backend-1" {
					if b.Name != "ddc_nodes_http" {
						t.Errorf("%s: container rendered in backend %s", tc.host, b.Name)
					}
					line = s.Line()
				}
			}
		}
		if (line != "") != tc.want {
			t.Fatalf("%s: container server rendered = %q, want %v", tc.host, line, tc.want)
		}
		if tc.want {
			for _, kw := range []string{"198.18.1.65:8080", "check", "weight 7", "inter 2s"} {
				if !strings.Contains(line, kw) {
					t.Errorf("%s: server line %q lacks %q", tc.host, line, kw)
				}
			}
			if !strings.Contains(string(h.HAProxy), line) {
				t.Errorf("%s: haproxy.cfg lacks %q", tc.host, line)
			}
		}
	}
}
