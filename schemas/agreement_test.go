package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// The tests in this file keep the schemas, the Go model (desired/model.go),
// its defaults (desired/defaults.go) and its grammar (desired/grammar.go)
// from drifting apart.

// schemaDoc is one schema file as plain JSON values.
type schemaDoc struct {
	file string
	root map[string]any
}

func loadSchemas(t *testing.T) map[string]schemaDoc {
	t.Helper()
	out := map[string]schemaDoc{}
	for _, kind := range Kinds() {
		name := FileName(kind)
		data, err := fs.ReadFile(FS(), name)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var root map[string]any
		if err := dec.Decode(&root); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[kind] = schemaDoc{name, root}
	}
	return out
}

// resolve follows local $refs, merging the referring schema's own keywords
// over the referenced ones (a description next to a $ref wins).
func (d schemaDoc) resolve(t *testing.T, s map[string]any) map[string]any {
	t.Helper()
	for i := 0; i < 10; i++ {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		target, ok := d.lookup(ref)
		if !ok {
			t.Fatalf("%s: $ref %q does not resolve", d.file, ref)
		}
		merged := map[string]any{}
		for k, v := range target {
			merged[k] = v
		}
		for k, v := range s {
			if k != "$ref" {
				merged[k] = v
			}
		}
		// Both sets of properties apply; the referring schema's win (e.g. a
		// timeout forbidden on frontends).
		if own, ok := s["properties"].(map[string]any); ok {
			props := map[string]any{}
			if base, ok := target["properties"].(map[string]any); ok {
				for k, v := range base {
					props[k] = v
				}
			}
			for k, v := range own {
				props[k] = v
			}
			merged["properties"] = props
		}
		s = merged
	}
	t.Fatalf("%s: $ref chain too long", d.file)
	return nil
}

func (d schemaDoc) lookup(ref string) (map[string]any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var cur any = d.root
	for _, tok := range strings.Split(ref[2:], "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur = m[tok]
	}
	m, ok := cur.(map[string]any)
	return m, ok
}

// types returns the JSON types a schema allows: its "type", or those of its
// anyOf branches when it has none.
func types(s map[string]any) []string {
	switch t := s["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			out = append(out, x.(string))
		}
		return out
	}
	var out []string
	if alts, ok := s["anyOf"].([]any); ok {
		for _, a := range alts {
			out = append(out, types(a.(map[string]any))...)
		}
	}
	return out
}

var durationType = reflect.TypeOf(desired.Duration(0))

// jsonType is the JSON Schema type a Go field of the model decodes from.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		return "string"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "integer"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice:
		return "array"
	case reflect.Struct:
		return "object"
	}
	return "unsupported " + t.String()
}

// yamlFields returns a struct's YAML keys and fields, skipping `yaml:"-"`.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "-" || !f.IsExported() {
			continue
		}
		if tag == "" {
			tag = strings.ToLower(f.Name)
		}
		out[tag] = f
	}
	return out
}

func modelRoots() map[string]reflect.Type {
	return map[string]reflect.Type{
		desired.KindFleet:     reflect.TypeOf(desired.Fleet{}),
		desired.KindZone:      reflect.TypeOf(desired.Zone{}),
		desired.KindBackend:   reflect.TypeOf(desired.Backend{}),
		desired.KindNode:      reflect.TypeOf(desired.Node{}),
		desired.KindContainer: reflect.TypeOf(desired.Container{}),
	}
}

// TestModelAgreement walks each Go file type and its schema side by side:
// every YAML field has a schema property and every property a field, with
// compatible types, down to the leaves.
func TestModelAgreement(t *testing.T) {
	docs := loadSchemas(t)
	for kind, typ := range modelRoots() {
		d := docs[kind]
		compareType(t, d, d.file, typ, d.root)
	}
}

