package api

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"
	"gopkg.in/yaml.v3"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

// ContainerInput is the body of POST /containers. Only name, image and
// zone are required (the original design's body); host and address are
// chosen by desired.PlaceContainer when omitted, port defaults to 80.
type ContainerInput struct {
	Name       string            `json:"name"`
	Image      string            `json:"image"`
	Zone       string            `json:"zone"`
	Host       string            `json:"host,omitempty"`
	Address    string            `json:"address,omitempty"`
	Port       *int              `json:"port,omitempty"`
	PullPolicy string            `json:"pullPolicy,omitempty"`
	Restart    string            `json:"restart,omitempty"`
	Command    []string          `json:"command,omitempty"`
	Args       []string          `json:"args,omitempty"`
	Env        []desiredEnvInput `json:"env,omitempty"`
	Limits     *LimitsInput      `json:"limits,omitempty"`
	Health     *HealthInput      `json:"health,omitempty"`
	Serve      *ServeInput       `json:"serve,omitempty"`
}

type desiredEnvInput struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// LimitsInput are a container's resource limits.
type LimitsInput struct {
	MilliCPU  int `json:"milliCPU,omitempty"`
	MemoryMiB int `json:"memoryMiB,omitempty"`
}

// HealthInput is a container's HTTP health check.
type HealthInput struct {
	Path         string `json:"path,omitempty"`
	Port         int    `json:"port,omitempty"`
	ExpectStatus int    `json:"expectStatus,omitempty"`
	Interval     string `json:"interval,omitempty"`
	Timeout      string `json:"timeout,omitempty"`
	Retries      int    `json:"retries,omitempty"`
}

// ServeInput makes the container a server of a backend in its zone.
type ServeInput struct {
	Backend string `json:"backend"`
	Port    int    `json:"port,omitempty"`
	Weight  *int   `json:"weight,omitempty"`
}

// defaultContainerPort is the port of a container posted without one
// (the original body's nginx listens on 80).
const defaultContainerPort = 80

func containerFile(name string) string { return path.Join(desired.ContainersDir, name+".yaml") }

// node is the container file; the values are checked by the desired
// state's validation when the change is committed (422 with file:line:col).
func (in ContainerInput) node(host, address string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	add := func(k string, v *yaml.Node) { m.Content = append(m.Content, strNode(k), v) }
	strs := func(list []string) *yaml.Node {
		s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, v := range list {
			s.Content = append(s.Content, strNode(v))
		}
		return s
	}
	sub := func() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }
	set := func(n *yaml.Node, k string, v *yaml.Node) { n.Content = append(n.Content, strNode(k), v) }
	add("kind", strNode(desired.KindContainer))
	add("name", strNode(in.Name))
	add("image", strNode(in.Image))
	if in.PullPolicy != "" {
		add("pullPolicy", strNode(in.PullPolicy))
	}
	add("zone", strNode(in.Zone))
	add("host", strNode(host))
	add("address", strNode(address))
	if len(in.Command) > 0 {
		add("command", strs(in.Command))
	}
	if len(in.Args) > 0 {
		add("args", strs(in.Args))
	}
	if len(in.Env) > 0 {
		s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range in.Env {
			n := sub()
			set(n, "name", strNode(e.Name))
			set(n, "value", strNode(e.Value))
			s.Content = append(s.Content, n)
		}
		add("env", s)
	}
	port := defaultContainerPort
	if in.Port != nil {
		port = *in.Port
	}
	add("port", intNode(port))
	if l := in.Limits; l != nil && (l.MilliCPU != 0 || l.MemoryMiB != 0) {
		n := sub()
		if l.MilliCPU != 0 {
			set(n, "milliCPU", intNode(l.MilliCPU))
		}
		if l.MemoryMiB != 0 {
			set(n, "memoryMiB", intNode(l.MemoryMiB))
		}
		add("limits", n)
	}
	if in.Restart != "" {
		add("restart", strNode(in.Restart))
	}
	if h := in.Health; h != nil {
		n := sub()
		if h.Path != "" {
			set(n, "path", strNode(h.Path))
		}
		if h.Port != 0 {
			set(n, "port", intNode(h.Port))
		}
		if h.ExpectStatus != 0 {
			set(n, "expectStatus", intNode(h.ExpectStatus))
		}
		if h.Interval != "" {
			set(n, "interval", strNode(h.Interval))
		}
		if h.Timeout != "" {
			set(n, "timeout", strNode(h.Timeout))
		}
		if h.Retries != 0 {
			set(n, "retries", intNode(h.Retries))
		}
		add("health", n)
	}
	if sv := in.Serve; sv != nil {
		n := sub()
		set(n, "backend", strNode(sv.Backend))
		if sv.Port != 0 {
			set(n, "port", intNode(sv.Port))
		}
		if sv.Weight != nil {
			set(n, "weight", intNode(*sv.Weight))
		}
		add("serve", n)
	}
	return m
}

