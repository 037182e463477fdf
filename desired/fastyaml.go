package desired

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// fastParse parses data into the same node tree yaml.Unmarshal(data, &root)
// builds (Kind, Tag, Value, Style, Line, Column and Content; comments are not
// kept), for a strict subset of YAML: block mappings and block sequences of
// single-line plain or simply quoted scalars and one-line flow sequences of
// simple words ("[a, b]"), with comments, in printable ASCII. It returns
// ok=false, declining, on anything outside that subset (other flow
// collections, anchors, tags, block or multi-line scalars, escapes, document
// markers, tabs, non-ASCII, ...) and on anything yaml.v3 would reject; the
// caller then uses yaml.v3. Whatever it accepts, yaml.v3 parses without
// error into the same tree (FuzzFastYAML and FuzzFastYAMLGrammar check it).
//
// It exists because yaml.v3's general parser dominates the cost of loading
// a large fleet, whose files are almost all flat `key: value` mappings.
func fastParse(data []byte) (*yaml.Node, bool) { return fastParseString(string(data)) }

// fastParseString is fastParse of a string; the values of the tree's
// scalars are substrings of s.
func fastParseString(s string) (*yaml.Node, bool) {
	p := fastParsers.Get().(*fastParser)
	defer p.release()
	if !p.splitLines(s) || len(p.lines) == 0 {
		return nil, false
	}
	p.slab = make([]yaml.Node, 0, 2*len(p.lines)+2)
	p.ptrs = make([]*yaml.Node, 0, 2*len(p.lines))
	first := p.lines[0]
	doc := p.node(yaml.DocumentNode, "", "", first.line, first.indent+1)
	top := p.block(first.indent, 0)
	if top == nil || p.i != len(p.lines) {
		return nil, false
	}
	doc.Content = []*yaml.Node{top}
	return doc, true
}

// fastLine is one line holding content (not blank, not only a comment).
type fastLine struct {
	line   int    // 1-based line number
	indent int    // 0-based column where text starts
	text   string // from indent to the end of the line, newline excluded
}

type fastParser struct {
	lines []fastLine
	i     int // the next line to parse
	slab  []yaml.Node
	ptrs  []*yaml.Node // backing store for Content slices
	stack []*yaml.Node // children of the containers being parsed

	entries []flatEntry // parseFlat's result
	field   []int       // decodeFlatFile's field of each entry
}

// fastParsers recycles the parsers' scratch space (lines and stack); the
// trees they build are allocated anew.
var fastParsers = sync.Pool{New: func() any { return new(fastParser) }}

// release returns p to the pool, keeping only its scratch space.
func (p *fastParser) release() {
	clear(p.lines)
	clear(p.stack)
	clear(p.entries)
	*p = fastParser{lines: p.lines[:0], stack: p.stack[:0], entries: p.entries[:0], field: p.field[:0]}
	fastParsers.Put(p)
}

// maxFastDepth bounds nesting, so hostile input cannot recurse deeply.
const maxFastDepth = 64

// maxFastKey bounds keys well below libyaml's 1024-character simple-key limit.
const maxFastKey = 128

// splitLines checks that data is printable ASCII without tabs, carriage
// returns or document markers and collects its content lines.
func (p *fastParser) splitLines(s string) bool {
	for ln, start := 1, 0; start < len(s); ln++ {
		end := start
		indent := -1
		for end < len(s) && s[end] != '\n' {
			c := s[end]
			if c < 0x20 || c > 0x7e {
				return false
			}
			if indent < 0 && c != ' ' {
				indent = end - start
			}
			end++
		}
		if indent >= 0 {
			text := s[start+indent : end]
			if indent == 0 && (strings.HasPrefix(text, "---") || strings.HasPrefix(text, "...") || text[0] == '%') {
				return false // document markers and directives
			}
			if text[0] != '#' {
				p.lines = append(p.lines, fastLine{line: ln, indent: indent, text: text})
			}
		}
		start = end + 1
	}
	return true
}

// node allocates a node from the slab.
func (p *fastParser) node(kind yaml.Kind, tag, value string, line, col int) *yaml.Node {
	if len(p.slab) == cap(p.slab) {
		p.slab = make([]yaml.Node, 0, 16)
	}
	// Fill the zeroed slot field by field: cheaper than copying a whole
	// Node in, which takes a bulk write barrier while the GC runs.
	p.slab = p.slab[:len(p.slab)+1]
	n := &p.slab[len(p.slab)-1]
	n.Kind, n.Tag, n.Value, n.Line, n.Column = kind, tag, value, line, col
	return n
}

