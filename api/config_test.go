package api

import (
	"net/http"
	"strings"
	"testing"
)

func TestGetConfig(t *testing.T) {
	e := newEnv(t, envOpts{cfg: func(c *Config) { c.DefaultZone = "" }})
	head := e.head()
	res := e.call(http.MethodGet, "/api/v1/config", "vera", nil)
	var all ConfigResponse
	res.decode(t, &all)
	if res.code != 200 || all.Revision != head || len(all.Zones) != 2 || len(all.Backends) != 2 || len(all.Nodes) != 6 || all.Fleet["name"] != "ddc" {
		t.Fatalf("whole fleet: %d zones %d backends %d nodes %d", res.code, len(all.Zones), len(all.Backends), len(all.Nodes))
	}
	for _, path := range []string{"/api/v1/config?zone=us", "/api/v1/zones/us/config"} {
		var us ConfigResponse
		res = e.call(http.MethodGet, path, "vera", nil)
		res.decode(t, &us)
		if res.code != 200 || us.Zone != "us" || len(us.Zones) != 1 || us.Zones[0]["name"] != "us" || len(us.Nodes) != 3 || len(us.Backends) != 2 {
			t.Fatalf("%s: %d %s", path, res.code, res.body)
		}
		for _, n := range us.Nodes {
			if n["zone"] != "us" {
				t.Fatalf("%s lists node %v", path, n["name"])
			}
		}
	}
	if res = e.call(http.MethodGet, "/api/v1/zones/mars/config", "vera", nil); res.code != 404 || !strings.Contains(string(res.body), "eu, us") {
		t.Fatalf("unknown zone: %d %s", res.code, res.body)
	}
	if res = e.call(http.MethodGet, "/api/v1/config?zone=a%20b", "vera", nil); res.code != 400 {
		t.Fatalf("malformed zone: %d %s", res.code, res.body)
	}
}

// TestZoneIsRequiredWithoutDefault: the single-zone paths need a zone
// when the server has no default zone; the error lists the zones.
func TestZoneIsRequiredWithoutDefault(t *testing.T) {
	e := newEnv(t, envOpts{cfg: func(c *Config) { c.DefaultZone = "" }})
	before := e.head()
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/api/v1/backends/ddc_nodes_http/servers", ""},
		{"POST", "/api/v1/backends/ddc_nodes_http/servers", `{"name":"z","address":"10.1.0.9:80"}`},
		{"POST", "/api/v1/config/reload", ""},
	} {
		var body any
		if tc.body != "" {
			body = tc.body
		}
		res := e.call(tc.method, tc.path, "ada", body)
		ae := res.apiError(t)
		if res.code != 400 || ae.Code != CodeZoneRequired || !strings.Contains(ae.Message, "zones: eu, us") {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, res.code, res.body)
		}
	}
	// ?zone= and the zone paths work.
	if res := e.call("GET", "/api/v1/backends/ddc_nodes_http/servers?zone=us", "vera", nil); res.code != 200 || !strings.Contains(string(res.body), "us-haproxy-1") {
		t.Fatalf("?zone=us: %d %s", res.code, res.body)
	}
	if e.head() != before {
		t.Fatal("HEAD moved")
	}
}

