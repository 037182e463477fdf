package bot

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ddc-gitops/ddc-gitops/bot/chain"
	"github.com/ddc-gitops/ddc-gitops/desired"
)

// schemaRef is the schema the yaml-language-server modeline of a node file
// at file points at: a fleet repository keeps the JSON Schemas (package
// schemas, `schemas.FS()`) in schemas/ at its root, as in the
// .vscode/settings.json mapping of schemas/README.md, so it is
// "../schemas/node.schema.json" from nodes/<name>.yaml and one more "../"
// from a shard directory (nodeLayout: sharded).
func schemaRef(file string) string {
	return strings.Repeat("../", strings.Count(file, "/")) + "schemas/node.schema.json"
}

// nodeFileHeader starts every node file the bot writes, at file.
func nodeFileHeader(file string) string {
	return "# yaml-language-server: $schema=" + schemaRef(file) + "\n" +
		"# Managed by the ddc-gitops bot from the DDC node registry. The chain's\n" +
		"# fields are rewritten by its next proposal; name, zone, weight, admitted\n" +
		"# and state are kept as they are on the main branch.\n"
}

// namePrefix and nameHexDigits make a new node's name: node-<first 12 hex
// digits of the pubKey>, lengthened when another key already has that name.
const (
	namePrefix    = "node-"
	nameHexDigits = 12
)

// Problem is one reason a chain record is refused.
type Problem struct {
	// Field is the record's field (pubKey, host, httpPort, ...).
	Field string `json:"field"`
	// Message says what is wrong; it quotes the offending value.
	Message string `json:"message"`
}

// CheckRecord validates a chain record with the rules of package desired
// before anything is built from it: the chain is untrusted, and every
// string here ends up in haproxy.cfg. It returns one problem per bad
// field, none for a usable record.
func CheckRecord(r chain.Record) []Problem {
	var out []Problem
	bad := func(field, format string, args ...any) {
		out = append(out, Problem{field, field + " " + fmt.Sprintf(format, args...)})
	}
	if !desired.ValidPubKey(r.PubKey) {
		bad("pubKey", "%q: want 0x and 64 lowercase hex digits", r.PubKey)
	}
	if !desired.ValidProviderID(r.ProviderID) {
		bad("providerId", "%q: want 0x and 64 lowercase hex digits", r.ProviderID)
	}
	if !desired.ValidClusterID(r.ClusterID) {
		bad("clusterId", "%q: want 0x and 40 lowercase hex digits", r.ClusterID)
	}
	if !desired.ValidHost(r.Host) {
		bad("host", "%q is neither an IP address nor a lowercase DNS name", r.Host)
	}
	if !desired.ValidHostname(r.Domain) {
		bad("domain", "%q is not a valid DNS name", r.Domain)
	}
	for _, p := range []struct {
		name string
		port uint16
	}{{"httpPort", r.HTTPPort}, {"grpcPort", r.GRPCPort}, {"p2pPort", r.P2PPort}} {
		if !desired.ValidPort(int(p.port)) {
			bad(p.name, "%d is out of range 1..65535", p.port)
		}
	}
	switch r.Mode {
	case "full", "storage", "cache", "dac":
	default:
		bad("mode", "%q is not one of full, storage, cache, dac", r.Mode)
	}
	return out
}

// indexedNode is a node file of a fleet tree.
type indexedNode struct {
	Path string
	Data []byte
	Node desired.Node
}

// nodeIndex finds a fleet's node files by pubKey and by name.
type nodeIndex struct {
	byKey  map[string]*indexedNode
	byName map[string]*indexedNode
	// layout is the fleet's nodeLayout: where a new node's file goes.
	layout string
}

