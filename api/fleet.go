package api

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"
	"gopkg.in/yaml.v3"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/gittree"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

// headState is the branch head, loaded.
type headState struct {
	rev   *gittree.Revision
	fsys  fs.FS
	fleet *desired.Fleet // nil only when fleet.yaml is unreadable
	// invalid lists the head's validation errors: a commit pushed around
	// the API can make the branch invalid; reads still work, agents keep
	// their last good revision.
	invalid desired.Errors
}

// headCache keeps the last loaded head, so reads at an unchanged head
// skip loading and validating the fleet again.
type headCache struct {
	mu   sync.Mutex
	last *headState
}

// head fetches the branch and returns its head, loaded.
func (s *Server) head(ctx context.Context) (*headState, error) {
	snap, err := s.repo.Head(ctx)
	if err != nil {
		return nil, &APIError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "cannot read the fleet's branch", Err: err}
	}
	s.heads.mu.Lock()
	defer s.heads.mu.Unlock()
	if l := s.heads.last; l != nil && l.rev.Hash == snap.Revision.Hash {
		return l, nil
	}
	h := &headState{rev: snap.Revision, fsys: snap.FS}
	f, err := desired.Load(snap.FS)
	var errs desired.Errors
	switch {
	case errors.As(err, &errs):
		h.invalid = errs
	case err != nil:
		return nil, fmt.Errorf("loading the fleet at %s: %w", snap.Revision.Short(), err)
	}
	if f == nil {
		return nil, &APIError{Status: http.StatusServiceUnavailable, Code: CodeInvalidState, Message: fmt.Sprintf("the branch head %s has no readable fleet.yaml", snap.Revision.Short()), Err: err}
	}
	h.fleet = f
	s.heads.last = h
	return h, nil
}

// headWithZone is head, checking that zone ("" = none asked) exists there.
func (s *Server) headWithZone(ctx context.Context, zone string) (*headState, error) {
	h, err := s.head(ctx)
	if err != nil {
		return nil, err
	}
	if zone != "" && h.fleet.Zone(zone) == nil {
		return nil, unknownZone(zone, h.zoneNames())
	}
	return h, nil
}

func (h *headState) zoneNames() []string {
	var out []string
	for _, z := range h.fleet.Zones {
		out = append(out, z.Name)
	}
	return out
}

// explicitZone is the zone a request names: the {zone} path segment, else
// ?zone=; "" when none. A malformed name is a 400.
func explicitZone(r *http.Request) (string, error) {
	z, field := chi.URLParam(r, "zone"), "zone (path)"
	if z == "" {
		z, field = r.URL.Query().Get("zone"), "zone (query)"
	}
	if z != "" && !desired.ValidName(z) {
		return "", fieldErr(field, "%q is not a zone name", z)
	}
	return z, nil
}

// requestedZone is explicitZone, else the default zone.
func (s *Server) requestedZone(r *http.Request) (string, error) {
	z, err := explicitZone(r)
	if z == "" && err == nil {
		z = s.cfg.DefaultZone
	}
	return z, err
}

// zoneOf is requestedZone for routes that need a zone: no zone is a 400
// listing the zones of the branch head.
func (s *Server) zoneOf(r *http.Request) (string, error) {
	z, err := s.requestedZone(r)
	if err != nil || z != "" {
		return z, err
	}
	zones := "(the branch head cannot be read)"
	if h, err := s.head(r.Context()); err == nil {
		zones = strings.Join(h.zoneNames(), ", ")
	}
	return "", apiErr(http.StatusBadRequest, CodeZoneRequired, "this fleet serves several zones and the server has no default zone: use /api/v1/zones/{zone}%s or ?zone=; zones: %s",
		strings.TrimPrefix(r.URL.Path, "/api/v1"), zones)
}

// unknownZone is the 404 for a zone the fleet does not have.
func unknownZone(zone string, zones []string) *APIError {
	return apiErr(http.StatusNotFound, CodeNotFound, "zone %q does not exist; zones: %s", zone, strings.Join(zones, ", "))
}

// ZonesResponse is the answer of GET /zones.
type ZonesResponse struct {
	Revision    string     `json:"revision"`
	DefaultZone string     `json:"default_zone,omitempty"`
	Zones       []ZoneInfo `json:"zones"`
}

// ZoneInfo summarises one zone.
type ZoneInfo struct {
	Name             string   `json:"name"`
	Hosts            []string `json:"hosts"`
	Agents           []string `json:"agents"`
	ReloadGeneration int      `json:"reload_generation"`
}