func TestPostConfigReplacesTheZonesStaticServers(t *testing.T) {
	e := newEnv(t, envOpts{})
	// A server of us and one of eu first.
	for _, p := range []string{"/api/v1/zones/us/backends/ddc_nodes_http/servers", "/api/v1/zones/eu/backends/ddc_nodes_http/servers"} {
		zone := strings.Split(p, "/")[4]
		if res := e.call("POST", p, "ada", ServerInput{Name: "old-" + zone, Address: "10.9.0.1:80"}); res.code != 202 {
			t.Fatalf("seed %s: %d %s", zone, res.code, res.body)
		}
	}
	res := e.call("POST", "/api/v1/config", "ada", `{"backend":"ddc_nodes_http","servers":[{"name":"new-1","address":"10.1.0.71:80"},{"name":"new-2","address":"10.1.0.72","port":81,"weight":10}]}`)
	if res.code != 202 {
		t.Fatalf("post config: %d %s", res.code, res.body)
	}
	rev := e.head()
	e.validAt(rev)
	file := e.show(rev, "backends/ddc_nodes_http.yaml")
	for _, want := range []string{"name: old-us", "name: new-1", "name: new-2", "port: 81"} {
		if !strings.Contains(file, want) {
			t.Errorf("file lacks %q:\n%s", want, file)
		}
	}
	if strings.Contains(file, "old-eu") {
		t.Errorf("eu's old server survived:\n%s", file)
	}
	if subj := gitRun(t, e.bare, "log", "-1", "--format=%s"); subj != "api: set the 2 static server(s) of ddc_nodes_http (eu)" {
		t.Errorf("subject %q", subj)
	}
	// The same list again changes nothing: 200, no commit.
	res = e.call("POST", "/api/v1/config", "ada", `{"backend":"ddc_nodes_http","servers":[{"name":"new-1","address":"10.1.0.71:80"},{"name":"new-2","address":"10.1.0.72","port":81,"weight":10}]}`)
	if res.code != 200 || !strings.Contains(string(res.body), `"changed": false`) || e.head() != rev {
		t.Fatalf("no-op post: %d %s", res.code, res.body)
	}
	// Errors name the list entry; a name used in another zone is a conflict.
	for _, tc := range []struct {
		body  string
		code  int
		field string
	}{
		{`{"backend":"ddc_nodes_http","servers":[{"name":"a","address":"10.1.0.1:80"},{"name":"a","address":"10.1.0.2:80"}]}`, 400, "servers[1].name"},
		{`{"backend":"ddc_nodes_http","servers":[{"name":"a","address":"10.1.0.1:0"}]}`, 400, "servers[0].address"},
		{`{"backend":"ddc_nodes_http"}`, 400, "servers"},
		{`{"backend":"bad name","servers":[]}`, 400, "backend"},
		{`{"backend":"ddc_nodes_http","servers":[{"name":"old-us","address":"10.1.0.1:80"}]}`, 409, ""},
		{`{"backend":"nope","servers":[]}`, 404, ""},
	} {
		res := e.call("POST", "/api/v1/config", "ada", tc.body)
		ae := res.apiError(t)
		if res.code != tc.code || (tc.field != "" && (len(ae.Details) == 0 || ae.Details[0].Field != tc.field)) {
			t.Errorf("%s: %d %s, want %d naming %q", tc.body, res.code, res.body, tc.code, tc.field)
		}
	}
	if e.head() != rev {
		t.Fatal("a refused request committed")
	}
}

func TestReload(t *testing.T) {
	e := newEnv(t, envOpts{})
	for gen := 1; gen <= 2; gen++ {
		res := e.call("POST", "/api/v1/config/reload", "otto", nil)
		if res.code != 202 || !strings.Contains(string(res.body), `"reload_generation": `+string(rune('0'+gen))) {
			t.Fatalf("reload %d: %d %s", gen, res.code, res.body)
		}
	}
	rev := e.head()
	e.validAt(rev)
	golden(t, "zone-eu.after-reload.yaml", e.show(rev, "zones/eu/zone.yaml"))
	res := e.call("POST", "/api/v1/zones/us/config/reload", "otto", `{"reason":"rotate certificate"}`)
	if res.code != 202 {
		t.Fatalf("reload us: %d %s", res.code, res.body)
	}
	msg := gitRun(t, e.bare, "log", "-1", "--format=%B")
	if !strings.HasPrefix(msg, "api: reload zone us\n\nReason: rotate certificate\n\nRequest-Id: ") {
		t.Fatalf("message:\n%s", msg)
	}
	if res := e.call("POST", "/api/v1/config/reload", "otto", `{"reason":"a\nb"}`); res.code != 400 {
		t.Fatalf("multi-line reason: %d", res.code)
	}
	if res := e.call("POST", "/api/v1/config/reload", "vera", nil); res.code != 403 {
		t.Fatalf("viewer reload: %d", res.code)
	}
}

func TestZonesAndHealth(t *testing.T) {
	e := newEnv(t, envOpts{agents: true})
	res := e.call("GET", "/api/v1/zones", "vera", nil)
	var z ZonesResponse
	res.decode(t, &z)
	if res.code != 200 || len(z.Zones) != 2 || z.Zones[0].Name != "eu" || len(z.Zones[0].Hosts) != 2 || len(z.Zones[0].Agents) != 2 || z.DefaultZone != "eu" {
		t.Fatalf("zones: %d %s", res.code, res.body)
	}
	res = e.call("GET", "/api/v1/health", "", nil)
	var h HealthResponse
	res.decode(t, &h)
	if res.code != 200 || h.Status != "healthy" || h.Version != "test" || h.Revision != e.head() {
		t.Fatalf("health: %d %s", res.code, res.body)
	}
}
