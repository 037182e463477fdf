package schemas

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// reporter turns a jsonschema error tree into one desired.Error per problem.
type reporter struct {
	file string
	doc  *document
	src  desired.Source
	errs []desired.Error
	// conditional indexes the errors raised by an if/then/else rule (e.g.
	// "a grpc backend uses the grpc node port").
	conditional []int
}

// result drops a conditional error on a field that already has an
// unconditional one: `port: ssh` is reported as outside the enum once, not
// also as the wrong port for the backend's mode.
func (r *reporter) result() []desired.Error {
	if len(r.conditional) == 0 {
		return r.errs
	}
	cond := map[int]bool{}
	for _, i := range r.conditional {
		cond[i] = true
	}
	plain := map[string]bool{}
	for i, e := range r.errs {
		if !cond[i] {
			plain[e.Field] = true
		}
	}
	out := r.errs[:0:0]
	for i, e := range r.errs {
		if !cond[i] || !plain[e.Field] {
			out = append(out, e)
		}
	}
	return out
}

// conditional reports whether a schema location lies inside a then or else.
func conditional(schemaURL string) bool {
	_, frag, _ := strings.Cut(schemaURL, "#")
	return strings.Contains(frag+"/", "/then/") || strings.Contains(frag+"/", "/else/")
}

// walk reports the leaves of the error tree. anyOf and oneOf failures are
// reported once, as the alternatives the value could have matched.
func (r *reporter) walk(e *jsonschema.ValidationError) {
	switch k := e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		if names, ok := requiredAlternatives(e); ok {
			r.add(e.InstanceLocation, "set at least one of "+strings.Join(names, ", "))
			return
		}
		r.add(e.InstanceLocation, "value must be "+alternatives(e))
		return
	case *kind.Not, *kind.FalseSchema:
		// A field the shared shape has but that has no effect here, like a
		// frontend's connect timeout: report it at its key.
		p := r.doc.pathOf(e.InstanceLocation)
		pos, ok := r.doc.keys[p]
		if !ok || len(e.InstanceLocation) == 0 {
			r.add(e.InstanceLocation, "value not allowed here")
			return
		}
		name := e.InstanceLocation[len(e.InstanceLocation)-1]
		r.errs = append(r.errs, r.errorAt(p, pos, fmt.Sprintf("field %q is not allowed here", name)))
		return
	case *kind.Required:
		base := r.doc.pathOf(e.InstanceLocation)
		for _, name := range k.Missing {
			p := joinPath(base, name)
			r.errs = append(r.errs, r.errorAt(p, r.position(p), fmt.Sprintf("missing required field %q", name)))
		}
		return
	case *kind.AdditionalProperties:
		base := r.doc.pathOf(e.InstanceLocation)
		for _, name := range k.Properties {
			p := joinPath(base, name)
			pos, ok := r.doc.keys[p]
			if !ok {
				pos = r.position(p)
			}
			r.errs = append(r.errs, r.errorAt(p, pos, fmt.Sprintf("unknown field %q", name)))
		}
		return
	}
	if len(e.Causes) == 0 {
		if conditional(e.SchemaURL) {
			r.conditional = append(r.conditional, len(r.errs))
		}
		msg := leafMessage(e.ErrorKind)
		if t, ok := e.ErrorKind.(*kind.Type); ok {
			// jsonschema calls every number "number"; name what the YAML holds.
			msg = fmt.Sprintf("expected %s, got %s", typeNames(t.Want), valueType(r.doc.valueAt(e.InstanceLocation)))
		}
		r.add(e.InstanceLocation, msg)
		return
	}
	for _, c := range e.Causes {
		r.walk(c)
	}
}

func (r *reporter) add(loc []string, msg string) {
	p := r.doc.pathOf(loc)
	r.errs = append(r.errs, r.errorAt(p, r.position(p), msg))
}

func (r *reporter) errorAt(field string, pos desired.Pos, msg string) desired.Error {
	return desired.Error{File: r.file, Line: pos.Line, Col: pos.Col, Field: field, Msg: "schema: " + msg}
}