func (s *Server) getZones(w http.ResponseWriter, r *http.Request) error {
	h, err := s.head(r.Context())
	if err != nil {
		return err
	}
	out := ZonesResponse{Revision: h.rev.Hash, DefaultZone: s.cfg.DefaultZone, Zones: []ZoneInfo{}}
	for _, z := range h.fleet.Zones {
		zi := ZoneInfo{Name: z.Name, Hosts: []string{}, Agents: s.agents.Hosts(z.Name), ReloadGeneration: z.ReloadGeneration}
		for _, host := range z.Hosts {
			zi.Hosts = append(zi.Hosts, host.Name)
		}
		out.Zones = append(out.Zones, zi)
	}
	setETag(w, h.rev.Hash)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// ConfigResponse is the answer of GET /config: the desired state at the
// branch head, each object as written in its file.
type ConfigResponse struct {
	Revision string `json:"revision"`
	// Zone is set when the request named a zone: zones and nodes are then
	// those of that zone only.
	Zone     string           `json:"zone,omitempty"`
	Fleet    map[string]any   `json:"fleet"`
	Zones    []map[string]any `json:"zones"`
	Backends []map[string]any `json:"backends"`
	Nodes    []map[string]any `json:"nodes"`
	// Invalid lists the head's validation errors, if a commit made outside
	// the API left it invalid.
	Invalid []Detail `json:"invalid,omitempty"`
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) error {
	zone, err := s.requestedZone(r)
	if err != nil {
		return err
	}
	h, err := s.headWithZone(r.Context(), zone)
	if err != nil {
		return err
	}
	f := h.fleet
	out := ConfigResponse{Revision: h.rev.Hash, Zone: zone, Zones: []map[string]any{}, Backends: []map[string]any{}, Nodes: []map[string]any{}}
	read := func(file string) (map[string]any, error) {
		b, err := fs.ReadFile(h.fsys, file)
		if err != nil {
			return nil, fmt.Errorf("reading %s at %s: %w", file, h.rev.Short(), err)
		}
		m, err := decodeRaw(b)
		if err != nil {
			if len(h.invalid) > 0 {
				// A file the loader refused (e.g. an alias bomb): say why.
				e := validationErr(h.invalid)
				e.Status, e.Message = http.StatusConflict, fmt.Sprintf("the branch head %s is invalid (changed outside the API?) and %s cannot be shown: %v", h.rev.Short(), file, err)
				return nil, e
			}
			return nil, fmt.Errorf("decoding %s at %s: %w", file, h.rev.Short(), err)
		}
		return m, nil
	}
	if out.Fleet, err = read(desired.FleetFile); err != nil {
		return err
	}
	for _, z := range f.Zones {
		if zone == "" || z.Name == zone {
			m, err := read(z.File)
			if err != nil {
				return err
			}
			out.Zones = append(out.Zones, m)
		}
	}
	for _, b := range f.Backends {
		m, err := read(b.File)
		if err != nil {
			return err
		}
		out.Backends = append(out.Backends, m)
	}
	for _, n := range f.Nodes {
		if zone == "" || n.Zone == zone {
			m, err := read(n.File)
			if err != nil {
				return err
			}
			out.Nodes = append(out.Nodes, m)
		}
	}
	for _, e := range h.invalid {
		out.Invalid = append(out.Invalid, Detail{File: e.File, Line: e.Line, Col: e.Col, Field: e.Field, Message: e.Msg})
	}
	setETag(w, h.rev.Hash)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// setETag sets the revision as a strong entity tag; clients send it back
// in If-Match.
func setETag(w http.ResponseWriter, rev string) { w.Header().Set("ETag", `"`+rev+`"`) }

// zoneFile is the path of a zone's file.
func zoneFile(zone string) string { return path.Join(desired.ZonesDir, zone, desired.ZoneFile) }

// backendFile is the path of a backend's file.
func backendFile(backend string) string { return path.Join(desired.BackendsDir, backend+".yaml") }

// nodeFile finds the file of the node called node in t, in either node
// layout (fleet.yaml nodeLayout), and reports whether it exists.
func nodeFile(t *repo.Tree, node string) (string, bool) {
	for _, p := range desired.NodeFiles(node) {
		if t.Exists(p) {
			return p, true
		}
	}
	return "", false
}

// maxRawKeys bounds the keys of one mapping in a file shown raw: a valid
// file has a few dozen at most, and yaml.v3 checks keys pairwise.
const maxRawKeys = 1000

// decodeRaw decodes a desired-state file for the raw view, refusing what
// the loader refuses to spend time on (see desired.MaxFileBytes) and
// mappings with more than maxRawKeys keys. yaml.v3 itself refuses
// excessive aliasing.
func decodeRaw(b []byte) (map[string]any, error) {
	if len(b) > desired.MaxFileBytes {
		return nil, fmt.Errorf("file is %d bytes, more than %d", len(b), desired.MaxFileBytes)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, err
	}
	var wide func(n *yaml.Node, depth int) bool
	wide = func(n *yaml.Node, depth int) bool {
		if depth > desired.MaxYAMLDepth || (n.Kind == yaml.MappingNode && len(n.Content) > 2*maxRawKeys) {
			return true
		}
		for _, c := range n.Content {
			if wide(c, depth+1) {
				return true
			}
		}
		return false
	}
	if wide(&root, 0) {
		return nil, fmt.Errorf("a mapping with more than %d keys or nested deeper than %d levels", maxRawKeys, desired.MaxYAMLDepth)
	}
	var m map[string]any
	if err := root.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}
