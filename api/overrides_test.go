package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// TestOverrideEndpoints: drain, maint and weight write one override
// commit each (file, until, reason, trailers); DELETE lifts it as a commit.
func TestOverrideEndpoints(t *testing.T) {
	e := newEnv(t, envOpts{})
	seed := e.head()
	before := time.Now().UTC().Truncate(time.Second)
	res := e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers/eu-node-1/drain?for=30m&reason=disk+swap+OPS-42", "otto", nil, RequestIDHeader, "req-drain")
	if res.code != http.StatusAccepted {
		t.Fatalf("drain: %d %s", res.code, res.body)
	}
	var mr struct {
		Revision string `json:"revision"`
		Override string `json:"override"`
		File     string `json:"file"`
		Until    string `json:"until"`
	}
	res.decode(t, &mr)
	rev := e.head()
	if mr.Revision != rev || mr.Override != "eu.ddc_nodes_http.eu-node-1" || mr.File != "overrides/eu.ddc_nodes_http.eu-node-1.yaml" {
		t.Fatalf("drain response: %s", res.body)
	}
	if files := gitRun(t, e.bare, "diff", "--name-only", seed, rev); files != mr.File {
		t.Errorf("changed files %q", files)
	}
	var o desired.Override
	if err := yaml.Unmarshal([]byte(e.show(rev, mr.File)), &o); err != nil {
		t.Fatal(err)
	}
	until, err := time.Parse(time.RFC3339, o.Until)
	if err != nil || until.Before(before.Add(30*time.Minute)) || until.After(time.Now().Add(30*time.Minute)) || o.Until != mr.Until {
		t.Errorf("until %q (%v), want now+30m", o.Until, err)
	}
	if o.Kind != "Override" || o.Reason != "disk swap OPS-42" || len(o.Zones) != 1 || o.Zones[0] != "eu" ||
		len(o.Servers) != 1 || o.Servers[0].Backend != "ddc_nodes_http" || o.Servers[0].Server != "eu-node-1" || o.Servers[0].State != "drain" || o.Servers[0].Weight != nil {
		t.Errorf("override file:\n%s", e.show(rev, mr.File))
	}
	msg := gitRun(t, e.bare, "log", "-1", "--format=%an%n%B", "main")
	for _, w := range []string{"otto", "api: override ddc_nodes_http/eu-node-1 in eu: drain for 30m0s", "Reason: disk swap OPS-42",
		"Request-Id: req-drain", "Api-Endpoint: POST /api/v1/backends/ddc_nodes_http/servers/eu-node-1/drain"} {
		if !strings.Contains(msg, w) {
			t.Errorf("commit lacks %q:\n%s", w, msg)
		}
	}
	if strings.Contains(msg, "Emergency") {
		t.Errorf("an operator's commit has the Emergency trailer:\n%s", msg)
	}
	e.validAt(rev)

	// weight, in another zone, with the reason in a JSON body.
	res = e.call(http.MethodPost, "/api/v1/zones/us/backends/ddc_nodes_http/servers/us-node-1/weight?for=2h&weight=10", "otto", `{"reason":"canary"}`)
	if res.code != http.StatusAccepted {
		t.Fatalf("weight: %d %s", res.code, res.body)
	}
	w := e.show(e.head(), "overrides/us.ddc_nodes_http.us-node-1.yaml")
	if !strings.Contains(w, "weight: 10") || !strings.Contains(w, "zones: [us]") || strings.Contains(w, "state:") {
		t.Errorf("weight override:\n%s", w)
	}
	// maint replaces the drain of the same server (one file per server).
	res = e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers/eu-node-1/maint", "otto", `{"for":"1h","reason":"reboot"}`)
	if res.code != http.StatusAccepted || !strings.Contains(e.show(e.head(), mr.File), "state: maint") {
		t.Fatalf("maint: %d %s", res.code, res.body)
	}
	e.validAt(e.head())

	// Lift it early: the file is removed in one commit.
	prev := e.head()
	res = e.call(http.MethodDelete, "/api/v1/overrides/"+mr.Override, "otto", nil)
	if res.code != http.StatusAccepted {
		t.Fatalf("delete: %d %s", res.code, res.body)
	}
	if files := gitRun(t, e.bare, "diff", "--name-status", prev, e.head()); files != "D\t"+mr.File {
		t.Errorf("delete changed %q", files)
	}
	if res := e.call(http.MethodDelete, "/api/v1/overrides/"+mr.Override, "otto", nil); res.code != http.StatusNotFound || !strings.Contains(res.apiError(t).Message, "us.ddc_nodes_http.us-node-1") {
		t.Errorf("delete of a missing override: %d %s", res.code, res.body)
	}
}