// position prefers src, which located the file when the fleet was decoded,
// and falls back to the positions of the document itself.
func (r *reporter) position(path string) desired.Pos {
	if p := r.src.Pos(r.file, path); p != (desired.Pos{}) {
		return p
	}
	return r.doc.pos(path)
}

func joinPath(base, name string) string {
	if base == "" {
		return name
	}
	return base + "." + name
}

// leafMessage words one failed keyword for a person editing YAML.
func leafMessage(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("expected %s, got %s", typeNames(k.Want), typeName(k.Got))
	case *kind.Const:
		return fmt.Sprintf("value must be %s, got %s", show(k.Want), show(k.Got))
	case *kind.Enum:
		return fmt.Sprintf("value must be one of %s, got %s", showList(k.Want), show(k.Got))
	case *kind.Minimum:
		return fmt.Sprintf("value must be >= %s (got %s)", num(k.Want), num(k.Got))
	case *kind.Maximum:
		return fmt.Sprintf("value must be <= %s (got %s)", num(k.Want), num(k.Got))
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("value must be > %s (got %s)", num(k.Want), num(k.Got))
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("value must be < %s (got %s)", num(k.Want), num(k.Got))
	case *kind.Pattern:
		if what := patternMeaning(k.Want); what != "" {
			return fmt.Sprintf("%q is not %s", k.Got, what)
		}
		return fmt.Sprintf("%q does not match %s", k.Got, k.Want)
	case *kind.Format:
		return fmt.Sprintf("%s is not %s", show(k.Got), formatName(k.Want))
	case *kind.MinItems:
		return fmt.Sprintf("list must have at least %d item(s), got %d", k.Want, k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("list must have at most %d item(s), got %d", k.Want, k.Got)
	case *kind.UniqueItems:
		return fmt.Sprintf("items [%d] and [%d] are equal; each may appear once", k.Duplicates[0], k.Duplicates[1])
	case *kind.MinLength:
		return fmt.Sprintf("value must be at least %d characters long, got %d", k.Want, k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("value must be at most %d characters long, got %d", k.Want, k.Got)
	}
	return k.LocalizedString(message.NewPrinter(language.English))
}

// requiredAlternatives returns the field names of an anyOf whose every
// branch failed only for a missing field ("set pathPrefix, host or both").
func requiredAlternatives(e *jsonschema.ValidationError) ([]string, bool) {
	var names []string
	for _, branch := range e.Causes {
		for _, l := range leafKinds(branch) {
			req, ok := l.(*kind.Required)
			if !ok {
				return nil, false
			}
			names = append(names, req.Missing...)
		}
	}
	return names, len(names) > 0
}

// alternatives describes what an anyOf/oneOf value could have been. Branches
// that failed only on their type are named by that type, and left out when
// the value had a right type but was out of range: `port: 70000` reads
// "<= 65535", not "<= 65535 or a string".
func alternatives(e *jsonschema.ValidationError) string {
	var typed, other []string
	rangeOnly := true // every branch past its type check failed on a range
	for _, branch := range e.Causes {
		leaves := leafKinds(branch)
		if len(leaves) == 1 {
			if t, ok := leaves[0].(*kind.Type); ok {
				typed = append(typed, typeNames(t.Want))
				continue
			}
		}
		var parts []string
		for _, l := range leaves {
			parts = append(parts, describe(l))
			switch l.(type) {
			case *kind.Minimum, *kind.Maximum, *kind.ExclusiveMinimum, *kind.ExclusiveMaximum:
			default:
				rangeOnly = false
			}
		}
		other = append(other, strings.Join(parts, " and "))
	}
	if rangeOnly && len(other) > 0 {
		return joinOr(other)
	}
	return joinOr(append(other, typed...))
}

func leafKinds(e *jsonschema.ValidationError) []jsonschema.ErrorKind {
	if len(e.Causes) == 0 {
		return []jsonschema.ErrorKind{e.ErrorKind}
	}
	var out []jsonschema.ErrorKind
	for _, c := range e.Causes {
		out = append(out, leafKinds(c)...)
	}
	return out
}

// describe states what a keyword wants, as one alternative of several.
func describe(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return typeNames(k.Want)
	case *kind.Const:
		return show(k.Want)
	case *kind.Enum:
		return "one of " + showList(k.Want)
	case *kind.Format:
		return formatName(k.Want)
	case *kind.Pattern:
		if what := patternMeaning(k.Want); what != "" {
			return what
		}
		return "a string matching " + k.Want
	case *kind.Minimum:
		return ">= " + num(k.Want)
	case *kind.Maximum:
		return "<= " + num(k.Want)
	}
	return leafMessage(k)
}

