package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

// ConfigRequest is the body of POST /config: the complete list of static
// servers of one backend in the zone (the original ConfigWatcher's
// "update configuration"). Servers of other zones, and servers without a
// zone, are kept.
type ConfigRequest struct {
	Backend string        `json:"backend"`
	Servers []ServerInput `json:"servers"`
}

func (s *Server) postConfig(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var in ConfigRequest
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	var ds []Detail
	if !desired.ValidName(in.Backend) {
		ds = append(ds, Detail{Field: "backend", Message: fmt.Sprintf("%q is not a backend name", in.Backend)})
	}
	if in.Servers == nil {
		ds = append(ds, Detail{Field: "servers", Message: "required: the backend's servers for the zone ([] removes them all)"})
	}
	specs := make([]serverSpec, 0, len(in.Servers))
	names := map[string]int{}
	for i, si := range in.Servers {
		prefix := fmt.Sprintf("servers[%d].", i)
		sp, sds := si.spec(prefix)
		ds = append(ds, sds...)
		if first, dup := names[si.Name]; dup && si.Name != "" {
			ds = append(ds, Detail{Field: prefix + "name", Message: fmt.Sprintf("%q is already servers[%d]", si.Name, first)})
		}
		names[si.Name] = i
		specs = append(specs, sp)
	}
	if len(ds) > 0 {
		return fieldErrs(ds)
	}
	zone, err := s.zoneOf(r)
	if err != nil {
		return err
	}
	return s.mutate(w, r, mutation{
		zone:    zone,
		subject: fmt.Sprintf("api: set the %d static server(s) of %s (%s)", len(specs), in.Backend, zone),
		body:    body,
		edit: func(t *repo.Tree) error {
			if err := requireZone(t, zone); err != nil {
				return err
			}
			if err := requireBackend(t, in.Backend); err != nil {
				return err
			}
			for _, sp := range specs {
				if p, ok := nodeFile(t, sp.name); ok {
					return apiErr(http.StatusConflict, CodeDuplicate, "%q is already the name of a node (%s); server names are unique within a backend", sp.name, p)
				}
			}
			return editYAML(t, backendFile(in.Backend), func(doc *yaml.Node) error {
				seq, err := serversSeq(doc)
				if err != nil {
					return fmt.Errorf("%s: %w", backendFile(in.Backend), err)
				}
				kept := seq.Content[:0:0]
				for _, e := range seq.Content {
					z, n := serverField(e, "zone"), serverField(e, "name")
					if z == zone {
						continue
					}
					if _, clash := names[n]; clash {
						return apiErr(http.StatusConflict, CodeDuplicate, "backend %s already has a server %q for %s; server names are unique within a backend", in.Backend, n, zoneLabel(z))
					}
					kept = append(kept, e)
				}
				for _, sp := range specs {
					kept = append(kept, sp.node(zone))
				}
				seq.Content = kept
				if len(kept) == 0 {
					mapDelete(doc, "servers")
				}
				return nil
			})
		},
	})
}

func zoneLabel(z string) string {
	if z == "" {
		return "every zone"
	}
	return "zone " + z
}

// ReloadRequest is the optional body of POST /config/reload.
type ReloadRequest struct {
	// Reason is recorded in the commit message (one line, at most 200 characters).
	Reason string `json:"reason,omitempty"`
}

func (s *Server) postReload(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var in ReloadRequest
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := decodeJSON(body, &in); err != nil {
			return err
		}
	}
	if len(in.Reason) > 200 || strings.IndexFunc(in.Reason, unicode.IsControl) >= 0 {
		return fieldErr("reason", "one line of at most 200 characters")
	}
	zone, err := s.zoneOf(r)
	if err != nil {
		return err
	}
	out := map[string]any{}
	m := mutation{
		zone:    zone,
		subject: fmt.Sprintf("api: reload zone %s", zone),
		body:    body,
		extra:   out,
		edit: func(t *repo.Tree) error {
			if err := requireZone(t, zone); err != nil {
				return err
			}
			return editYAML(t, zoneFile(zone), func(doc *yaml.Node) error {
				gen := 0
				if v := mapGet(doc, "reloadGeneration"); v != nil {
					n, err := strconv.Atoi(v.Value)
					if err != nil || v.Kind != yaml.ScalarNode {
						return apiErr(http.StatusConflict, CodeInvalidState, "%s: reloadGeneration %q is not a number", zoneFile(zone), v.Value)
					}
					gen = n
				}
				mapSet(doc, "reloadGeneration", intNode(gen+1))
				out["reload_generation"] = gen + 1
				return nil
			})
		},
	}
	if in.Reason != "" {
		m.commitBody = "Reason: " + in.Reason
	}
	return s.mutate(w, r, m)
}
