package desired

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// flatField is one field of a flat struct: a struct whose fields are all
// plain strings, ints and bools, or pointers to ints and bools.
type flatField struct {
	index int
	typ   reflect.Type // the field's type, or the pointed-to type
	ptr   bool
}

// flatStruct is the fields of a flat struct type, and their YAML keys.
type flatStruct struct {
	keys   map[string]int // index in fields
	fields []flatField
}

// field returns the field of key key.
func (fs *flatStruct) field(key string) (flatField, bool) {
	i, ok := fs.keys[key]
	if !ok {
		return flatField{}, false
	}
	return fs.fields[i], true
}

// flatStructs maps each flat model type to its fields. Only Node is flat
// today; a type that gains a field of another kind simply drops out and is
// decoded by yaml.v3. Computed once and only read.
var flatStructs = buildFlatStructs(reflect.TypeOf(Node{}))

var (
	stringType = reflect.TypeOf("")
	intType    = reflect.TypeOf(0)
	boolType   = reflect.TypeOf(false)
)

func buildFlatStructs(types ...reflect.Type) map[reflect.Type]*flatStruct {
	out := map[reflect.Type]*flatStruct{}
	for _, t := range types {
		if fields, ok := flatFields(t); ok {
			out[t] = fields
		}
	}
	return out
}

// flatFields returns the YAML keys of struct type t as yaml.v3 names them,
// or false if t is not flat or uses a tag flag that changes decoding.
func flatFields(t reflect.Type) (*flatStruct, bool) {
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil, false
	}
	fields := &flatStruct{keys: map[string]int{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			return nil, false
		}
		if !f.IsExported() {
			continue
		}
		tag, ok := f.Tag.Lookup("yaml")
		if !ok && f.Tag != "" {
			return nil, false // yaml.v3 reads a bare tag as the key
		}
		if tag == "-" {
			continue
		}
		name, flags, _ := strings.Cut(tag, ",")
		if flags != "" && flags != "omitempty" {
			return nil, false
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		ff := flatField{index: i, typ: f.Type}
		switch f.Type {
		case stringType, intType, boolType:
		case reflect.PointerTo(intType), reflect.PointerTo(boolType):
			ff.typ, ff.ptr = f.Type.Elem(), true
		default:
			return nil, false
		}
		if _, dup := fields.keys[name]; dup {
			return nil, false
		}
		fields.keys[name] = len(fields.fields)
		fields.fields = append(fields.fields, ff)
	}
	return fields, true
}

// decodeFlat decodes doc, a mapping built by fastParse whose duplicate keys
// checkFields has dropped, into out, a pointer to a flat struct, exactly as
// doc.Decode(out) would: same values set, same type error messages in the
// same order. It returns false, having done nothing, when out is not a
// pointer to a flat struct.
func decodeFlat(doc *yaml.Node, out any) ([]string, bool) {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return nil, false
	}
	v = v.Elem()
	fields, ok := flatStructs[v.Type()]
	if !ok || doc.Kind != yaml.MappingNode {
		return nil, false
	}
	var terrs []string
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, val := doc.Content[i], doc.Content[i+1]
		// yaml.v3 skips null keys and ignores unknown ones (checkFields
		// reported them); fastParse builds no merge keys.
		if k.Tag == "!!null" {
			continue
		}
		f, ok := fields.field(k.Value)
		if !ok {
			continue
		}
		terrs = decodeFlatField(val, v.Field(f.index), f, terrs)
	}
	return terrs, true
}

