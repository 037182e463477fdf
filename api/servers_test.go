package api

import (
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/gittree"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// validAt checks that the remote's tree at rev loads without errors.
func (e *env) validAt(rev string) {
	e.t.Helper()
	fsys, _, err := gittree.Open(e.bare, rev)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := desired.Load(fsys); err != nil {
		e.t.Fatalf("the tree at %s is invalid: %v", rev, err)
	}
}

// TestServersLifecycle lists, adds and removes servers, over both
// transports: the commits, their authors and trailers, and the files.
func TestServersLifecycle(t *testing.T) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			e := newEnv(t, envOpts{transport: tr})
			seed := e.head()

			// List: the eu hosts run eu's three nodes plus us's two VIPs as backups.
			res := e.call(http.MethodGet, "/api/v1/backends/ddc_nodes_http/servers", "vera", nil)
			if res.code != http.StatusOK {
				t.Fatalf("list: %d %s", res.code, res.body)
			}
			var list ServersResponse
			res.decode(t, &list)
			if list.Revision != seed || res.header.Get("ETag") != `"`+seed+`"` || list.Zone != "eu" || list.Host != "eu-haproxy-1" {
				t.Fatalf("list header: %+v etag %s", list, res.header.Get("ETag"))
			}
			var got []string
			for _, s := range list.Servers {
				got = append(got, s.Name+"/"+s.Source)
			}
			want := []string{"eu-node-1/node", "eu-node-2/node", "eu-node-3/node", "us-vip-1/failover", "us-vip-2/failover"}
			if !slices.Equal(got, want) {
				t.Fatalf("servers = %v, want %v", got, want)
			}

			// Add: one commit by the user, with trailers, and a valid tree.
			res = e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "otto",
				`{"name":"dyn-1","address":"10.1.0.50:80","weight":100}`, RequestIDHeader, "req-add-1", IdempotencyHeader, "key-1")
			if res.code != http.StatusAccepted {
				t.Fatalf("add: %d %s", res.code, res.body)
			}
			var mr struct {
				Revision  string         `json:"revision"`
				Changed   bool           `json:"changed"`
				StatusURL string         `json:"status_url"`
				Server    map[string]any `json:"server"`
			}
			res.decode(t, &mr)
			rev := e.head()
			if mr.Revision != rev || !mr.Changed || mr.StatusURL != "/api/v1/revisions/"+rev+"?zone=eu" || res.header.Get("ETag") != `"`+rev+`"` || res.header.Get(RequestIDHeader) != "req-add-1" ||
				mr.Server["address"] != "10.1.0.50" || mr.Server["port"] != 80.0 || mr.Server["zone"] != "eu" {
				t.Fatalf("add response %s (head %s)", res.body, rev)
			}
			msg := gitRun(t, e.bare, "log", "-1", "--format=%an <%ae>%n%B", "main")
			for _, w := range []string{"otto <otto@ddc-gitops>", "api: add server dyn-1 to ddc_nodes_http (eu)",
				"Request-Id: req-add-1", "Api-Endpoint: POST /api/v1/backends/ddc_nodes_http/servers", "Idempotency-Key: key-1"} {
				if !strings.Contains(msg, w) {
					t.Errorf("commit lacks %q:\n%s", w, msg)
				}
			}
			if files := gitRun(t, e.bare, "diff", "--name-only", seed, rev); files != "backends/ddc_nodes_http.yaml" {
				t.Errorf("changed files %q", files)
			}
			e.validAt(rev)
			golden(t, "ddc_nodes_http.after-add.yaml", e.show(rev, "backends/ddc_nodes_http.yaml"))

			res = e.call(http.MethodGet, "/api/v1/backends/ddc_nodes_http/servers", "vera", nil)
			res.decode(t, &list)
			if i := slices.IndexFunc(list.Servers, func(s ServerView) bool { return s.Name == "dyn-1" }); i < 0 ||
				list.Servers[i].Source != SourceStatic || list.Servers[i].Address != "10.1.0.50" || list.Servers[i].Port != 80 || list.Servers[i].Zone != "eu" {
				t.Fatalf("dyn-1 not listed as a static server: %+v", list.Servers)
			}
			// The us hosts do not run eu's static server.
			res = e.call(http.MethodGet, "/api/v1/zones/us/backends/ddc_nodes_http/servers", "vera", nil)
			res.decode(t, &list)
			if slices.ContainsFunc(list.Servers, func(s ServerView) bool { return s.Name == "dyn-1" }) {
				t.Fatal("an eu server is listed for us")
			}

			// Add a second one with every field, in the us zone, then
			// delete the first: the file keeps its layout.
			res = e.call(http.MethodPost, "/api/v1/zones/us/backends/ddc_nodes_http/servers", "ada",
				`{"name":"dyn-2","address":"10.2.0.7","port":8080,"weight":50,"maxconn":200,"state":"drain","backup":true}`)
			if res.code != http.StatusAccepted {
				t.Fatalf("add dyn-2: %d %s", res.code, res.body)
			}
			res = e.call(http.MethodDelete, "/api/v1/backends/ddc_nodes_http/servers/dyn-1", "otto", nil)
			if res.code != http.StatusAccepted || !strings.Contains(string(res.body), `"removed": "static"`) {
				t.Fatalf("delete dyn-1: %d %s", res.code, res.body)
			}
			rev = e.head()
			e.validAt(rev)
			golden(t, "ddc_nodes_http.after-delete.yaml", e.show(rev, "backends/ddc_nodes_http.yaml"))
			if subj := gitRun(t, e.bare, "log", "-1", "--format=%s", "main"); subj != "api: remove server dyn-1 from ddc_nodes_http (eu)" {
				t.Errorf("subject %q", subj)
			}

			// Delete a node: its file goes, and the response says so.
			res = e.call(http.MethodDelete, "/api/v1/backends/ddc_nodes_http/servers/eu-node-3", "otto", nil)
			if res.code != http.StatusAccepted || !strings.Contains(string(res.body), `"removed": "node"`) || !strings.Contains(string(res.body), "nodes/eu-node-3.yaml") {
				t.Fatalf("delete node: %d %s", res.code, res.body)
			}
			rev = e.head()
			if files := gitRun(t, e.bare, "show", "--name-status", "--format=", rev); files != "D\tnodes/eu-node-3.yaml" {
				t.Errorf("node delete changed %q", files)
			}
			e.validAt(rev)
		})
	}
}

