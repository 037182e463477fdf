package api

import (
	"fmt"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"gopkg.in/yaml.v3"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/render"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

// ServerInput is a static server in a request body.
type ServerInput struct {
	Name string `json:"name"`
	// Address is an IP address or DNS name, optionally with ":PORT"
	// ("10.1.0.50:80", "[2001:db8::1]:80").
	Address string `json:"address"`
	// Port is required unless Address carries it.
	Port    *int   `json:"port,omitempty"`
	Weight  *int   `json:"weight,omitempty"`
	Maxconn *int   `json:"maxconn,omitempty"`
	State   string `json:"state,omitempty"`
	Backup  bool   `json:"backup,omitempty"`
}

// serverSpec is a checked ServerInput.
type serverSpec struct {
	name, host      string
	port            int
	weight, maxconn *int
	state           string
	backup          bool
}

// spec checks the input field by field; every problem is reported, each
// naming its field (prefixed with prefix, e.g. "servers[2].").
func (in ServerInput) spec(prefix string) (serverSpec, []Detail) {
	var ds []Detail
	bad := func(field, format string, args ...any) {
		ds = append(ds, Detail{Field: prefix + field, Message: fmt.Sprintf(format, args...)})
	}
	sp := serverSpec{name: in.Name, weight: in.Weight, maxconn: in.Maxconn, state: in.State, backup: in.Backup}
	if !desired.ValidName(in.Name) {
		bad("name", "%q is not a valid server name: 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit", in.Name)
	}
	host, portStr := in.Address, ""
	if h, p, err := net.SplitHostPort(in.Address); err == nil {
		host, portStr = h, p
	} else if strings.Count(in.Address, ":") == 1 || strings.HasPrefix(in.Address, "[") {
		bad("address", "%q: want an IP address or DNS name, optionally with :PORT (%v)", in.Address, err)
		host = ""
	}
	switch {
	case in.Address == "":
		bad("address", "required: an IP address or DNS name, optionally with :PORT")
	case host != "" && !desired.ValidHost(host):
		bad("address", "%q is not an IP address (in canonical form) or DNS name", host)
	}
	if portStr != "" {
		p, err := strconv.Atoi(portStr)
		switch {
		case err != nil:
			bad("address", "port %q is not a number", portStr)
		case !desired.ValidPort(p):
			bad("address", "port %d out of range 1..65535", p)
		case in.Port != nil && *in.Port != p:
			bad("port", "%d contradicts the port %d in address", *in.Port, p)
		}
		sp.port = p
	} else if in.Port == nil && in.Address != "" && host != "" {
		bad("port", "required: give \"address\": \"IP:PORT\" or a port field")
	}
	if in.Port != nil && portStr == "" {
		if !desired.ValidPort(*in.Port) {
			bad("port", "%d out of range 1..65535", *in.Port)
		}
		sp.port = *in.Port
	}
	sp.host = host
	if in.Weight != nil && (*in.Weight < 0 || *in.Weight > 256) {
		bad("weight", "%d out of range 0..256", *in.Weight)
	}
	if in.Maxconn != nil && *in.Maxconn < 0 {
		bad("maxconn", "%d is negative", *in.Maxconn)
	}
	switch in.State {
	case "", "ready", "drain", "maint":
	default:
		bad("state", "%q: want ready, drain or maint", in.State)
	}
	return sp, ds
}

// node is the server as written into backends/<backend>.yaml.
func (sp serverSpec) node(zone string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	add := func(k string, v *yaml.Node) { m.Content = append(m.Content, strNode(k), v) }
	add("name", strNode(sp.name))
	add("address", strNode(sp.host))
	add("port", intNode(sp.port))
	add("zone", strNode(zone))
	if sp.weight != nil {
		add("weight", intNode(*sp.weight))
	}
	if sp.maxconn != nil {
		add("maxconn", intNode(*sp.maxconn))
	}
	if sp.state != "" {
		add("state", strNode(sp.state))
	}
	if sp.backup {
		add("backup", boolNode(true))
	}
	return m
}

// ServerView is a server as the zone's hosts run it.
type ServerView struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Port    int    `json:"port"`
	Weight  int    `json:"weight"`
	Maxconn int    `json:"maxconn,omitempty"`
	State   string `json:"state"`
	Backup  bool   `json:"backup,omitempty"`
	Check   bool   `json:"check"`
	// Source is node (a DDC node file), static (the backend's servers
	// list) or failover (a backup generated for a failover zone's VIP).
	Source string `json:"source"`
	// Zone is the zone a static server is written for ("" = every zone).
	Zone string `json:"zone,omitempty"`
}

