package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// checkJSONKeys makes a request body as strict as the YAML loader before
// encoding/json decodes it into a value of type t: encoding/json keeps the
// last of duplicate keys and matches keys case-insensitively ("Weight" sets
// weight), so a body could say one thing to a reviewer and another to the
// API. Every object must have distinct keys and, where t is a struct, only
// the exact names of its fields. It returns nil for bodies it cannot
// tokenize: decodeJSON reports their syntax errors.
func checkJSONKeys(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	c := keyChecker{dec: dec}
	if err := c.value(t, "", 0); err != nil {
		if _, ok := err.(*APIError); ok {
			return err
		}
		return nil // a syntax error: decodeJSON says where
	}
	return nil
}

type keyChecker struct{ dec *json.Decoder }

// maxJSONDepth bounds nesting in request bodies (none is deeper than 4).
const maxJSONDepth = 32

func (c *keyChecker) value(t reflect.Type, path string, depth int) error {
	if depth > maxJSONDepth {
		return apiErr(http.StatusBadRequest, CodeMalformedJSON, "malformed JSON: nested deeper than %d levels", maxJSONDepth)
	}
	tok, err := c.dec.Token()
	if err != nil {
		return err
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch tok {
	case json.Delim('{'):
		return c.object(t, path, depth)
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; c.dec.More(); i++ {
			if err := c.value(elem, path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
				return err
			}
		}
		_, err := c.dec.Token() // ]
		return err
	}
	return nil // a scalar
}

func (c *keyChecker) object(t reflect.Type, path string, depth int) error {
	var fields map[string]reflect.Type
	var elem reflect.Type
	if t != nil {
		switch {
		case t.Kind() == reflect.Struct && !t.Implements(jsonUnmarshaler) && !reflect.PointerTo(t).Implements(jsonUnmarshaler):
			fields = jsonFields(t)
		case t.Kind() == reflect.Map:
			elem = t.Elem()
		}
	}
	seen := map[string]bool{}
	for c.dec.More() {
		tok, err := c.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		field := key
		if path != "" {
			field = path + "." + key
		}
		if seen[key] {
			return &APIError{Status: http.StatusBadRequest, Code: CodeMalformedJSON, Message: fmt.Sprintf("duplicate key %q in the request body", field),
				Details: []Detail{{Field: field, Message: "duplicate key: each key may appear once"}}}
		}
		seen[key] = true
		next := elem
		if fields != nil {
			ft, ok := fields[key]
			if !ok {
				msg := "unknown field"
				for name := range fields {
					if strings.EqualFold(name, key) {
						msg = fmt.Sprintf("unknown field (did you mean %q? field names are case-sensitive)", name)
					}
				}
				return &APIError{Status: http.StatusBadRequest, Code: CodeUnknownField, Message: fmt.Sprintf("unknown field %q in the request body", field),
					Details: []Detail{{Field: field, Message: msg}}}
			}
			next = ft
		}
		if err := c.value(next, field, depth+1); err != nil {
			return err
		}
	}
	_, err := c.dec.Token() // }
	return err
}

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

// jsonFields maps the JSON names of struct t's fields (embedded structs
// flattened, as encoding/json does) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