func compareType(t *testing.T, d schemaDoc, where string, gt reflect.Type, s map[string]any) {
	t.Helper()
	s = d.resolve(t, s)
	if forbidden(s) {
		return // a field of a shared Go type that has no effect here
	}
	want := jsonType(gt)
	got := types(s)
	if !contains(got, want) {
		t.Errorf("%s: Go type %s decodes from %s, schema allows %v", where, gt, want, got)
		return
	}
	for gt.Kind() == reflect.Pointer {
		gt = gt.Elem()
	}
	switch {
	case gt == durationType:
	case gt.Kind() == reflect.Slice:
		items, ok := s["items"].(map[string]any)
		if !ok {
			t.Errorf("%s: array without items schema", where)
			return
		}
		compareType(t, d, where+".items", gt.Elem(), items)
	case gt.Kind() == reflect.Struct:
		props, _ := s["properties"].(map[string]any)
		fields := yamlFields(gt)
		for name, f := range fields {
			ps, ok := props[name].(map[string]any)
			if !ok {
				t.Errorf("%s: Go field %s.%s (yaml %q) has no schema property", where, gt.Name(), f.Name, name)
				continue
			}
			compareType(t, d, where+"."+name, f.Type, ps)
		}
		for name := range props {
			if _, ok := fields[name]; !ok {
				t.Errorf("%s: schema property %q has no field in Go type %s", where, name, gt.Name())
			}
		}
		for _, r := range stringList(s["required"]) {
			if _, ok := fields[r]; !ok {
				t.Errorf("%s: required %q is not a field of %s", where, r, gt.Name())
			}
		}
	}
}

// forbidden reports a property schema of the form {"not": {}}: the field
// exists in the Go type but is rejected at this place, like Go's validator
// rejects a frontend's connect timeout.
func forbidden(s map[string]any) bool {
	not, ok := s["not"].(map[string]any)
	return ok && len(not) == 0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func stringList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, x.(string))
	}
	return out
}

// durationPattern (schemas.go) has no desired.Pattern constant (durations are
// parsed, never rendered verbatim), so TestDurationPattern checks it against
// time.ParseDuration instead.

// patternTable names, for every schema location that carries a pattern, the
// desired constant it must equal. Locations are dotted: properties by name,
// "items" for list items, "$defs.X" for a shared shape, "anyOf[i]" for a branch.
var patternTable = map[string]string{
	"fleet.schema.json#name":                        desired.PatternName,
	"fleet.schema.json#haproxy.crtBase":             desired.PatternRelOrAbsPath,
	"fleet.schema.json#haproxy.adminSocket":         desired.PatternAbsPath,
	"fleet.schema.json#haproxy.logTarget":           desired.PatternLogTarget,
	"fleet.schema.json#keepalived.scriptUser":       desired.PatternUser,
	"fleet.schema.json#keepalived.trackProcess":     desired.PatternProcess,
	"fleet.schema.json#$defs.duration":              durationPattern,
	"fleet.schema.json#dns.zone":                    desired.PatternDNSZone,
	"fleet.schema.json#dns.defaultZone":             desired.PatternName,
	"fleet.schema.json#dns.nameservers.items.name":  desired.PatternDNSLabel,
	"fleet.schema.json#dns.records.items.name":      desired.PatternDNSRecordName,
	"fleet.schema.json#dns.records.items.frontend":  desired.PatternName,
	"fleet.schema.json#dns.records.items.checkPath": desired.PatternDNSCheckPath,

	"zone.schema.json#name":                                   desired.PatternName,
	"zone.schema.json#network.name":                           desired.PatternName,
	"zone.schema.json#failover.items":                         desired.PatternName,
	"zone.schema.json#vips.items.name":                        desired.PatternName,
	"zone.schema.json#vips.items.interface":                   desired.PatternInterface,
	"zone.schema.json#hosts.items.name":                       desired.PatternName,
	"zone.schema.json#hosts.items.interface":                  desired.PatternInterface,
	"zone.schema.json#hosts.items.owns.items":                 desired.PatternName,
	"zone.schema.json#hosts.items.agentURL":                   desired.PatternAgentURL,
	"zone.schema.json#stats.uri":                              desired.PatternURLPath,
	"zone.schema.json#stats.metricsPath":                      desired.PatternURLPath,
	"zone.schema.json#$defs.frontend.name":                    desired.PatternName,
	"zone.schema.json#$defs.frontend.defaultBackend":          desired.PatternName,
	"zone.schema.json#$defs.frontend.routes.items.pathPrefix": desired.PatternURLPath,
	"zone.schema.json#$defs.frontend.routes.items.host":       desired.PatternHostname,
	"zone.schema.json#$defs.frontend.routes.items.backend":    desired.PatternName,
	"zone.schema.json#$defs.frontend.setHeaders.items.name":   desired.PatternHeaderName,
	"zone.schema.json#$defs.frontend.setHeaders.items.value":  desired.PatternHeaderValue,
	"zone.schema.json#$defs.frontend.tls.certificate":         desired.PatternCertFile,
	"zone.schema.json#$defs.duration":                         durationPattern,

	"backend.schema.json#name":                 desired.PatternName,
	"backend.schema.json#check.path":           desired.PatternURLPath,
	"backend.schema.json#check.hostHeader":     desired.PatternHostname,
	"backend.schema.json#nodes.clusters.items": desired.PatternClusterID,
	"backend.schema.json#servers.items.name":   desired.PatternName,
	"backend.schema.json#servers.items.zone":   desired.PatternName,
	"backend.schema.json#$defs.host.anyOf[2]":  desired.PatternHostname,
	"backend.schema.json#$defs.duration":       durationPattern,

	"node.schema.json#name":                desired.PatternName,
	"node.schema.json#pubKey":              desired.PatternPubKey,
	"node.schema.json#providerId":          desired.PatternProviderID,
	"node.schema.json#clusterId":           desired.PatternClusterID,
	"node.schema.json#domain":              desired.PatternHostname,
	"node.schema.json#zone":                desired.PatternName,
	"node.schema.json#$defs.host.anyOf[2]": desired.PatternHostname,

	"zone.schema.json#containers.hosts.items.name":      desired.PatternName,
	"zone.schema.json#containers.hosts.items.interface": desired.PatternInterface,

	"container.schema.json#name":            desired.PatternName,
	"container.schema.json#image":           desired.PatternImage,
	"container.schema.json#zone":            desired.PatternName,
	"container.schema.json#host":            desired.PatternName,
	"container.schema.json#command.items":   desired.PatternArg,
	"container.schema.json#args.items":      desired.PatternArg,
	"container.schema.json#env.items.name":  desired.PatternEnvName,
	"container.schema.json#env.items.value": desired.PatternEnvValue,
	"container.schema.json#health.path":     desired.PatternURLPath,
	"container.schema.json#serve.backend":   desired.PatternName,
	"container.schema.json#$defs.duration":  durationPattern,
}