// finish moves the children pushed since mark into n.Content.
func (p *fastParser) finish(n *yaml.Node, mark int) {
	kids := p.stack[mark:]
	if len(p.ptrs)+len(kids) > cap(p.ptrs) {
		p.ptrs = make([]*yaml.Node, 0, max(len(kids), 32))
	}
	start := len(p.ptrs)
	p.ptrs = append(p.ptrs, kids...)
	n.Content = p.ptrs[start:len(p.ptrs):len(p.ptrs)]
	p.stack = p.stack[:mark]
}

// block parses the block node whose first line is the current line, which
// starts at column indent.
func (p *fastParser) block(indent, depth int) *yaml.Node {
	if depth > maxFastDepth {
		return nil
	}
	ln := &p.lines[p.i]
	if isDashEntry(ln.text) {
		return p.sequence(indent, false, depth)
	}
	if _, ok := scanKey(ln.text); ok {
		return p.mapping(indent, depth)
	}
	// A lone scalar; a continuation line (a multi-line scalar) makes the
	// caller decline, as it is indented more than the caller expects.
	n := p.scalar(ln.text, ln.line, ln.indent+1)
	if n != nil {
		p.i++
	}
	return n
}

// mapping parses a block mapping whose keys start at column indent.
func (p *fastParser) mapping(indent, depth int) *yaml.Node {
	if depth > maxFastDepth {
		return nil
	}
	first := p.lines[p.i]
	m := p.node(yaml.MappingNode, "!!map", "", first.line, indent+1)
	mark := len(p.stack)
	for p.i < len(p.lines) {
		ln := p.lines[p.i]
		if ln.indent < indent {
			break
		}
		if ln.indent > indent {
			return nil
		}
		klen, ok := scanKey(ln.text)
		if !ok {
			return nil
		}
		kv := ln.text[:klen]
		key := p.node(yaml.ScalarNode, plainTag(kv), kv, ln.line, indent+1)
		rest := ln.text[klen+1:]
		valCol := indent + klen + 2 // 1-based column just after the ':'
		var val *yaml.Node
		if skipToComment(rest) {
			// The value is on the following lines, or null.
			p.i++
			switch {
			case p.i < len(p.lines) && p.lines[p.i].indent > indent:
				val = p.block(p.lines[p.i].indent, depth+1)
			case p.i < len(p.lines) && p.lines[p.i].indent == indent && isDashEntry(p.lines[p.i].text):
				val = p.sequence(indent, true, depth+1)
			default:
				val = p.node(yaml.ScalarNode, "!!null", "", ln.line, valCol)
			}
		} else {
			sp := countSpaces(rest)
			val = p.scalar(rest[sp:], ln.line, valCol+sp)
			p.i++
		}
		if val == nil {
			return nil
		}
		p.stack = append(p.stack, key, val)
	}
	p.finish(m, mark)
	return m
}

// sequence parses a block sequence whose dashes are at column indent. An
// indentless sequence (the value of a mapping key at the same column) ends
// at the first line of that column that is not an entry.
func (p *fastParser) sequence(indent int, indentless bool, depth int) *yaml.Node {
	if depth > maxFastDepth {
		return nil
	}
	first := p.lines[p.i]
	s := p.node(yaml.SequenceNode, "!!seq", "", first.line, indent+1)
	mark := len(p.stack)
	for p.i < len(p.lines) {
		ln := &p.lines[p.i]
		if ln.indent < indent {
			break
		}
		if ln.indent > indent {
			return nil
		}
		if !isDashEntry(ln.text) {
			if indentless {
				break
			}
			return nil
		}
		rest := ln.text[1:]
		var item *yaml.Node
		if skipToComment(rest) {
			p.i++
			if p.i < len(p.lines) && p.lines[p.i].indent > indent {
				item = p.block(p.lines[p.i].indent, depth+1)
			} else {
				item = p.node(yaml.ScalarNode, "!!null", "", ln.line, indent+2)
			}
		} else {
			sp := countSpaces(rest)
			col := indent + 1 + sp // 0-based column of the entry's content
			text := rest[sp:]
			if isDashEntry(text) {
				return nil // a sequence in a sequence on one line
			}
			if _, ok := scanKey(text); ok {
				// A mapping starting on the dash's line: from here on
				// the line reads as if it started at the first key.
				ln.indent, ln.text = col, text
				item = p.mapping(col, depth+1)
			} else {
				item = p.scalar(text, ln.line, col+1)
				p.i++
			}
		}
		if item == nil {
			return nil
		}
		p.stack = append(p.stack, item)
	}
	p.finish(s, mark)
	return s
}