// Server sources.
const (
	SourceNode     = "node"
	SourceStatic   = "static"
	SourceFailover = "failover"
)

// ServersResponse is the answer of GET .../backends/{backend}/servers.
type ServersResponse struct {
	Revision string       `json:"revision"`
	Zone     string       `json:"zone"`
	Backend  string       `json:"backend"`
	Host     string       `json:"host"`
	Dynamic  bool         `json:"dynamic"`
	Servers  []ServerView `json:"servers"`
}

func (s *Server) getServers(w http.ResponseWriter, r *http.Request) error {
	zone, err := s.zoneOf(r)
	if err != nil {
		return err
	}
	backend := chi.URLParam(r, "backend")
	h, err := s.headWithZone(r.Context(), zone)
	if err != nil {
		return err
	}
	f := h.fleet
	z := f.Zone(zone)
	b := f.Backend(backend)
	if b == nil {
		return unknownBackend(backend, f)
	}
	if len(h.invalid) > 0 {
		e := validationErr(h.invalid)
		e.Status, e.Message = http.StatusConflict, fmt.Sprintf("the branch head %s is invalid (changed outside the API?); servers cannot be rendered until it is fixed", h.rev.Short())
		return e
	}
	out := ServersResponse{Revision: h.rev.Hash, Zone: zone, Backend: backend, Dynamic: desired.DynamicBalance(b.Balance), Servers: []ServerView{}}
	if len(z.Hosts) > 0 {
		// Every host of a zone runs the same servers: render the first.
		out.Host = z.Hosts[0].Name
		rh, err := render.Render(f, out.Host, render.Options{})
		if err != nil {
			return fmt.Errorf("rendering %s: %w", out.Host, err)
		}
		for _, rb := range rh.Backends {
			if rb.Name != backend {
				continue
			}
			for _, sv := range rb.Servers {
				v := ServerView{Name: sv.Name, Address: sv.Address, Port: sv.Port, Weight: sv.Weight, Maxconn: sv.Maxconn, State: sv.State, Backup: sv.Backup, Check: sv.Check, Source: SourceFailover}
				if st := staticServer(b, sv.Name, zone); st != nil {
					v.Source, v.Zone = SourceStatic, st.Zone
				} else if f.Node(sv.Name) != nil {
					v.Source = SourceNode
				}
				out.Servers = append(out.Servers, v)
			}
		}
	}
	setETag(w, h.rev.Hash)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// staticServer returns b's static server name as rendered in zone, or nil.
func staticServer(b *desired.Backend, name, zone string) *desired.Server {
	for _, st := range b.Servers {
		if st.Name == name && (st.Zone == "" || st.Zone == zone) {
			return st
		}
	}
	return nil
}

func unknownBackend(backend string, f *desired.Fleet) *APIError {
	var names []string
	for _, b := range f.Backends {
		names = append(names, b.Name)
	}
	return apiErr(http.StatusNotFound, CodeNotFound, "backend %q does not exist; backends: %s", backend, strings.Join(names, ", "))
}

// requireZone and requireBackend check, on the tree being edited, that
// the objects a mutation names exist.
func requireZone(t *repo.Tree, zone string) error {
	if t.Exists(zoneFile(zone)) {
		return nil
	}
	files, _ := t.Glob(path.Join(desired.ZonesDir, "*", desired.ZoneFile))
	var zones []string
	for _, f := range files {
		zones = append(zones, path.Base(path.Dir(f)))
	}
	return unknownZone(zone, zones)
}

func requireBackend(t *repo.Tree, backend string) error {
	if desired.ValidName(backend) && t.Exists(backendFile(backend)) {
		return nil
	}
	files, _ := t.Glob(path.Join(desired.BackendsDir, "*.yaml"))
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(path.Base(f), ".yaml"))
	}
	return apiErr(http.StatusNotFound, CodeNotFound, "backend %q does not exist; backends: %s", backend, strings.Join(names, ", "))
}