func TestServerErrors(t *testing.T) {
	e := newEnv(t, envOpts{})
	before := e.head()
	big := `{"name":"x","address":"1.2.3.4:80","pad":"` + strings.Repeat("a", 2<<20) + `"}`
	cases := []struct {
		name    string
		method  string
		path    string
		body    string
		header  []string
		code    int
		errCode string
		field   string // the request field the error must name
	}{
		{"malformed JSON", "POST", "/api/v1/backends/ddc_nodes_http/servers", `{"name": "x",`, nil, 400, CodeMalformedJSON, ""},
		{"not an object", "POST", "/api/v1/backends/ddc_nodes_http/servers", `[1,2]`, nil, 400, CodeInvalidField, ""},
		{"trailing data", "POST", "/api/v1/backends/ddc_nodes_http/servers", `{"name":"x","address":"1.2.3.4:80"} {}`, nil, 400, CodeMalformedJSON, ""},
		{"empty body", "POST", "/api/v1/backends/ddc_nodes_http/servers", ``, nil, 400, CodeMalformedJSON, ""},
		{"unknown field", "POST", "/api/v1/backends/ddc_nodes_http/servers", `{"name":"x","address":"1.2.3.4:80","colour":"red"}`, nil, 400, CodeUnknownField, "colour"},
		{"name with a newline", "POST", "/api/v1/backends/ddc_nodes_http/servers", `{"name":"a\nb","address":"1.2.3.4:80"}`, nil, 400, CodeInvalidField, "name"},
		{"name with a space", "POST", "/api/v1/backends/ddc_nodes_http/servers", `{"name":"a b","address":"1.2.3.4:80"}`, nil, 400, CodeInvalidField, "name"},
		{"port out of range", "POST", "/api/v1/backends/ddc_nodes_http/servers", `{"name":"x","address":"1.2.3.4:99999"}`, nil, 400, CodeInvalidField, "address"},
		{"address with a directive", "POST", "/api/v1/backends/ddc_nodes_http/servers", `{"name":"x","address":"1.2.3.4 check","port":80}`, nil, 400, CodeInvalidField, "address"},
		{"no port", "POST", "/api/v1/backends/ddc_nodes_http/servers", `{"name":"x","address":"1.2.3.4"}`, nil, 400, CodeInvalidField, "port"},
		{"two different ports", "POST", "/api/v1/backends/ddc_nodes_http/servers", `{"name":"x","address":"1.2.3.4:80","port":81}`, nil, 400, CodeInvalidField, "port"},
		{"weight of the wrong type", "POST", "/api/v1/backends/ddc_nodes_http/servers", `{"name":"x","address":"1.2.3.4:80","weight":"heavy"}`, nil, 400, CodeInvalidField, "weight"},
		{"weight out of range", "POST", "/api/v1/backends/ddc_nodes_http/servers", `{"name":"x","address":"1.2.3.4:80","weight":1000}`, nil, 400, CodeInvalidField, "weight"},
		{"bad state", "POST", "/api/v1/backends/ddc_nodes_http/servers", `{"name":"x","address":"1.2.3.4:80","state":"off"}`, nil, 400, CodeInvalidField, "state"},
		{"unknown backend", "POST", "/api/v1/backends/nope/servers", `{"name":"x","address":"1.2.3.4:80"}`, nil, 404, CodeNotFound, ""},
		{"unknown zone", "POST", "/api/v1/zones/mars/backends/ddc_nodes_http/servers", `{"name":"x","address":"1.2.3.4:80"}`, nil, 404, CodeNotFound, ""},
		{"duplicate of a node", "POST", "/api/v1/backends/ddc_nodes_http/servers", `{"name":"eu-node-1","address":"1.2.3.4:80"}`, nil, 409, CodeDuplicate, ""},
		{"address of a VIP", "POST", "/api/v1/backends/ddc_nodes_http/servers", `{"name":"loop","address":"198.18.1.100:80"}`, nil, 422, CodeInvalidState, ""},
		{"oversized body", "POST", "/api/v1/backends/ddc_nodes_http/servers", big, nil, 413, CodeTooLarge, ""},
		{"not JSON content type", "POST", "/api/v1/backends/ddc_nodes_http/servers", `{}`, []string{"Content-Type", "text/plain"}, 415, CodeUnsupportedMedia, ""},
		{"bad If-Match", "POST", "/api/v1/backends/ddc_nodes_http/servers", `{"name":"x","address":"1.2.3.4:80"}`, []string{"If-Match", "yesterday"}, 400, CodeInvalidField, "If-Match (header)"},
		{"unknown If-Match revision", "POST", "/api/v1/backends/ddc_nodes_http/servers", `{"name":"x","address":"1.2.3.4:80"}`, []string{"If-Match", `"0123456789abcdef0123456789abcdef01234567"`}, 412, CodeUnknownRevision, ""},
		{"bad wait", "POST", "/api/v1/backends/ddc_nodes_http/servers?wait=forever", `{"name":"x","address":"1.2.3.4:80"}`, nil, 400, CodeInvalidField, "wait (query)"},
		{"delete unknown server", "DELETE", "/api/v1/backends/ddc_nodes_http/servers/ghost", ``, nil, 404, CodeNotFound, ""},
		{"delete a node of another zone", "DELETE", "/api/v1/backends/ddc_nodes_http/servers/us-node-1", ``, nil, 404, CodeNotFound, ""},
		{"delete a failover backup", "DELETE", "/api/v1/backends/ddc_nodes_http/servers/us-vip-1", ``, nil, 404, CodeNotFound, ""},
		{"list unknown backend", "GET", "/api/v1/backends/nope/servers", ``, nil, 404, CodeNotFound, ""},
		{"unknown route", "GET", "/api/v1/nothing", ``, nil, 404, CodeNotFound, ""},
		{"wrong method", "PUT", "/api/v1/backends/ddc_nodes_http/servers", `{}`, nil, 405, CodeMethodNotAllowed, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			res := e.call(tc.method, tc.path, "ada", body, tc.header...)
			ae := res.apiError(t)
			if res.code != tc.code || ae.Code != tc.errCode || ae.Message == "" || ae.RequestID == "" {
				t.Fatalf("got %d %s, want %d %s", res.code, res.body, tc.code, tc.errCode)
			}
			if tc.field != "" {
				if !strings.Contains(ae.Message, tc.field) || len(ae.Details) == 0 || ae.Details[0].Field != tc.field {
					t.Errorf("the error does not name the field %q: %s", tc.field, res.body)
				}
			}
			if tc.code == 422 && (len(ae.Details) == 0 || ae.Details[0].File != "backends/ddc_nodes_http.yaml" || ae.Details[0].Line == 0) {
				t.Errorf("validation error without file positions: %s", res.body)
			}
			if h := e.head(); h != before {
				t.Fatalf("HEAD moved to %s", h)
			}
		})
	}
}