// scalar parses a scalar that fills the rest of a line (text starts at the
// scalar, 1-based column col), but for trailing blanks and a comment.
func (p *fastParser) scalar(text string, line, col int) *yaml.Node {
	if text != "" && text[0] == '[' {
		return p.flowSequence(text, line, col)
	}
	v, tag, style, ok := scanScalar(text)
	if !ok {
		return nil
	}
	n := p.node(yaml.ScalarNode, tag, v, line, col)
	n.Style = style
	return n
}

// scanScalar reads a plain or simply quoted scalar that fills the rest of a
// line, but for trailing blanks and a comment, and returns its value, tag
// and style. It refuses flow collections and every other indicator.
func scanScalar(text string) (value, tag string, style yaml.Style, ok bool) {
	if text == "" {
		return "", "", 0, false
	}
	switch c := text[0]; c {
	case '\'', '"':
		end := strings.IndexByte(text[1:], c)
		if end < 0 {
			return "", "", 0, false
		}
		v := text[1 : end+1]
		if c == '"' && strings.IndexByte(v, '\\') >= 0 {
			return "", "", 0, false // escapes
		}
		if c == '\'' && end+2 < len(text) && text[end+2] == '\'' {
			return "", "", 0, false // '' escapes a quote
		}
		after := text[end+2:]
		if after != "" && (after[0] != ' ' || !skipToComment(after)) {
			return "", "", 0, false
		}
		style := yaml.DoubleQuotedStyle
		if c == '\'' {
			style = yaml.SingleQuotedStyle
		}
		return v, "!!str", style, true
	case ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '%', '@', '`', '?', ':':
		return "", "", 0, false // indicators: flow collections, anchors, tags, block scalars...
	case '-':
		if len(text) == 1 || text[1] == ' ' {
			return "", "", 0, false
		}
	}
	end := len(text)
	for j := 0; j < len(text); j++ {
		if c := text[j]; c == ':' {
			if j+1 == len(text) || text[j+1] == ' ' {
				return "", "", 0, false // a mapping value where none is allowed
			}
		} else if c == '#' && text[j-1] == ' ' { // j > 0: text[0] is not '#'
			end = j - 1
			break
		}
	}
	v := strings.TrimRight(text[:end], " ")
	if v == "<<" {
		return v, "!!merge", 0, true
	}
	return v, plainTag(v), 0, true
}

// flatEntry is one `key: value` line of a flat document: the key and value
// nodes fastParse would build, without building them. The tag of a plain
// value is left empty, to be resolved only when needed (see valueTag).
type flatEntry struct {
	key, keyTag    string
	value, valTag  string
	style          yaml.Style
	line           int // of both key and value
	keyCol, valCol int
}

// valueTag is the value's tag, resolving a plain scalar.
func (e *flatEntry) valueTag() string {
	if e.valTag != "" {
		return e.valTag
	}
	if e.value == "<<" {
		return "!!merge"
	}
	return plainTag(e.value)
}

// valueIsNull reports whether the value's tag is !!null, without resolving
// other plain scalars.
func (e *flatEntry) valueIsNull() bool {
	if e.valTag != "" {
		return e.valTag == "!!null"
	}
	switch e.value {
	case "~", "null", "Null", "NULL": // plainTag's nulls but the empty string
		return true
	}
	return false
}