// indexNodes decodes every node file of fsys, in either layout (without
// defaults, so the fields a person wrote are told apart from defaults).
func indexNodes(fsys fs.FS) (*nodeIndex, error) {
	layout, err := desired.NodeLayoutOf(fsys)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, pattern := range []string{desired.NodesDir + "/*.yaml", desired.NodesDir + "/*/*.yaml"} {
		m, err := fs.Glob(fsys, pattern)
		if err != nil {
			return nil, fmt.Errorf("listing node files: %w", err)
		}
		for _, f := range m {
			if desired.IsNodeFilePath(f) {
				files = append(files, f)
			}
		}
	}
	idx := &nodeIndex{byKey: make(map[string]*indexedNode, len(files)), byName: make(map[string]*indexedNode, len(files)), layout: layout}
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f, err)
		}
		in := &indexedNode{Path: f, Data: data}
		var errs desired.Errors
		if !desired.DecodeBytes(f, data, desired.KindNode, &in.Node, &desired.Source{}, &errs) {
			return nil, fmt.Errorf("decoding %s on the main branch: %w", f, errs.Err())
		}
		idx.byName[strings.TrimSuffix(path.Base(f), ".yaml")] = in
		if in.Node.PubKey != "" {
			idx.byKey[in.Node.PubKey] = in
		}
	}
	return idx, nil
}

// nodeName is the name of a new node file for pubKey: node-<first 12 hex
// digits>, or more digits while the shorter name belongs to another key
// (a provider chooses its pubKey freely, so a prefix can be forged).
func (idx *nodeIndex) nodeName(pubKey string) string {
	hex := strings.TrimPrefix(pubKey, "0x")
	maxDigits := min(len(hex), 64-len(namePrefix))
	for n := nameHexDigits; ; n += 4 {
		n = min(n, maxDigits)
		name := namePrefix + hex[:n]
		if other, taken := idx.byName[name]; !taken || other.Node.PubKey == pubKey || n == maxDigits {
			return name
		}
	}
}

// zoneChoice is the zone of a node file and why it was chosen.
type zoneChoice struct {
	Zone string
	Why  string
}

// chooseZone picks the zone of a new node from its cluster.
func (c *Config) chooseZone(cluster string) (zoneChoice, error) {
	if z, ok := c.ClusterZones[cluster]; ok {
		return zoneChoice{z, fmt.Sprintf("cluster `%s` is mapped to zone `%s` in the bot's configuration", cluster, z)}, nil
	}
	if c.DefaultZone != "" {
		return zoneChoice{c.DefaultZone, fmt.Sprintf("cluster `%s` is not in the bot's cluster-to-zone mapping: default zone `%s`", cluster, c.DefaultZone)}, nil
	}
	return zoneChoice{}, fmt.Errorf("cluster %s is not in the cluster-to-zone mapping and no default zone is configured", cluster)
}

// nodeFile is a node file the bot proposes.
type nodeFile struct {
	Path string
	Data []byte
	Node desired.Node
	Zone zoneChoice
	// Existing is the file on the base branch for the same pubKey, if any.
	Existing *indexedNode
	// Kept lists the fields taken from Existing rather than the chain.
	Kept []string
}

