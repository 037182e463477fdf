package desired

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Pos is a 1-based line and column in a file.
type Pos struct{ Line, Col int }

// Source remembers where every field of every loaded file is, so validation
// errors can name file:line:col. Paths are dotted field paths as written in
// YAML ("hosts[1].address").
type Source struct {
	files map[string]*fileIndex
}

type fileIndex struct {
	values map[string]Pos       // position of a field's value
	kinds  map[string]yaml.Kind // kind of a field's value
	keys   map[string]Pos       // position of a field's key
}

// Pos returns the position of the field at path in file. When the field is
// absent (a missing required field) it returns the position of its nearest
// present parent; for an unknown file it returns the zero Pos.
func (s Source) Pos(file, path string) Pos {
	idx := s.files[file]
	if idx == nil {
		return Pos{}
	}
	for p := path; ; p = parentPath(p) {
		if pos, ok := idx.values[p]; ok {
			return pos
		}
		if p == "" {
			return Pos{1, 1}
		}
	}
}

// has reports whether the field at path is present in file.
func (s Source) has(file, path string) bool {
	idx := s.files[file]
	if idx == nil {
		return false
	}
	_, ok := idx.values[path]
	return ok
}

// KeyAt returns the path of the mapping key named key on line in file (used to
// locate decode errors, which yaml.v3 reports by line only).
func (s Source) KeyAt(file string, line int, key string) (string, Pos, bool) {
	idx := s.files[file]
	if idx == nil {
		return "", Pos{}, false
	}
	best := ""
	var bestPos Pos
	for p, pos := range idx.keys {
		if pos.Line != line || lastSegment(p) != key {
			continue
		}
		if best == "" || p < best {
			best, bestPos = p, pos
		}
	}
	return best, bestPos, best != ""
}

// FieldAt returns the path of the innermost value of the given kind that
// starts on line in file (the rightmost one when several do).
func (s Source) FieldAt(file string, line int, kind yaml.Kind) (string, Pos, bool) {
	idx := s.files[file]
	if idx == nil {
		return "", Pos{}, false
	}
	best, bestPos, found := "", Pos{}, false
	for p, pos := range idx.values {
		if pos.Line != line || idx.kinds[p] != kind {
			continue
		}
		if !found || pos.Col > bestPos.Col || (pos.Col == bestPos.Col && len(p) > len(best)) {
			best, bestPos, found = p, pos, true
		}
	}
	return best, bestPos, found
}

func (s *Source) add(file string, root *yaml.Node) {
	if s.files == nil {
		s.files = map[string]*fileIndex{}
	}
	idx := &fileIndex{values: map[string]Pos{}, kinds: map[string]yaml.Kind{}, keys: map[string]Pos{}}
	if root != nil && root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		idx.walk("", root.Content[0])
	}
	s.files[file] = idx
}

func (idx *fileIndex) walk(path string, n *yaml.Node) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if _, ok := idx.values[path]; !ok {
		idx.values[path] = Pos{n.Line, n.Column}
		idx.kinds[path] = n.Kind
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinPath(path, k.Value)
			if _, ok := idx.keys[p]; !ok {
				idx.keys[p] = Pos{k.Line, k.Column}
			}
			idx.walk(p, v)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			idx.walk(path+"["+strconv.Itoa(i)+"]", c)
		}
	}
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func parentPath(p string) string {
	if p == "" {
		return ""
	}
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

func lastSegment(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[i+1:]
	}
	return p
}