// parseFlat parses s when it is a flat mapping: every content line, at one
// indentation, a key with a scalar value (or none: null) on the same line.
// Its entries are the pairs of nodes fastParseString builds for s, which
// FuzzFastYAML checks. The entries live in p's scratch space: they are valid
// until p is released.
func (p *fastParser) parseFlat(s string) ([]flatEntry, bool) {
	if !p.splitLines(s) || len(p.lines) == 0 {
		return nil, false
	}
	entries := p.entries[:0]
	indent := p.lines[0].indent
	for _, ln := range p.lines {
		if ln.indent != indent {
			return nil, false
		}
		klen, ok := scanKey(ln.text)
		if !ok {
			return nil, false
		}
		// Fill a slot in place rather than append a copy, which takes a
		// bulk write barrier while the GC runs.
		if len(entries) == cap(entries) {
			entries = append(entries, flatEntry{})[:len(entries)]
		}
		entries = entries[:len(entries)+1]
		e := &entries[len(entries)-1]
		*e = flatEntry{}
		e.key, e.line, e.keyCol, e.valCol = ln.text[:klen], ln.line, indent+1, indent+klen+2
		e.keyTag = plainTag(e.key)
		if rest := ln.text[klen+1:]; skipToComment(rest) {
			e.valTag = "!!null"
		} else {
			sp := countSpaces(rest)
			e.valCol += sp
			if e.value, e.valTag, e.style, ok = scanScalar(rest[sp:]); !ok {
				p.entries = entries
				return nil, false
			}
			if e.style == 0 {
				e.valTag = "" // resolved on demand
			}
		}
	}
	p.entries = entries
	return entries, true
}

// flowSequence parses a flow sequence of simple plain scalars that fills
// the rest of a line, such as "[a, b]" (but not "[a, b,]" nor nested flows).
func (p *fastParser) flowSequence(text string, line, col int) *yaml.Node {
	s := p.node(yaml.SequenceNode, "!!seq", "", line, col)
	s.Style = yaml.FlowStyle
	mark := len(p.stack)
	j := 1 + countSpaces(text[1:])
	if j < len(text) && text[j] == ']' {
		j++
	} else {
		for {
			start := j
			if j == len(text) || !isKeyStart(text[j]) {
				return nil
			}
			for j < len(text) && isKeyChar(text[j]) {
				j++
			}
			v := text[start:j]
			p.stack = append(p.stack, p.node(yaml.ScalarNode, plainTag(v), v, line, col+start))
			j += countSpaces(text[j:])
			if j == len(text) {
				return nil
			}
			if text[j] == ']' {
				j++
				break
			}
			if text[j] != ',' {
				return nil
			}
			j++
			j += countSpaces(text[j:])
		}
	}
	if after := text[j:]; after != "" && !skipToComment(after) {
		return nil
	}
	p.finish(s, mark)
	return s
}

// scanKey reports whether text starts with a simple plain key followed by
// ':' and a blank or the end of the line, and the key's length.
func scanKey(text string) (int, bool) {
	if text == "" || !isKeyStart(text[0]) {
		return 0, false
	}
	for j := 1; j < len(text) && j <= maxFastKey; j++ {
		c := text[j]
		if c == ':' {
			return j, j+1 == len(text) || text[j+1] == ' '
		}
		if !isKeyChar(c) {
			return 0, false
		}
	}
	return 0, false
}

func isKeyStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func isKeyChar(c byte) bool { return isKeyStart(c) || c == '-' || c == '.' || c == '/' }

// isDashEntry reports whether text starts a block sequence entry.
func isDashEntry(text string) bool {
	return text != "" && text[0] == '-' && (len(text) == 1 || text[1] == ' ')
}

// skipToComment reports whether s is empty or blanks, optionally followed
// by a comment after at least one blank.
func skipToComment(s string) bool {
	sp := countSpaces(s)
	return sp == len(s) || (sp > 0 && s[sp] == '#')
}

