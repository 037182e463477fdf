// Package schemas holds the JSON Schemas (draft 2020-12) of the four
// desired-state file kinds (Fleet, Zone, Backend, Node) and validates YAML
// files against them.
//
// The schemas serve editors first: each example file carries a
// yaml-language-server modeline pointing at its schema, so a misspelt key or
// an out-of-range port is flagged while typing. `ddc-gitops validate` runs the
// same schemas alongside the Go validation of package desired, and the tests
// of this package keep the schemas, the Go model and the grammar of
// desired/grammar.go in agreement.
package schemas

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// files holds the schema documents; it is only read.
//
//go:embed *.schema.json
var files embed.FS

// BaseURL prefixes every schema's $id; a schema's $id is BaseURL + its file name.
const BaseURL = "https://ddc-gitops.dev/schemas/"

// durationPattern is the schemas' pattern for a Go duration ($defs/duration).
const durationPattern = `^(?:0|(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|μs|ms|s|m|h))+)$`

// FileName returns the schema file name for a file kind ("zone.schema.json"
// for desired.KindZone), or "" for an unknown kind.
func FileName(kind string) string {
	switch kind {
	case desired.KindFleet, desired.KindZone, desired.KindBackend, desired.KindNode, desired.KindContainer, desired.KindOverride:
		return strings.ToLower(kind) + ".schema.json"
	}
	return ""
}

// KindForPath returns the kind of the desired-state file at file, a
// slash-separated path relative to the fleet root, by the fleet layout
// (fleet.yaml, zones/<zone>/zone.yaml, backends/<backend>.yaml,
// nodes/<node>.yaml or nodes/<shard>/<node>.yaml), or "" when file is not
// one.
func KindForPath(file string) string {
	f := path.Clean(file)
	dir, base := path.Split(f)
	switch {
	case f == desired.FleetFile:
		return desired.KindFleet
	case base == desired.ZoneFile && path.Dir(path.Clean(dir)) == desired.ZonesDir:
		return desired.KindZone
	case !strings.HasSuffix(base, ".yaml"):
		return ""
	case dir == desired.BackendsDir+"/":
		return desired.KindBackend
	case desired.IsNodeFilePath(f):
		return desired.KindNode
	case dir == desired.ContainersDir+"/":
		return desired.KindContainer
	case dir == desired.OverridesDir+"/":
		return desired.KindOverride
	}
	return ""
}

// Kinds lists the file kinds that have a schema.
func Kinds() []string {
	return []string{desired.KindFleet, desired.KindZone, desired.KindBackend, desired.KindNode, desired.KindContainer, desired.KindOverride}
}

// FS returns the embedded schema files (read-only), e.g. for a command that
// writes them next to a fleet for editors.
func FS() fs.FS { return files }

// Validator validates desired-state files against the compiled schemas. It
// is immutable after New and safe for concurrent use.
type Validator struct {
	schemas map[string]*jsonschema.Schema // by kind
}

// New compiles the embedded schemas. Each is registered under its $id, so
// no schema is ever fetched from the network.
func New() (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	for _, kind := range Kinds() {
		name := FileName(kind)
		f, err := files.Open(name)
		if err != nil {
			return nil, fmt.Errorf("opening schema %s: %w", name, err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("parsing schema %s: %w", name, err)
		}
		obj, _ := doc.(map[string]any)
		if id, _ := obj["$id"].(string); id != BaseURL+name {
			return nil, fmt.Errorf("schema %s: $id is %q, want %q", name, id, BaseURL+name)
		}
		if err := c.AddResource(BaseURL+name, doc); err != nil {
			return nil, fmt.Errorf("registering schema %s: %w", name, err)
		}
	}
	v := &Validator{schemas: map[string]*jsonschema.Schema{}}
	for _, kind := range Kinds() {
		sch, err := c.Compile(BaseURL + FileName(kind))
		if err != nil {
			return nil, fmt.Errorf("compiling schema %s: %w", FileName(kind), err)
		}
		v.schemas[kind] = sch
	}
	return v, nil
}

// Validate checks data, the contents of file (slash-separated, relative to
// the fleet root), against the schema of kind. Positions come from src when
// it knows the file (a fleet loaded by desired.Decode), otherwise from data
// itself. Every message starts with "schema: ", and Field is the YAML path
// of the offending value in desired's format ("hosts[1].address").
func (v *Validator) Validate(kind, file string, data []byte, src desired.Source) []desired.Error {
	sch := v.schemas[kind]
	if sch == nil {
		return []desired.Error{{File: file, Msg: fmt.Sprintf("schema: no schema for kind %q", kind)}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return []desired.Error{{File: file, Msg: "schema: cannot check: invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	doc, err := convert(&root)
	if err != nil {
		return []desired.Error{{File: file, Msg: "schema: cannot check: " + err.Error()}}
	}
	verr := sch.Validate(doc.value)
	if verr == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(verr, &ve) {
		return []desired.Error{{File: file, Msg: "schema: " + verr.Error()}}
	}
	r := reporter{file: file, doc: doc, src: src}
	r.walk(ve)
	es := desired.Errors(r.result())
	es.Sort()
	return es
}

// ValidateFleet validates every file of a fleet loaded by desired.Decode or
// desired.Load: fleet.yaml and the file of each zone, backend and node (files
// that failed to decode are not in the fleet; desired reports them). It reads
// the files from fsys and takes positions from f.Source.
func (v *Validator) ValidateFleet(fsys fs.FS, f *desired.Fleet) []desired.Error {
	type item struct{ kind, file string }
	items := []item{{desired.KindFleet, desired.FleetFile}}
	for _, z := range f.Zones {
		items = append(items, item{desired.KindZone, z.File})
	}
	for _, b := range f.Backends {
		items = append(items, item{desired.KindBackend, b.File})
	}
	for _, n := range f.Nodes {
		items = append(items, item{desired.KindNode, n.File})
	}
	for _, c := range f.Containers {
		items = append(items, item{desired.KindContainer, c.File})
	}
	var es desired.Errors
	for _, it := range items {
		data, err := fs.ReadFile(fsys, path.Clean(it.file))
		if err != nil {
			es = append(es, desired.Error{File: it.file, Msg: fmt.Sprintf("schema: reading file: %v", err)})
			continue
		}
		es = append(es, v.Validate(it.kind, it.file, data, f.Source)...)
	}
	es.Sort()
	return es
}