// buildNodeFile makes the node file for a valid record on top of the fleet
// indexed by idx: a new file for an unknown pubKey, or the existing file
// with the chain's fields replaced. zones lists the fleet's zones.
func (c *Config) buildNodeFile(idx *nodeIndex, zones map[string]bool, rec chain.Record) (*nodeFile, error) {
	n := desired.Node{
		Kind:       desired.KindNode,
		PubKey:     rec.PubKey,
		ProviderID: rec.ProviderID,
		ClusterID:  rec.ClusterID,
		Host:       rec.Host,
		Domain:     rec.Domain,
		SSL:        rec.SSL,
		HTTPPort:   int(rec.HTTPPort),
		GRPCPort:   int(rec.GRPCPort),
		P2PPort:    int(rec.P2PPort),
		Mode:       rec.Mode,
		Admitted:   true,
	}
	out := &nodeFile{}
	if ex := idx.byKey[rec.PubKey]; ex != nil {
		out.Existing = ex
		out.Path = ex.Path
		n.Name, n.Zone, n.Weight, n.Admitted, n.State = ex.Node.Name, ex.Node.Zone, ex.Node.Weight, ex.Node.Admitted, ex.Node.State
		out.Zone = zoneChoice{n.Zone, fmt.Sprintf("kept from `%s` on the main branch", ex.Path)}
		out.Kept = append(out.Kept, "name", "zone")
		if n.Weight != nil {
			out.Kept = append(out.Kept, "weight")
		}
		if !n.Admitted {
			out.Kept = append(out.Kept, "admitted: false")
		}
		if n.State != "" {
			out.Kept = append(out.Kept, "state")
		}
	} else {
		n.Name = idx.nodeName(rec.PubKey)
		out.Path = desired.NodeFile(idx.layout, n.Name)
		zc, err := c.chooseZone(rec.ClusterID)
		if err != nil {
			return nil, err
		}
		out.Zone, n.Zone = zc, zc.Zone
		if c.Weight > 0 {
			w := c.Weight
			n.Weight = &w
		}
	}
	if !zones[n.Zone] {
		return nil, fmt.Errorf("zone %q (%s) is not a zone of the fleet", n.Zone, out.Zone.Why)
	}
	data, err := renderNodeFile(out.Path, n)
	if err != nil {
		return nil, err
	}
	n.File = out.Path
	out.Node, out.Data = n, data
	return out, nil
}

// fileNode is the YAML layout of a node file, in the order of the model
// and the examples; weight and state are left out when unset.
type fileNode struct {
	Kind       string `yaml:"kind"`
	Name       string `yaml:"name"`
	PubKey     string `yaml:"pubKey"`
	ProviderID string `yaml:"providerId"`
	ClusterID  string `yaml:"clusterId"`
	Host       string `yaml:"host"`
	Domain     string `yaml:"domain"`
	SSL        bool   `yaml:"ssl"`
	HTTPPort   int    `yaml:"httpPort"`
	GRPCPort   int    `yaml:"grpcPort"`
	P2PPort    int    `yaml:"p2pPort"`
	Mode       string `yaml:"mode"`
	Zone       string `yaml:"zone"`
	Weight     *int   `yaml:"weight,omitempty"`
	Admitted   bool   `yaml:"admitted"`
	State      string `yaml:"state,omitempty"`
}

// renderNodeFile writes a node in the model's YAML format, for file.
// yaml.v3 quotes any value that would read back as another type.
func renderNodeFile(file string, n desired.Node) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(nodeFileHeader(file))
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	err := enc.Encode(fileNode{
		Kind: n.Kind, Name: n.Name, PubKey: n.PubKey, ProviderID: n.ProviderID, ClusterID: n.ClusterID,
		Host: n.Host, Domain: n.Domain, SSL: n.SSL, HTTPPort: n.HTTPPort, GRPCPort: n.GRPCPort, P2PPort: n.P2PPort,
		Mode: n.Mode, Zone: n.Zone, Weight: n.Weight, Admitted: n.Admitted, State: n.State,
	})
	if err == nil {
		err = enc.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("encoding node file %s: %w", n.Name, err)
	}
	return b.Bytes(), nil
}

// zoneSet lists the zones of a fleet tree (zones/<zone>/zone.yaml).
func zoneSet(fsys fs.FS) map[string]bool {
	out := map[string]bool{}
	files, _ := fs.Glob(fsys, desired.ZonesDir+"/*/"+desired.ZoneFile)
	for _, f := range files {
		out[path.Base(path.Dir(f))] = true
	}
	return out
}

// sameChainFields reports whether a node file carries exactly the chain's
// view of the record.
func sameChainFields(n *desired.Node, r chain.Record) bool {
	return n.PubKey == r.PubKey && n.ProviderID == r.ProviderID && n.ClusterID == r.ClusterID &&
		n.Host == r.Host && n.Domain == r.Domain && n.SSL == r.SSL && n.HTTPPort == int(r.HTTPPort) &&
		n.GRPCPort == int(r.GRPCPort) && n.P2PPort == int(r.P2PPort) && n.Mode == r.Mode
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