// TestOverrideBadInput: each bad input is refused (nothing committed) with
// an error naming the field.
func TestOverrideBadInput(t *testing.T) {
	e := newEnv(t, envOpts{})
	seed := e.head()
	for _, c := range []struct {
		name, method, path, user, body string
		code                           int
		field, msg                     string
	}{
		{"no for", "POST", "/api/v1/backends/ddc_nodes_http/servers/eu-node-1/drain?reason=r", "otto", "", 400, "for", "required"},
		{"bad for", "POST", "/api/v1/backends/ddc_nodes_http/servers/eu-node-1/drain?for=soon&reason=r", "otto", "", 400, "for", "not a duration"},
		{"for beyond the bound", "POST", "/api/v1/backends/ddc_nodes_http/servers/eu-node-1/drain?for=169h&reason=r", "otto", "", 400, "for", "out of range 1s..168h0m0s"},
		{"no reason", "POST", "/api/v1/backends/ddc_nodes_http/servers/eu-node-1/drain?for=30m", "otto", "", 400, "reason", "required"},
		{"reason with a newline", "POST", "/api/v1/backends/ddc_nodes_http/servers/eu-node-1/drain?for=30m", "otto", `{"reason":"x\n\nEmergency: yes"}`, 400, "reason", "one line"},
		{"no weight", "POST", "/api/v1/backends/ddc_nodes_http/servers/eu-node-1/weight?for=30m&reason=r", "otto", "", 400, "weight", "required"},
		{"weight out of range", "POST", "/api/v1/backends/ddc_nodes_http/servers/eu-node-1/weight?for=30m&reason=r&weight=300", "otto", "", 400, "weight", "out of range"},
		{"weight on drain", "POST", "/api/v1/backends/ddc_nodes_http/servers/eu-node-1/drain?for=30m&reason=r&weight=3", "otto", "", 400, "weight", "only for"},
		{"unknown body field", "POST", "/api/v1/backends/ddc_nodes_http/servers/eu-node-1/drain?for=30m", "otto", `{"reason":"r","untill":"x"}`, 400, "untill", ""},
		{"bad server name", "POST", "/api/v1/backends/ddc_nodes_http/servers/a;b/drain?for=30m&reason=r", "otto", "", 400, "name (path)", ""},
		{"unknown backend", "POST", "/api/v1/backends/nope/servers/eu-node-1/drain?for=30m&reason=r", "otto", "", 404, "", "backend \"nope\" does not exist"},
		{"unknown server", "POST", "/api/v1/backends/ddc_nodes_http/servers/ghost/drain?for=30m&reason=r", "otto", "", 422, "servers[0].server", "has no server \"ghost\""},
		{"viewer", "POST", "/api/v1/backends/ddc_nodes_http/servers/eu-node-1/drain?for=30m&reason=r", "vera", "", 403, "", "operator role"},
		{"emergency by an operator", "POST", "/api/v1/backends/ddc_nodes_http/servers/eu-node-1/drain?for=30m&reason=r&emergency=true", "otto", "", 403, "", "admin role"},
		{"bad emergency", "POST", "/api/v1/backends/ddc_nodes_http/servers/eu-node-1/drain?for=30m&reason=r&emergency=maybe", "ada", "", 400, "emergency (query)", "want true or false"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.body != "" {
				body = c.body
			}
			res := e.call(c.method, c.path, c.user, body)
			if res.code != c.code {
				t.Fatalf("%d %s, want %d", res.code, res.body, c.code)
			}
			ae := res.apiError(t)
			if c.field != "" {
				found := false
				for _, d := range ae.Details {
					found = found || d.Field == c.field || strings.Contains(d.Message, c.field)
				}
				if !found && !strings.Contains(ae.Message, c.field) {
					t.Errorf("error does not name %q: %s", c.field, res.body)
				}
			}
			text := ae.Message
			for _, d := range ae.Details {
				text += "\n" + d.Message
			}
			if !strings.Contains(text, c.msg) {
				t.Errorf("error lacks %q: %s", c.msg, res.body)
			}
		})
	}
	if e.head() != seed {
		t.Error("a refused request committed")
	}
}

// TestEmergencyTrailer: an admin's ?emergency=true (or the header) adds
// Emergency: yes to the commit, which desired.IsEmergency recognises.
func TestEmergencyTrailer(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, c := range []struct {
		path    string
		headers []string
	}{
		{"/api/v1/backends/ddc_nodes_http/servers/eu-node-1/drain?for=5m&reason=outage&emergency=true", nil},
		{"/api/v1/backends/ddc_nodes_http/servers/eu-node-2/drain?for=5m&reason=outage", []string{EmergencyHeader, "yes"}},
	} {
		res := e.call(http.MethodPost, c.path, "ada", nil, c.headers...)
		if res.code != http.StatusAccepted {
			t.Fatalf("%s: %d %s", c.path, res.code, res.body)
		}
		msg := gitRun(t, e.bare, "log", "-1", "--format=%B", "main")
		if !desired.IsEmergency(msg) {
			t.Errorf("%s: commit is not an emergency:\n%s", c.path, msg)
		}
	}
}

// TestOverrideName: one file per (zone, backend, server), whatever dots the
// names hold, and always a valid override name.
func TestOverrideName(t *testing.T) {
	long := strings.Repeat("b", 60)
	tests := []struct{ zone, backend, server, want string }{
		{"eu", "ddc_nodes_http", "node-1", "eu.ddc_nodes_http.node-1"},
		{"a", "b.c", "d", ""},
		{"a.b", "c", "d", ""},
		{"eu", long, "node-1", ""},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		got := overrideName(tt.zone, tt.backend, tt.server)
		if tt.want != "" && got != tt.want {
			t.Errorf("overrideName(%s, %s, %s) = %q, want %q", tt.zone, tt.backend, tt.server, got, tt.want)
		}
		if !desired.ValidName(got) {
			t.Errorf("overrideName(%s, %s, %s) = %q: not a valid name", tt.zone, tt.backend, tt.server, got)
		}
		key := tt.zone + "/" + tt.backend + "/" + tt.server
		if other, dup := seen[got]; dup {
			t.Errorf("%s and %s share the override %q", other, key, got)
		}
		seen[got] = key
	}
}