// walkSchema calls fn for every subschema with its dotted location.
func walkSchema(loc string, s map[string]any, fn func(loc string, s map[string]any)) {
	fn(loc, s)
	join := func(a, b string) string {
		if a == "" {
			return b
		}
		return a + "." + b
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for name, p := range props {
			walkSchema(join(loc, name), p.(map[string]any), fn)
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		walkSchema(join(loc, "items"), items, fn)
	}
	if defs, ok := s["$defs"].(map[string]any); ok {
		for name, p := range defs {
			walkSchema(join(loc, "$defs."+name), p.(map[string]any), fn)
		}
	}
	if alts, ok := s["anyOf"].([]any); ok {
		for i, a := range alts {
			walkSchema(join(loc, "anyOf["+strconv.Itoa(i)+"]"), a.(map[string]any), fn)
		}
	}
}

func allPatterns(t *testing.T) map[string]string {
	got := map[string]string{}
	for _, d := range loadSchemas(t) {
		walkSchema("", d.root, func(loc string, s map[string]any) {
			if p, ok := s["pattern"].(string); ok {
				got[d.file+"#"+loc] = p
			}
		})
	}
	return got
}

func TestPatternsMatchGrammar(t *testing.T) {
	got := allPatterns(t)
	for loc, p := range got {
		want, ok := patternTable[loc]
		if !ok {
			t.Errorf("%s has pattern %s, not in the table of desired.Pattern* constants", loc, p)
			continue
		}
		if p != want {
			t.Errorf("%s: pattern\n %s\nwant (desired/grammar.go)\n %s", loc, p, want)
		}
	}
	for loc := range patternTable {
		if _, ok := got[loc]; !ok {
			t.Errorf("table entry %s: no such pattern in the schemas", loc)
		}
	}
}

func TestDurationPattern(t *testing.T) {
	re := regexp.MustCompile(durationPattern)
	for _, s := range []string{"0", "1s", "500ms", "1m30s", "1h", "1.5h", "2h45m0.5s", "10us", "10µs", "10μs", "3ns",
		"", "s", "1", "1.s", ".5s", "-1s", "+1s", "1 s", "1S", "1d", "1h-1m", "5 seconds", "1e3s", "0s1"} {
		d, err := time.ParseDuration(s)
		goOK := err == nil && d >= 0
		if re.MatchString(s) && !goOK {
			t.Errorf("duration pattern accepts %q, which desired rejects", s)
		}
		// The pattern may be stricter than Go only for these spellings.
		lenient := map[string]bool{"1.s": true, ".5s": true, "+1s": true}
		if !re.MatchString(s) && goOK && !lenient[s] {
			t.Errorf("duration pattern rejects %q, which desired accepts", s)
		}
	}
}

// TestPatternsECMA checks that node's ECMA-262 engine, with and without the
// u flag editors may use, compiles every schema pattern and matches exactly
// the samples Go's RE2 matches.
func TestPatternsECMA(t *testing.T) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed; ECMA-262 agreement not checked")
	}
	set := map[string]bool{}
	for _, p := range allPatterns(t) {
		set[p] = true
	}
	var patterns []string
	for p := range set {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns)
	samples := []string{"", "a", "eu", "eu-node-1", "ddc_nodes_http", "-eu", "a b", "a\nb", "a\n", strings.Repeat("a", 64), strings.Repeat("a", 65),
		"eth0", "eth0.100", "br@x", "veth-0123456789", "veth-01234567890", "198.18.1.11", "1.2.3.300", "a.b.example", "A.example", "a..b", "a-.b", "xn--bcher-kva.example",
		"/health", "/grpc.health.v1.Health/", "/a b", "/a%20b", "health", "/", "X-DDC-Zone", "X_Zone", "https", "a\"b", "a'b", "it's (x) [y] {z} <w>?&|^", "$x", "#x", "a\\b", "100%",
		"ddc-example.pem", "/etc/haproxy/certs/x.pem", "../x.pem", "certs", "/run/haproxy/admin.sock", "/run//x", "/run/",
		"0x" + hex64, "0x" + strings.ToUpper(hex64), "0x" + hex40, "0x" + hex40 + "0", "root", "_svc", "Root", "haproxy", "haproxy-long-name",
		"1s", "1.5h", "10µs", "10μs", "1 s", "0", "é", "日本", "a\u0000b", "a\tb", "a\rb"}
	input, err := json.Marshal(map[string]any{"patterns": patterns, "samples": samples})
	if err != nil {
		t.Fatal(err)
	}
	script := `
let buf = '';
process.stdin.on('data', d => buf += d);
process.stdin.on('end', () => {
  const {patterns, samples} = JSON.parse(buf);
  const out = {};
  for (const p of patterns) {
    out[p] = {};
    for (const flags of ['', 'u']) {
      let re;
      try { re = new RegExp(p, flags); } catch (e) { out[p][flags] = 'compile: ' + e.message; continue; }
      out[p][flags] = samples.map(s => re.test(s));
    }
  }
  process.stdout.write(JSON.stringify(out));
});`
	cmd := exec.Command(nodeBin, "-e", script)
	cmd.Stdin = bytes.NewReader(input)
	cmd.Stderr = os.Stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("running node: %v", err)
	}
	var res map[string]map[string]any
	if err := json.Unmarshal(outb, &res); err != nil {
		t.Fatalf("node output: %v: %s", err, outb)
	}
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		for _, flags := range []string{"", "u"} {
			r, ok := res[p][flags].([]any)
			if !ok {
				t.Errorf("ECMA-262 (flags %q) cannot use %s: %v", flags, p, res[p][flags])
				continue
			}
			for i, s := range samples {
				if got, want := r[i].(bool), re.MatchString(s); got != want {
					t.Errorf("pattern %s on %q: ECMA-262 (flags %q) says %v, Go %v", p, s, flags, got, want)
				}
			}
		}
	}
}

