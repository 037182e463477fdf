package schemas

import (
	"errors"
	"math"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// maxNodes bounds the values a document may expand to through aliases, so a
// small file of nested aliases cannot make the converter allocate without end.
const maxNodes = 100000

// document is a YAML file converted to JSON-compatible values, with the
// position of every value and mapping key by desired's field path.
type document struct {
	value  any
	values map[string]desired.Pos
	keys   map[string]desired.Pos
}

// convert turns a parsed YAML file into the values jsonschema validates:
// map[string]any, []any, string, bool, nil and Go integers or float64. A
// scalar's type follows its resolved YAML tag, as in editors: `port: "80"` is
// a string, `port: 80` an integer. Timestamps, binary and custom tags stay
// strings; NaN and infinities, which JSON cannot hold, too.
func convert(root *yaml.Node) (*document, error) {
	d := &document{values: map[string]desired.Pos{}, keys: map[string]desired.Pos{}}
	n := root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return d, nil
		}
		n = n.Content[0]
	}
	if n.Kind == 0 {
		return d, nil
	}
	budget := maxNodes
	v, err := d.node(n, "", &budget)
	if err != nil {
		return nil, err
	}
	d.value = v
	return d, nil
}

func (d *document) node(n *yaml.Node, path string, budget *int) (any, error) {
	if *budget--; *budget < 0 {
		return nil, errors.New("document too large (too many values or aliases)")
	}
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil, errors.New("alias without anchor")
		}
		n = n.Alias
	}
	if _, ok := d.values[path]; !ok {
		d.values[path] = desired.Pos{Line: n.Line, Col: n.Column}
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if _, dup := m[k.Value]; dup {
				continue // the Go decoder reports duplicates and keeps the first
			}
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if _, ok := d.keys[p]; !ok {
				d.keys[p] = desired.Pos{Line: k.Line, Col: k.Column}
			}
			cv, err := d.node(val, p, budget)
			if err != nil {
				return nil, err
			}
			m[k.Value] = cv
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			cv, err := d.node(c, path+"["+strconv.Itoa(i)+"]", budget)
			if err != nil {
				return nil, err
			}
			s[i] = cv
		}
		return s, nil
	default:
		return scalar(n), nil
	}
}

func scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool", "!!int":
		var v any
		if err := n.Decode(&v); err == nil {
			return v
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
	}
	return n.Value
}

// pathOf turns a JSON pointer's tokens into desired's field path, using the
// document to tell list indexes from mapping keys.
func (d *document) pathOf(tokens []string) string {
	p := ""
	cur := d.value
	for _, t := range tokens {
		switch c := cur.(type) {
		case []any:
			p += "[" + t + "]"
			if i, err := strconv.Atoi(t); err == nil && i >= 0 && i < len(c) {
				cur = c[i]
			} else {
				cur = nil
			}
		case map[string]any:
			if p != "" {
				p += "."
			}
			p += t
			cur = c[t]
		default:
			if p != "" {
				p += "."
			}
			p += t
			cur = nil
		}
	}
	return p
}

// valueAt returns the value at a JSON pointer's tokens, or nil.
func (d *document) valueAt(tokens []string) any {
	cur := d.value
	for _, t := range tokens {
		switch c := cur.(type) {
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		case map[string]any:
			cur = c[t]
		default:
			return nil
		}
	}
	return cur
}

// pos returns the position of the value at path, or of its nearest present
// parent; the document's first line when nothing is known.
func (d *document) pos(path string) desired.Pos {
	for p := path; ; p = parentPath(p) {
		if pos, ok := d.values[p]; ok {
			return pos
		}
		if p == "" {
			return desired.Pos{Line: 1, Col: 1}
		}
	}
}

func parentPath(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '.' || p[i] == '[' {
			return p[:i]
		}
	}
	return ""
}