func TestAddDuplicateStaticServer(t *testing.T) {
	e := newEnv(t, envOpts{})
	body := `{"name":"dup","address":"10.1.0.9:80"}`
	if res := e.call("POST", "/api/v1/backends/ddc_nodes_http/servers", "otto", body); res.code != http.StatusAccepted {
		t.Fatalf("first add: %d %s", res.code, res.body)
	}
	head := e.head()
	// In another zone too: names are unique within a backend.
	res := e.call("POST", "/api/v1/zones/us/backends/ddc_nodes_http/servers", "otto", body)
	if res.code != http.StatusConflict || res.apiError(t).Code != CodeDuplicate {
		t.Fatalf("second add: %d %s", res.code, res.body)
	}
	if e.head() != head {
		t.Fatal("a duplicate was committed")
	}
}

// With nodeLayout: sharded, a node's file is found in its shard: removing
// the node deletes that file, and a static server cannot take its name.
func TestServersShardedNodeLayout(t *testing.T) {
	e := newEnv(t, envOpts{})
	fleet := e.show(e.head(), desired.FleetFile)
	files := map[string][]byte{desired.FleetFile: []byte(strings.Replace(fleet, "\nname: ddc\n", "\nname: ddc\nnodeLayout: sharded\n", 1))}
	var deletes []string
	for _, n := range []string{"eu-node-1", "eu-node-2", "eu-node-3", "us-node-1", "us-node-2", "us-node-3"} {
		flat := desired.NodeFile(desired.NodeLayoutFlat, n)
		files[desired.NodeFile(desired.NodeLayoutSharded, n)] = []byte(e.show(e.head(), flat))
		deletes = append(deletes, flat)
	}
	gitservertest.MustCommit(t, e.gs, files, deletes, "shard the node files")
	e.validAt(e.head())

	res := e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "ada", `{"name":"eu-node-1","address":"10.1.0.50","port":80}`)
	if res.code != http.StatusConflict || !strings.Contains(string(res.body), "nodes/1e/eu-node-1.yaml") {
		t.Fatalf("a static server named after a sharded node: %d %s", res.code, res.body)
	}
	res = e.call(http.MethodDelete, "/api/v1/backends/ddc_nodes_http/servers/eu-node-3", "otto", nil)
	if res.code != http.StatusAccepted || !strings.Contains(string(res.body), `"removed": "node"`) || !strings.Contains(string(res.body), "nodes/c4/eu-node-3.yaml") {
		t.Fatalf("delete node: %d %s", res.code, res.body)
	}
	rev := e.head()
	if files := gitRun(t, e.bare, "show", "--name-status", "--format=", rev); files != "D\tnodes/c4/eu-node-3.yaml" {
		t.Errorf("node delete changed %q", files)
	}
	e.validAt(rev)
}