// decodeFlatField is yaml.v3's decoder.unmarshal of node n into field fv,
// for the node kinds and tags fastParse builds.
func decodeFlatField(n *yaml.Node, fv reflect.Value, f flatField, terrs []string) []string {
	if n.Kind == yaml.ScalarNode {
		return decodeFlatScalar(n.Tag, n.Value, n.Line, fv, f, terrs)
	}
	if f.ptr {
		if fv.IsNil() {
			fv.Set(reflect.New(f.typ))
		}
	}
	switch n.Kind {
	case yaml.MappingNode:
		// yaml.v3 checks the mapping's keys are unique before it finds
		// that a mapping does not go into a scalar.
		before := len(terrs)
		for i := 0; i < len(n.Content); i += 2 {
			ni := n.Content[i]
			for j := i + 2; j < len(n.Content); j += 2 {
				if nj := n.Content[j]; ni.Kind == nj.Kind && ni.Value == nj.Value {
					terrs = append(terrs, fmt.Sprintf("line %d: mapping key %#v already defined at line %d", nj.Line, nj.Value, ni.Line))
				}
			}
		}
		if len(terrs) > before {
			return terrs
		}
		return append(terrs, fmt.Sprintf("line %d: cannot unmarshal !!map into %s", n.Line, f.typ))
	case yaml.SequenceNode:
		return append(terrs, fmt.Sprintf("line %d: cannot unmarshal !!seq into %s", n.Line, f.typ))
	}
	return append(terrs, fmt.Sprintf("line %d: unexpected node kind %d", n.Line, n.Kind))
}

// decodeFlatScalar is yaml.v3's decoder.unmarshal of a scalar node (tag,
// value, line) into field fv, for the tags fastParse resolves.
func decodeFlatScalar(tag, value string, line int, fv reflect.Value, f flatField, terrs []string) []string {
	if tag == "!!null" {
		if f.ptr {
			fv.SetZero()
		}
		return terrs
	}
	if f.ptr {
		if fv.IsNil() {
			fv.Set(reflect.New(f.typ))
		}
		fv = fv.Elem()
	}
	switch f.typ {
	case stringType:
		fv.SetString(value)
		return terrs
	case boolType:
		switch tag {
		case "!!bool":
			fv.SetBool(value == "true" || value == "True" || value == "TRUE")
			return terrs
		case "!!str", "!!merge":
			switch value {
			case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON":
				fv.SetBool(true)
				return terrs
			case "n", "N", "no", "No", "NO", "off", "Off", "OFF":
				fv.SetBool(false)
				return terrs
			}
		}
	case intType:
		switch r := resolveNumber(tag, value).(type) {
		case int:
			fv.SetInt(int64(r))
			return terrs
		case uint64:
			if r <= math.MaxInt64 {
				fv.SetInt(int64(r))
				return terrs
			}
		case float64:
			if r <= math.MaxInt64 {
				fv.SetInt(int64(r))
				return terrs
			}
		}
	}
	if len(value) > 10 {
		value = value[:7] + "..."
	}
	return append(terrs, fmt.Sprintf("line %d: cannot unmarshal %s `%s` into %s", line, tag, value, f.typ))
}

