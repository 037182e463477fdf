package api

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"gopkg.in/yaml.v3"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

// Timed overrides through the API (docs/api.md, "Overrides"): POST
// .../backends/{backend}/servers/{name}/drain|maint|weight?for=30m writes
// overrides/<name>.yaml for the zone as one commit; DELETE
// /overrides/{name} lifts one early. The agents apply an override until
// its until and drop it then with no new commit (docs/rollouts.md).

// OverrideInput is the optional JSON body of an override request; the
// query parameters of the same names take precedence.
type OverrideInput struct {
	// For is how long the override lasts (a Go duration, at most
	// desired.MaxOverrideLife).
	For    string `json:"for,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Weight is the server's weight while it lasts (weight only).
	Weight *int `json:"weight,omitempty"`
}

// overrideRoutes registers the override endpoints on a zone router.
func (s *Server) overrideRoutes(r chi.Router) {
	operator := r.With(s.require(RoleOperator))
	for _, action := range []string{desired.OverrideDrain, desired.OverrideMaint, "weight"} {
		operator.Post("/backends/{backend}/servers/{name}/"+action, s.handle(s.postServerOverride(action)))
	}
	operator.Delete("/overrides/{name}", s.handle(s.deleteOverride))
}

// overrideSpec is a checked override request.
type overrideSpec struct {
	dur    time.Duration
	reason string
	weight *int
}

// overrideInput reads and checks the request's for, reason and weight
// (query or JSON body), naming each bad field.
func (s *Server) overrideInput(w http.ResponseWriter, r *http.Request, action string) (overrideSpec, []byte, error) {
	var in OverrideInput
	var body []byte
	if r.ContentLength != 0 {
		b, err := s.readBody(w, r)
		if err != nil {
			return overrideSpec{}, nil, err
		}
		if len(strings.TrimSpace(string(b))) > 0 {
			if err := decodeJSON(b, &in); err != nil {
				return overrideSpec{}, nil, err
			}
		}
		body = b
	}
	q := r.URL.Query()
	if v := q.Get("for"); v != "" {
		in.For = v
	}
	if v := q.Get("reason"); v != "" {
		in.Reason = v
	}
	var ds []Detail
	bad := func(field, format string, args ...any) {
		ds = append(ds, Detail{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	var sp overrideSpec
	if v := q.Get("weight"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			bad("weight", "%q is not a number", v)
		} else {
			in.Weight = &n
		}
	}
	switch d, err := time.ParseDuration(in.For); {
	case in.For == "":
		bad("for", "required: how long the override lasts, e.g. for=30m (at most %s)", desired.MaxOverrideLife)
	case err != nil:
		bad("for", "%q is not a duration such as 30m or 2h", in.For)
	case d < time.Second || d > desired.MaxOverrideLife:
		bad("for", "%s is out of range 1s..%s", d, desired.MaxOverrideLife)
	default:
		sp.dur = d
	}
	switch {
	case in.Reason == "":
		bad("reason", "required: why (reason= or a JSON body {\"reason\": ...}); it goes into the override and its commit")
	case !desired.ValidReason(in.Reason):
		bad("reason", "1 to 200 printable characters on one line, without '\"' or '\\'")
	default:
		sp.reason = in.Reason
	}
	switch {
	case action == "weight" && in.Weight == nil:
		bad("weight", "required: the server's weight while the override lasts (0..256)")
	case action != "weight" && in.Weight != nil:
		bad("weight", "only for .../weight")
	case in.Weight != nil && (*in.Weight < 0 || *in.Weight > 256):
		bad("weight", "%d out of range 0..256", *in.Weight)
	default:
		sp.weight = in.Weight
	}
	if len(ds) > 0 {
		return sp, nil, fieldErrs(ds)
	}
	return sp, body, nil
}

// overrideName names the override of a server in a zone: one file per
// (zone, backend, server), so a new request replaces the previous one.
// Names may hold dots themselves, so a name with more dots than the two
// separators, or too long, ends in a hash of the three: zone "a" with
// backend "b.c" and zone "a.b" with backend "c" get files of their own.
func overrideName(zone, backend, server string) string {
	n := zone + "." + backend + "." + server
	if len(n) <= 64 && strings.Count(n, ".") == 2 {
		return n
	}
	sum := sha256.Sum256([]byte(zone + "\x00" + backend + "\x00" + server))
	return n[:min(len(n), 47)] + "-" + hex.EncodeToString(sum[:8])
}

func overrideFile(name string) string { return path.Join(desired.OverridesDir, name+".yaml") }

// overrideDoc is an override file as the API writes it.
type overrideDoc struct {
	Kind    string           `yaml:"kind"`
	Name    string           `yaml:"name"`
	Until   string           `yaml:"until"`
	Reason  string           `yaml:"reason"`
	Zones   []string         `yaml:"zones,flow"`
	Servers []overrideServer `yaml:"servers"`
}

type overrideServer struct {
	Backend string `yaml:"backend"`
	Server  string `yaml:"server"`
	State   string `yaml:"state,omitempty"`
	Weight  *int   `yaml:"weight,omitempty"`
}

func (s *Server) postServerOverride(action string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		backend, server := chi.URLParam(r, "backend"), chi.URLParam(r, "name")
		if !desired.ValidName(server) {
			return fieldErr("name (path)", "%q is not a valid server name", server)
		}
		if !desired.ValidName(backend) {
			return fieldErr("backend (path)", "%q is not a valid backend name", backend)
		}
		sp, body, err := s.overrideInput(w, r, action)
		if err != nil {
			return err
		}
		zone, err := s.zoneOf(r)
		if err != nil {
			return err
		}
		until := time.Now().Add(sp.dur).UTC().Truncate(time.Second)
		name := overrideName(zone, backend, server)
		doc := overrideDoc{Kind: desired.KindOverride, Name: name, Until: until.Format(time.RFC3339), Reason: sp.reason, Zones: []string{zone},
			Servers: []overrideServer{{Backend: backend, Server: server, Weight: sp.weight}}}
		what := action
		if action == "weight" {
			what = fmt.Sprintf("weight %d", *sp.weight)
		} else {
			doc.Servers[0].State = action
		}
		data, err := yaml.Marshal(doc)
		if err != nil {
			return fmt.Errorf("encoding the override: %w", err)
		}
		file := overrideFile(name)
		return s.mutate(w, r, mutation{
			zone:       zone,
			subject:    fmt.Sprintf("api: override %s/%s in %s: %s for %s", backend, server, zone, what, sp.dur),
			commitBody: fmt.Sprintf("Until %s.\nReason: %s", until.Format(time.RFC3339), sp.reason),
			body:       append([]byte(r.URL.RawQuery+"\n"), body...),
			extra: map[string]any{"override": name, "file": file, "until": until.Format(time.RFC3339),
				"backend": backend, "server": server, "zone": zone, "action": what, "reason": sp.reason},
			edit: func(t *repo.Tree) error {
				if err := requireZone(t, zone); err != nil {
					return err
				}
				if err := requireBackend(t, backend); err != nil {
					return err
				}
				return t.WriteFile(file, data)
			},
		})
	}
}

func (s *Server) deleteOverride(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "name")
	if !desired.ValidName(name) {
		return fieldErr("name (path)", "%q is not a valid override name", name)
	}
	zone, err := s.requestedZone(r)
	if err != nil {
		return err
	}
	file := overrideFile(name)
	return s.mutate(w, r, mutation{
		zone:    zone,
		subject: fmt.Sprintf("api: lift override %s", name),
		extra:   map[string]any{"override": name, "file": file, "removed": true},
		edit: func(t *repo.Tree) error {
			if !t.Exists(file) {
				files, _ := t.Glob(path.Join(desired.OverridesDir, "*.yaml"))
				names := make([]string, len(files))
				for i, f := range files {
					names[i] = strings.TrimSuffix(path.Base(f), ".yaml")
				}
				return apiErr(http.StatusNotFound, CodeNotFound, "override %q does not exist; overrides: %s", name, strings.Join(names, ", "))
			}
			return t.Remove(file)
		},
	})
}

// emergency reads whether the request asks for the Emergency: yes trailer
// (?emergency=true or the X-DDC-Emergency header): only admins may.
func emergency(r *http.Request, p *principal) (bool, error) {
	v, field := r.URL.Query().Get("emergency"), "emergency (query)"
	if h := r.Header.Get(EmergencyHeader); h != "" {
		v, field = h, EmergencyHeader+" (header)"
	}
	switch strings.ToLower(v) {
	case "", "false", "no", "0":
		return false, nil
	case "true", "yes", "1":
	default:
		return false, fieldErr(field, "%q: want true or false", v)
	}
	if p == nil || p.Role != RoleAdmin {
		return false, apiErr(http.StatusForbidden, CodeForbidden, "an emergency commit (it passes freeze windows) needs the admin role")
	}
	return true, nil
}

// EmergencyHeader asks for an emergency commit, as ?emergency=true does.
const EmergencyHeader = "X-DDC-Emergency"

// overridePaths documents the override endpoints of a zone router.
func overridePaths(zoneParam obj, tag string) map[string]obj {
	backend := pathParam("backend", "backend name, e.g. ddc_nodes_http")
	params := func(extra ...obj) []obj {
		ps := append(mutationParams(zoneParam), backend, pathParam("name", "server name"),
			queryParam("for", "how long the override lasts (a Go duration, at most 168h)", obj{"type": "string", "example": "30m"}),
			queryParam("reason", "why (or in the JSON body)", obj{"type": "string"}),
			queryParam("emergency", "admin only: add the Emergency: yes trailer (passes freeze windows)", obj{"type": "boolean"}))
		return append(ps, extra...)
	}
	body := obj{"required": false, "content": obj{"application/json": obj{"schema": ref("OverrideInput")}}}
	out := map[string]obj{}
	for _, a := range []struct{ action, summary string }{
		{"drain", "Drain the server for a while: a timed override (operator)"},
		{"maint", "Put the server in maintenance for a while: a timed override (operator)"},
		{"weight", "Set the server's weight for a while: a timed override (operator)"},
	} {
		ps := params()
		if a.action == "weight" {
			ps = params(queryParam("weight", "the weight while it lasts (0..256)", obj{"type": "integer"}))
		}
		out["/backends/{backend}/servers/{name}/"+a.action] = obj{"post": obj{"tags": []string{tag}, "summary": a.summary,
			"operationId": a.action + "Override" + tag, "security": bearer, "parameters": ps, "requestBody": body, "responses": mutationResponses()}}
	}
	out["/overrides/{name}"] = obj{"delete": obj{"tags": []string{tag}, "summary": "Lift an override early (operator)", "operationId": "deleteOverride" + tag,
		"security": bearer, "parameters": append(mutationParams(zoneParam), pathParam("name", "override name")), "responses": mutationResponses()}}
	return out
}