// TestSchemaStructure checks what editors and the strict decoder rely on:
// ids, titles, a description on every property, additionalProperties false
// on every object, resolvable $refs, and identical shared $defs.
func TestSchemaStructure(t *testing.T) {
	docs := loadSchemas(t)
	for _, d := range docs {
		if got := d.root["$schema"]; got != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema = %v", d.file, got)
		}
		if got := d.root["$id"]; got != BaseURL+d.file {
			t.Errorf("%s: $id = %v", d.file, got)
		}
		if s, _ := d.root["title"].(string); s == "" {
			t.Errorf("%s: no title", d.file)
		}
		walkSchema("", d.root, func(loc string, s map[string]any) {
			if ref, ok := s["$ref"].(string); ok {
				if _, ok := d.lookup(ref); !ok {
					t.Errorf("%s#%s: $ref %q does not resolve", d.file, loc, ref)
				}
			}
			r := d.resolve(t, s)
			if contains(types(r), "object") && r["additionalProperties"] != false {
				t.Errorf("%s#%s: object without additionalProperties: false", d.file, loc)
			}
			if props, ok := r["properties"].(map[string]any); ok {
				for name, p := range props {
					ps := d.resolve(t, p.(map[string]any))
					if desc, _ := ps["description"].(string); desc == "" {
						t.Errorf("%s#%s: property %q has no description", d.file, loc, name)
					}
				}
			}
		})
	}
	// A shape shared by several files is defined the same way in each.
	shared := map[string]string{}
	for _, kind := range Kinds() {
		d := docs[kind]
		defs, _ := d.root["$defs"].(map[string]any)
		for name, def := range defs {
			b, _ := json.Marshal(def)
			if prev, ok := shared[name]; ok && prev != string(b) {
				t.Errorf("%s: $defs.%s differs from another schema's", d.file, name)
			}
			shared[name] = string(b)
		}
	}
}