// decodeFlatFile is decodeBytes for a flat document (see parseFlat) into a
// pointer to a flat struct, without building a node tree: it checks the
// fields as checkFields does and decodes them as decodeFlat does, in the
// same order, with the same errors. It returns false, having done nothing,
// when the document or out is not flat.
func decodeFlatFile(file, text, kind string, out any) (fileResult, bool) {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fileResult{}, false
	}
	v = v.Elem()
	flat, ok := flatStructs[v.Type()]
	if !ok {
		return fileResult{}, false
	}
	p := fastParsers.Get().(*fastParser)
	defer p.release()
	entries, ok := p.parseFlat(text)
	if !ok || 2*len(entries)+2 > MaxYAMLNodes {
		return fileResult{}, false // decodeTree reports a file over the limit
	}
	r := fileResult{idx: newFileIndex(text, false)}

	// As checkFields: report duplicate keys, then unknown fields (a flat
	// struct's keys are those of yamlFields). field[i] is the index in
	// flat.fields of the field entry i goes to, or dup or unknown.
	const dup, unknown = -1, -2
	field := append(p.field[:0], make([]int, len(entries))...)
	p.field = field
	var seen map[string]int // for large mappings; small ones are scanned
	if len(entries) > maxScannedKeys {
		seen = make(map[string]int, len(entries))
	}
	for i, e := range entries {
		first := -1
		if seen != nil {
			if j, ok := seen[e.key]; ok {
				first = j
			} else {
				seen[e.key] = i
			}
		} else {
			for j := range i {
				if entries[j].key == e.key {
					first = j
					break
				}
			}
		}
		if first >= 0 {
			field[i] = dup
			if len(r.errs) > MaxFileErrors {
				continue // as checkFields
			}
			r.errs = append(r.errs, Error{File: file, Line: e.line, Col: e.keyCol, Field: e.key,
				Msg: fmt.Sprintf("duplicate key %q (first set on line %d)", e.key, entries[first].line)})
			continue
		}
		fi, ok := flat.keys[e.key]
		if !ok {
			field[i] = unknown
			if len(r.errs) > MaxFileErrors {
				continue // as checkFields
			}
			r.errs = append(r.errs, Error{File: file, Line: e.line, Col: e.keyCol, Field: e.key,
				Msg: fmt.Sprintf("unknown field %q%s", e.key, suggest(e.key, yamlFields(v.Type())))})
			continue
		}
		field[i] = fi
	}

	// decodeFlat of the entries left.
	before := len(r.errs)
	var terrs []string
	got := ""
	for i, e := range entries {
		if field[i] == dup {
			continue
		}
		if e.key == "kind" { // the only one left
			got = e.value
		}
		if field[i] == unknown || e.keyTag == "!!null" {
			continue
		}
		f := flat.fields[field[i]]
		var tag string
		switch {
		case e.valueIsNull():
			tag = "!!null"
		case f.typ == stringType:
			// A string field takes the value whatever its tag: do not
			// resolve it (decodeFlatScalar only tells null from not).
			tag = "!!str"
		default:
			tag = e.valueTag()
		}
		terrs = decodeFlatScalar(tag, e.value, e.line, v.Field(f.index), f, terrs)
	}
	for _, msg := range terrs {
		r.errs = append(r.errs, typeError(file, msg, r.idx))
	}
	if got != kind {
		r.errs = append(r.errs, kindError(file, kind, got, r.idx))
	}
	r.ok = len(r.errs) == before
	return r, true
}

// resolveNumber is the value yaml.v3's resolver gives a plain scalar that
// resolved to tag: an int, uint64 or float64 for !!int and !!float, nil
// otherwise. A port of the numeric branches of resolve (resolve.go, v3.0.1).
func resolveNumber(tag, in string) any {
	switch tag {
	case "!!int":
		plain := strings.ReplaceAll(in, "_", "")
		if v, err := strconv.ParseInt(plain, 0, 64); err == nil {
			return int(v)
		}
		if v, err := strconv.ParseUint(plain, 0, 64); err == nil {
			return v
		}
		switch {
		case strings.HasPrefix(plain, "0b"):
			if v, err := strconv.ParseInt(plain[2:], 2, 64); err == nil {
				return int(v)
			}
			if v, err := strconv.ParseUint(plain[2:], 2, 64); err == nil {
				return v
			}
		case strings.HasPrefix(plain, "-0b"):
			if v, err := strconv.ParseInt("-"+plain[3:], 2, 64); err == nil {
				return int(v)
			}
		case strings.HasPrefix(plain, "0o"):
			if v, err := strconv.ParseInt(plain[2:], 8, 64); err == nil {
				return int(v)
			}
			if v, err := strconv.ParseUint(plain[2:], 8, 64); err == nil {
				return v
			}
		case strings.HasPrefix(plain, "-0o"):
			if v, err := strconv.ParseInt("-"+plain[3:], 8, 64); err == nil {
				return int(v)
			}
		}
	case "!!float":
		switch in {
		case ".nan", ".NaN", ".NAN":
			return math.NaN()
		case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF":
			return math.Inf(+1)
		case "-.inf", "-.Inf", "-.INF":
			return math.Inf(-1)
		}
		if in != "" && in[0] == '.' {
			if v, err := strconv.ParseFloat(in, 64); err == nil {
				return v
			}
			return nil
		}
		if v, err := strconv.ParseFloat(strings.ReplaceAll(in, "_", ""), 64); err == nil {
			return v
		}
	}
	return nil
}