// ContainerView is a declared container joined with its host's report.
type ContainerView struct {
	Name    string         `json:"name"`
	Image   string         `json:"image"`
	Zone    string         `json:"zone"`
	Host    string         `json:"host"`
	Address string         `json:"address"`
	Port    int            `json:"port"`
	Serve   *desired.Serve `json:"serve,omitempty"`
	// State is the container host agent's (running, exited, missing,
	// image-missing, error, ...), or unknown when it is not registered or
	// unreachable, or pending when it has not reconciled this container yet.
	State     string    `json:"state"`
	Health    string    `json:"health,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	Restarts  int       `json:"restarts"`
	Error     string    `json:"error,omitempty"`
}

// ContainersResponse is the answer of GET /containers.
type ContainersResponse struct {
	Revision   string          `json:"revision"`
	Containers []ContainerView `json:"containers"`
}

// Container states the API adds to the agents'.
const (
	ContainerStatePending = "pending" // the host agent has not reported it yet
	ContainerStateUnknown = "unknown" // no agent registered for the host, or unreachable
)

func (s *Server) containerViews(ctx context.Context, f *desired.Fleet, only string) []ContainerView {
	// Only the container hosts are asked: an HAProxy agent busy with a
	// long reconcile does not hold up this answer.
	hosts := map[string]bool{}
	for _, c := range f.Containers {
		if only == "" || c.Name == only {
			hosts[c.Host] = true
		}
	}
	statuses := s.agents.StatusesOf(ctx, hosts)
	out := []ContainerView{}
	for _, c := range f.Containers {
		if only != "" && c.Name != only {
			continue
		}
		v := ContainerView{Name: c.Name, Image: c.Image, Zone: c.Zone, Host: c.Host, Address: c.Address, Port: c.Port, Serve: c.Serve,
			State: ContainerStateUnknown, Error: fmt.Sprintf("no agent registered for container host %s", c.Host)}
		for _, st := range statuses {
			if st.Host != c.Host {
				continue
			}
			if st.Err != nil || st.Status == nil {
				v.Error = fmt.Sprintf("container host %s: %v", c.Host, st.Err)
				break
			}
			v.State, v.Error = ContainerStatePending, ""
			for _, cs := range st.Status.Containers {
				if cs.Name == c.Name {
					v.State, v.Health, v.StartedAt, v.Restarts, v.Error = cs.State, cs.Health, cs.StartedAt, cs.Restarts, cs.Error
				}
			}
		}
		out = append(out, v)
	}
	return out
}

func (s *Server) getContainers(w http.ResponseWriter, r *http.Request) error {
	h, err := s.head(r.Context())
	if err != nil {
		return err
	}
	setETag(w, h.rev.Hash)
	writeJSON(w, http.StatusOK, ContainersResponse{Revision: h.rev.Hash, Containers: s.containerViews(r.Context(), h.fleet, "")})
	return nil
}

func (s *Server) getContainer(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "name")
	h, err := s.head(r.Context())
	if err != nil {
		return err
	}
	if h.fleet.Container(name) == nil {
		return apiErr(http.StatusNotFound, CodeNotFound, "container %q is not declared (containers/%s.yaml)", name, name)
	}
	setETag(w, h.rev.Hash)
	writeJSON(w, http.StatusOK, s.containerViews(r.Context(), h.fleet, name)[0])
	return nil
}

func (s *Server) postContainer(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var in ContainerInput
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	if !desired.ValidName(in.Name) {
		// The name is a file name: refuse it before it reaches the tree.
		return fieldErr("name", "%q is not a valid container name: 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit", in.Name)
	}
	out := map[string]any{}
	return s.mutate(w, r, mutation{
		zone:    in.Zone,
		subject: fmt.Sprintf("api: add container %s (%s) in %s", in.Name, in.Image, in.Zone),
		body:    body,
		extra:   out,
		edit: func(t *repo.Tree) error {
			clear(out)
			file := containerFile(in.Name)
			if t.Exists(file) {
				return apiErr(http.StatusConflict, CodeDuplicate, "container %q already exists (%s); DELETE it first or choose another name", in.Name, file)
			}
			f, _ := desired.Decode(t.FS())
			if f == nil {
				return apiErr(http.StatusUnprocessableEntity, CodeInvalidState, "the branch head has no readable fleet.yaml")
			}
			host, addr, err := desired.PlaceContainer(f, in.Zone)
			if err != nil {
				return &APIError{Status: http.StatusUnprocessableEntity, Code: CodeInvalidField, Message: "zone: " + err.Error(),
					Details: []Detail{{Field: "zone", Message: err.Error()}}}
			}
			if in.Host != "" {
				host = in.Host
			}
			if in.Address != "" {
				addr = in.Address
			}
			if in.Serve == nil {
				// The original design's containers are backends: serve
				// the zone's default HTTP backend unless told otherwise.
				if be := defaultHTTPBackend(f.Zone(in.Zone)); be != "" {
					in.Serve = &ServeInput{Backend: be}
				}
			}
			b, err := encodeYAML(in.node(host, addr))
			if err != nil {
				return err
			}
			c := map[string]any{"name": in.Name, "image": in.Image, "zone": in.Zone, "host": host, "address": addr, "file": file}
			if in.Serve != nil {
				c["serve"] = in.Serve.Backend
			}
			out["container"] = c
			return t.WriteFile(file, b)
		},
		afterApplied: func(ctx context.Context, rev string) (any, bool) { return s.containerServing(ctx, rev, in.Name) },
	})
}

func (s *Server) deleteContainer(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "name")
	if !desired.ValidName(name) {
		return fieldErr("name (path)", "%q is not a valid container name", name)
	}
	zone := ""
	if h, err := s.head(r.Context()); err == nil && h.fleet != nil {
		if c := h.fleet.Container(name); c != nil {
			zone = c.Zone
		}
	}
	out := map[string]any{}
	return s.mutate(w, r, mutation{
		zone:    zone,
		subject: fmt.Sprintf("api: remove container %s", name),
		extra:   out,
		edit: func(t *repo.Tree) error {
			clear(out)
			file := containerFile(name)
			if !t.Exists(file) {
				return apiErr(http.StatusNotFound, CodeNotFound, "container %q is not declared (%s)", name, file)
			}
			out["removed"], out["file"] = name, file
			return t.Remove(file)
		},
	})
}

// defaultHTTPBackend is the default backend of z's first HTTP frontend, or "".
func defaultHTTPBackend(z *desired.Zone) string {
	if z == nil {
		return ""
	}
	for _, fe := range z.Frontends {
		if (fe.Mode == "http" || fe.Mode == "") && fe.DefaultBackend != "" {
			return fe.DefaultBackend
		}
	}
	return ""
}

// containerServing reports whether the container declared at rev runs
// healthy on its host and every HAProxy host of its zone has applied rev
// without holding the container's server out of rotation (its first health
// check passed): the meaning of ?wait=applied for POST /containers.
func (s *Server) containerServing(ctx context.Context, rev, name string) (any, bool) {
	h, err := s.head(ctx)
	if err != nil || h.fleet == nil {
		return map[string]any{"state": ContainerStateUnknown}, false
	}
	c := h.fleet.Container(name)
	if c == nil {
		return map[string]any{"state": ContainerStateUnknown, "error": "not declared at the branch head"}, false
	}
	views := s.containerViews(ctx, h.fleet, name)
	v := views[0]
	ok := v.State == agentapi.ContainerRunning && (v.Health == "healthy" || v.Health == "none" || v.Health == "")
	z := h.fleet.Zone(c.Zone)
	serving := map[string]bool{}
	if c.Serve != nil && z != nil {
		for _, st := range s.agents.Statuses(ctx, c.Zone) {
			if !slices.ContainsFunc(z.Hosts, func(hh *desired.Host) bool { return hh.Name == st.Host }) || st.Status == nil {
				continue
			}
			applied := st.Status.AppliedRevision == rev
			if !applied && st.Status.AppliedRevision != "" {
				if anc, err := s.repo.IsAncestor(ctx, rev, st.Status.AppliedRevision); err == nil {
					applied = anc
				}
			}
			up := applied && !slices.ContainsFunc(st.Status.Pending, func(p string) bool { return containsWord(p, name) })
			serving[st.Host] = up
			ok = ok && up
		}
	}
	return map[string]any{"container": v, "haproxy_up": serving}, ok
}

// containsWord reports whether a pending entry ("backend/server: reason")
// names server.
func containsWord(entry, server string) bool {
	for i := 0; i+len(server) <= len(entry); i++ {
		if entry[i:i+len(server)] == server && (i == 0 || entry[i-1] == '/') && (i+len(server) == len(entry) || entry[i+len(server)] == ':' || entry[i+len(server)] == ' ') {
			return true
		}
	}
	return false
}