func countSpaces(s string) int {
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

// plainTag is the tag yaml.v3 resolves an untagged plain scalar to: a port
// of yaml.v3's resolve (resolve.go, v3.0.1) for tag "".
func plainTag(in string) string {
	if in == "" {
		return "!!null"
	}
	switch c := in[0]; {
	case c == '+' || c == '-' || c >= '0' && c <= '9':
		return numberTag(in)
	case c == '.':
		switch in {
		case ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF":
			return "!!float"
		}
		if _, err := strconv.ParseFloat(in, 64); err == nil {
			return "!!float"
		}
		return "!!str"
	case strings.IndexByte("yYnNtTfFoO~", c) >= 0:
		switch in {
		case "true", "True", "TRUE", "false", "False", "FALSE":
			return "!!bool"
		case "~", "null", "Null", "NULL":
			return "!!null"
		}
		return "!!str"
	}
	return "!!str"
}

var yamlStyleFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// numberTag resolves a plain scalar starting with a sign or a digit.
func numberTag(in string) string {
	switch in {
	case "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF":
		return "!!float"
	}
	if isTimestamp(in) {
		return "!!timestamp"
	}
	if tag, ok := quickNumberTag(in); ok {
		return tag
	}
	plain := strings.ReplaceAll(in, "_", "")
	if _, err := strconv.ParseInt(plain, 0, 64); err == nil {
		return "!!int"
	}
	if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
		return "!!int"
	}
	if yamlStyleFloat.MatchString(plain) {
		if _, err := strconv.ParseFloat(plain, 64); err == nil {
			return "!!float"
		}
	}
	switch {
	case strings.HasPrefix(plain, "0b"):
		if _, err := strconv.ParseInt(plain[2:], 2, 64); err == nil {
			return "!!int"
		}
		if _, err := strconv.ParseUint(plain[2:], 2, 64); err == nil {
			return "!!int"
		}
	case strings.HasPrefix(plain, "-0b"):
		if _, err := strconv.ParseInt("-"+plain[3:], 2, 64); err == nil {
			return "!!int"
		}
	case strings.HasPrefix(plain, "0o"):
		if _, err := strconv.ParseInt(plain[2:], 8, 64); err == nil {
			return "!!int"
		}
		if _, err := strconv.ParseUint(plain[2:], 8, 64); err == nil {
			return "!!int"
		}
	case strings.HasPrefix(plain, "-0o"):
		if _, err := strconv.ParseInt("-"+plain[3:], 8, 64); err == nil {
			return "!!int"
		}
	}
	return "!!str"
}

// quickNumberTag resolves the common plain scalars that start with a digit
// or a sign (after the timestamp check) without yaml.v3's chain of failing
// parses: decimal integers such as ports, IP addresses, long hex keys. It
// reports false when the faithful path must decide.
func quickNumberTag(in string) (string, bool) {
	if len(in) > 2 && in[0] == '0' && in[1] == 'x' {
		// Hex: more than 16 significant digits overflow every parse.
		digits := in[2:]
		for i := 0; i < len(digits); i++ {
			if numClass[digits[i]] != numDigit && numClass[digits[i]] != numHex {
				return "", false
			}
		}
		if len(digits) > 16 && digits[0] != '0' {
			return "!!str", true
		}
		return "", false
	}
	dots, decimal := 0, true
	for i := 0; i < len(in); i++ {
		switch numClass[in[i]] {
		case numDigit:
		case numDot:
			dots++
			decimal = false
		case numHex, numOther:
			decimal = false
		default:
			return "!!str", true // a character no integer or float syntax has
		}
	}
	switch {
	case dots > 1:
		return "!!str", true // floats have at most one '.', integers none
	case decimal && len(in) <= 18 && (in[0] != '0' || len(in) == 1):
		return "!!int", true // fits an int64; a leading 0 would be octal
	}
	return "", false
}

// Character classes of numeric syntax, for quickNumberTag.
const (
	numNone  = iota // in no integer or float
	numDigit        // 0-9
	numHex          // a-f, A-F
	numDot          // .
	numOther        // x X o O + - _
)

var numClass = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = numDigit
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c], t[c-'a'+'A'] = numHex, numHex
	}
	t['.'] = numDot
	for _, c := range "xXoO+-_" {
		t[c] = numOther
	}
	return t
}()

// timestampFormats are yaml.v3's allowedTimestampFormats.
var timestampFormats = []string{
	"2006-1-2T15:4:5.999999999Z07:00",
	"2006-1-2t15:4:5.999999999Z07:00",
	"2006-1-2 15:4:5.999999999",
	"2006-1-2",
}

// isTimestamp is yaml.v3's parseTimestamp, reporting success only.
func isTimestamp(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		if c := s[i]; c < '0' || c > '9' {
			break
		}
	}
	if i != 4 || i == len(s) || s[i] != '-' {
		return false
	}
	for _, format := range timestampFormats {
		if _, err := time.Parse(format, s); err == nil {
			return true
		}
	}
	return false
}