func (s *Server) postServer(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var in ServerInput
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	sp, ds := in.spec("")
	if len(ds) > 0 {
		return fieldErrs(ds)
	}
	zone, err := s.zoneOf(r)
	if err != nil {
		return err
	}
	backend := chi.URLParam(r, "backend")
	return s.mutate(w, r, mutation{
		zone:    zone,
		subject: fmt.Sprintf("api: add server %s to %s (%s)", sp.name, backend, zone),
		body:    body,
		extra:   map[string]any{"server": sp.fields(zone)},
		edit: func(t *repo.Tree) error {
			if err := requireZone(t, zone); err != nil {
				return err
			}
			if err := requireBackend(t, backend); err != nil {
				return err
			}
			if p, ok := nodeFile(t, sp.name); ok {
				return apiErr(http.StatusConflict, CodeDuplicate, "%q is already the name of a node (%s); server names are unique within a backend", sp.name, p)
			}
			return editYAML(t, backendFile(backend), func(doc *yaml.Node) error {
				seq, err := serversSeq(doc)
				if err != nil {
					return fmt.Errorf("%s: %w", backendFile(backend), err)
				}
				for _, e := range seq.Content {
					if serverField(e, "name") == sp.name {
						return apiErr(http.StatusConflict, CodeDuplicate, "backend %s already has a server %q (zone %q)", backend, sp.name, serverField(e, "zone"))
					}
				}
				seq.Content = append(seq.Content, sp.node(zone))
				return nil
			})
		},
	})
}

// fields are the server's settings as written, for the response.
func (sp serverSpec) fields(zone string) map[string]any {
	m := map[string]any{"name": sp.name, "address": sp.host, "port": sp.port, "zone": zone, "source": SourceStatic}
	if sp.weight != nil {
		m["weight"] = *sp.weight
	}
	if sp.maxconn != nil {
		m["maxconn"] = *sp.maxconn
	}
	if sp.state != "" {
		m["state"] = sp.state
	}
	if sp.backup {
		m["backup"] = true
	}
	return m
}

func (s *Server) deleteServer(w http.ResponseWriter, r *http.Request) error {
	zone, err := s.zoneOf(r)
	if err != nil {
		return err
	}
	backend, name := chi.URLParam(r, "backend"), chi.URLParam(r, "name")
	if !desired.ValidName(name) {
		return fieldErr("name (path)", "%q is not a valid server name", name)
	}
	// Filled by the last run of the edit (it reruns when a push races).
	out := map[string]any{}
	return s.mutate(w, r, mutation{
		zone:    zone,
		subject: fmt.Sprintf("api: remove server %s from %s (%s)", name, backend, zone),
		extra:   out,
		edit: func(t *repo.Tree) error {
			clear(out)
			if err := requireZone(t, zone); err != nil {
				return err
			}
			if err := requireBackend(t, backend); err != nil {
				return err
			}
			removed := false
			err := editYAML(t, backendFile(backend), func(doc *yaml.Node) error {
				seq := mapGet(doc, "servers")
				if seq == nil || seq.Kind != yaml.SequenceNode {
					return errUnchanged
				}
				for i, e := range seq.Content {
					z := serverField(e, "zone")
					if serverField(e, "name") != name || (z != "" && z != zone) {
						continue
					}
					seq.Content = append(seq.Content[:i], seq.Content[i+1:]...)
					if len(seq.Content) == 0 {
						mapDelete(doc, "servers")
					}
					removed = true
					out["removed"] = SourceStatic
					out["file"] = backendFile(backend)
					if z == "" {
						out["note"] = "the server had no zone: it is removed from every zone"
					}
					return nil
				}
				return errUnchanged
			})
			if err != nil || removed {
				return err
			}
			return removeNode(t, backend, name, zone, out)
		},
	})
}

// removeNode deletes the node file of a node the backend serves in zone.
func removeNode(t *repo.Tree, backend, name, zone string, out map[string]any) error {
	notFound := apiErr(http.StatusNotFound, CodeNotFound, "backend %s has no static server or node %q in zone %s (failover backups are generated from the zone's failover list and cannot be removed here)", backend, name, zone)
	file, ok := nodeFile(t, name)
	if !ok {
		return notFound
	}
	b, err := t.ReadFile(file)
	if err != nil {
		return notFound
	}
	var n struct {
		Zone string `yaml:"zone"`
	}
	if err := yaml.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("reading %s: %w", file, err)
	}
	bb, err := t.ReadFile(backendFile(backend))
	if err != nil {
		return err
	}
	var be struct {
		Nodes any `yaml:"nodes"`
	}
	if err := yaml.Unmarshal(bb, &be); err != nil {
		return fmt.Errorf("reading %s: %w", backendFile(backend), err)
	}
	if n.Zone != zone || be.Nodes == nil {
		return notFound
	}
	if err := t.Remove(file); err != nil {
		return err
	}
	out["removed"] = SourceNode
	out["file"] = file
	out["note"] = fmt.Sprintf("%s is a DDC node: its file %s is removed, so it leaves every backend that selects it", name, file)
	return nil
}