// TestEnumsMatchModel ties the schema enums to the Go side where desired
// exports the list.
func TestEnumsMatchModel(t *testing.T) {
	docs := loadSchemas(t)
	d := docs[desired.KindBackend]
	props := d.root["properties"].(map[string]any)
	got := stringList(props["balance"].(map[string]any)["enum"])
	if fmt.Sprint(got) != fmt.Sprint(desired.BalanceAlgorithms()) {
		t.Errorf("backend balance enum %v, desired.BalanceAlgorithms() %v", got, desired.BalanceAlgorithms())
	}
	if def := props["balance"].(map[string]any)["default"]; !contains(got, def.(string)) {
		t.Errorf("balance default %v not in enum", def)
	}
}

// TestDefaultsMatchSetDefaults fills a fleet that leaves every defaulted
// field unset, runs desired.SetDefaults and compares each schema "default"
// annotation with the value SetDefaults chose.
func TestDefaultsMatchSetDefaults(t *testing.T) {
	f := &desired.Fleet{
		Zones: []*desired.Zone{{
			Name:      "eu",
			Hosts:     []*desired.Host{{Name: "h1"}},
			Frontends: []*desired.Frontend{{Name: "fe", Binds: []desired.Bind{{Port: 80}}, TLS: &desired.TLS{}}},
			Stats:     &desired.Stats{},
		}},
		Backends: []*desired.Backend{{
			Name:     "be",
			Nodes:    &desired.NodeSelector{},
			Failover: &desired.BackendFailover{Port: 80},
			Servers:  []*desired.Server{{Name: "s1"}},
		}},
		Nodes: []*desired.Node{{Name: "n1"}},
	}
	desired.SetDefaults(f)
	docs := loadSchemas(t)
	roots := map[string]reflect.Value{
		desired.KindFleet:   reflect.ValueOf(f),
		desired.KindZone:    reflect.ValueOf(f.Zones[0]),
		desired.KindBackend: reflect.ValueOf(f.Backends[0]),
		desired.KindNode:    reflect.ValueOf(f.Nodes[0]),
	}
	checked := 0
	for kind, v := range roots {
		d := docs[kind]
		compareDefaults(t, d, d.file, v, d.root, &checked)
	}
	if checked < 30 {
		t.Errorf("only %d schema defaults compared; the sample fleet misses some", checked)
	}
}