// patternMeaning says in words what a pattern of desired's grammar accepts
// (several constants may share a pattern, so this is a list, not a switch).
func patternMeaning(p string) string {
	for _, m := range []struct{ pattern, meaning string }{
		{desired.PatternName, "a valid name (1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit)"},
		{desired.PatternInterface, "a valid interface name (1 to 15 letters, digits, '.', '_', '@' or '-', starting with a letter or digit)"},
		{desired.PatternHostname, "a lowercase DNS name"},
		{desired.PatternURLPath, "an absolute URL path (starting with '/', at most 256 letters, digits and ._~!*+,;=:@/-)"},
		{desired.PatternHeaderName, "a valid header name (1 to 64 letters, digits and '-')"},
		{desired.PatternHeaderValue, "an allowed header value (at most 256 printable characters without '\"', '\\', '%', '$', '#' or control characters)"},
		{desired.PatternAbsPath, "an absolute path of letters, digits, '_', '.' and '-' (no '..', no spaces)"},
		{desired.PatternCertFile, "a path of letters, digits, '_', '.' and '-', relative or absolute (no '..', no spaces)"},
		{desired.PatternRelOrAbsPath, "a path of letters, digits, '_', '.' and '-', relative or absolute (no '..', no spaces)"},
		{desired.PatternPubKey, "0x followed by 64 lowercase hex digits"},
		{desired.PatternProviderID, "0x followed by 64 lowercase hex digits"},
		{desired.PatternClusterID, "0x followed by 40 lowercase hex digits"},
		{desired.PatternUser, "a Unix user name (up to 32 lowercase letters, digits, '_' or '-', starting with a letter or '_')"},
		{desired.PatternProcess, "a process name (1 to 15 letters, digits, '.', '_' or '-')"},
		{durationPattern, "a duration such as 500ms, 2s, 1m30s or 1h"},
	} {
		if m.pattern == p {
			return m.meaning
		}
	}
	return ""
}

func joinOr(alts []string) string {
	switch len(alts) {
	case 0:
		return "something else"
	case 1:
		return alts[0]
	}
	return strings.Join(alts[:len(alts)-1], ", ") + " or " + alts[len(alts)-1]
}

func typeNames(want []string) string {
	names := make([]string, len(want))
	for i, w := range want {
		names[i] = typeName(w)
	}
	return joinOr(names)
}

// valueType names the JSON type of a converted YAML value.
func valueType(v any) string {
	switch v := v.(type) {
	case nil:
		return typeName("null")
	case bool:
		return typeName("boolean")
	case string:
		return typeName("string")
	case []any:
		return typeName("array")
	case map[string]any:
		return typeName("object")
	case float64:
		if v == math.Trunc(v) {
			return typeName("integer")
		}
		return typeName("number")
	}
	return typeName("integer") // the Go integer types of convert
}

func typeName(t string) string {
	switch t {
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	case "string":
		return "a string"
	case "integer":
		return "an integer"
	case "number":
		return "a number"
	case "boolean":
		return "true or false"
	case "null":
		return "nothing (null)"
	}
	return t
}

func formatName(f string) string {
	switch f {
	case "ipv4":
		return "an IPv4 address"
	case "ipv6":
		return "an IPv6 address"
	case "hostname":
		return "a host name"
	}
	return "a valid " + f
}

func show(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case nil:
		return "nothing (null)"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprint(v)
}

func showList(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = show(v)
	}
	return strings.Join(parts, ", ")
}

func num(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}