func compareDefaults(t *testing.T, d schemaDoc, where string, v reflect.Value, s map[string]any, checked *int) {
	t.Helper()
	s = d.resolve(t, s)
	if def, ok := s["default"]; ok {
		*checked++
		if err := sameValue(v, def); err != nil {
			t.Errorf("%s: schema default %v, SetDefaults: %v", where, def, err)
		}
	}
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Type() == durationType {
		return
	}
	switch v.Kind() {
	case reflect.Slice:
		items, _ := s["items"].(map[string]any)
		for i := 0; i < v.Len() && items != nil; i++ {
			compareDefaults(t, d, fmt.Sprintf("%s[%d]", where, i), v.Index(i), items, checked)
		}
	case reflect.Struct:
		props, _ := s["properties"].(map[string]any)
		for name, f := range yamlFields(v.Type()) {
			if ps, ok := props[name].(map[string]any); ok {
				compareDefaults(t, d, where+"."+name, v.FieldByIndex(f.Index), ps, checked)
			}
		}
	}
}

func sameValue(v reflect.Value, def any) error {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return fmt.Errorf("left unset")
		}
		v = v.Elem()
	}
	if v.Type() == durationType {
		want, err := time.ParseDuration(def.(string))
		if err != nil {
			return err
		}
		if got := time.Duration(v.Int()); got != want {
			return fmt.Errorf("%s", got)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		if v.String() != def {
			return fmt.Errorf("%q", v.String())
		}
	case reflect.Int:
		if strconv.FormatInt(v.Int(), 10) != def.(json.Number).String() {
			return fmt.Errorf("%d", v.Int())
		}
	case reflect.Bool:
		if v.Bool() != def {
			return fmt.Errorf("%v", v.Bool())
		}
	case reflect.Slice:
		l, _ := def.([]any)
		if v.Len() != len(l) {
			return fmt.Errorf("%v", v.Interface())
		}
		for i := range l {
			if err := sameValue(v.Index(i), l[i]); err != nil {
				return fmt.Errorf("%v", v.Interface())
			}
		}
	default:
		return fmt.Errorf("cannot compare %s", v.Type())
	}
	return nil
}

// TestMisplacedTimeoutsMatchGo sets each timeout on a frontend and on a
// backend of the example fleet: the schema must reject exactly the ones Go's
// validation rejects.
func TestMisplacedTimeoutsMatchGo(t *testing.T) {
	v := newValidator(t)
	zone := readFile(t, exampleFleet+"/zones/eu/zone.yaml")
	backend := readFile(t, exampleFleet+"/backends/ddc_nodes_grpc.yaml")
	const feEnd, beTimeouts = "    defaultBackend: ddc_nodes_grpc\nstats:", "timeouts:\n  server: 1h\n"
	if !strings.Contains(zone, feEnd) || !strings.Contains(backend, beTimeouts) {
		t.Fatal("the example fleet changed; update this test's anchors")
	}
	for _, key := range []string{"connect", "client", "server", "httpRequest", "httpKeepAlive", "queue", "tunnel", "check"} {
		for _, tc := range []struct{ file, field, data string }{
			{"zones/eu/zone.yaml", "frontends[2].timeouts." + key,
				strings.Replace(zone, feEnd, "    defaultBackend: ddc_nodes_grpc\n    timeouts:\n      "+key+": 5s\nstats:", 1)},
			{"backends/ddc_nodes_grpc.yaml", "timeouts." + key,
				strings.Replace(backend, beTimeouts, "timeouts:\n  "+key+": 5s\n", 1)},
		} {
			fsys := overlay(t, os.DirFS(exampleFleet), map[string]string{tc.file: tc.data})
			_, err := desired.Load(fsys)
			goRejects := false
			if es, ok := err.(desired.Errors); ok {
				for _, e := range es {
					goRejects = goRejects || (e.File == tc.file && e.Field == tc.field)
				}
			} else if err != nil {
				t.Fatalf("Load: %v", err)
			}
			schemaRejects := false
			for _, e := range v.Validate(KindForPath(tc.file), tc.file, []byte(tc.data), desired.Source{}) {
				schemaRejects = schemaRejects || e.Field == tc.field
			}
			if goRejects != schemaRejects {
				t.Errorf("%s %s: Go rejects: %v, schema rejects: %v", tc.file, tc.field, goRejects, schemaRejects)
			}
		}
	}
}
