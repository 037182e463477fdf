package desired

import (
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Pos is a 1-based line and column in a file.
type Pos struct{ Line, Col int }

// Source remembers where every field of every loaded file is, so validation
// errors can name file:line:col. Paths are dotted field paths as written in
// YAML ("hosts[1].address").
//
// A file's index is built from the file's text on the first question about
// that file (validation asks only to report a problem, so most files are
// never indexed). Source is safe for concurrent use.
type Source struct {
	files map[string]*fileIndex
}

// fileIndex locates the fields of one file. It is built once, on first use,
// from text (the file as it was read, before duplicate keys were dropped).
type fileIndex struct {
	once     sync.Once
	text     string
	yamlOnly bool                 // parse text with yaml.v3 alone (see loader)
	values   map[string]Pos       // position of a field's value
	kinds    map[string]yaml.Kind // kind of a field's value
	keys     map[string]Pos       // position of a field's key
}

// newFileIndex returns the index of a file with contents text, which must
// parse as YAML.
func newFileIndex(text string, yamlOnly bool) *fileIndex {
	return &fileIndex{text: text, yamlOnly: yamlOnly}
}

// build fills the index on first use.
func (idx *fileIndex) build() *fileIndex {
	idx.once.Do(func() {
		idx.values = map[string]Pos{}
		idx.kinds = map[string]yaml.Kind{}
		idx.keys = map[string]Pos{}
		var root *yaml.Node
		ok := false
		if !idx.yamlOnly {
			root, ok = fastParseString(idx.text)
		}
		if !ok {
			root = &yaml.Node{}
			// The text parsed when it was loaded, so this cannot fail;
			// should it, the index stays empty.
			_ = yaml.Unmarshal([]byte(idx.text), root)
		}
		if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
			idx.walk("", root.Content[0])
		}
		idx.text = ""
	})
	return idx
}

// Pos returns the position of the field at path in file. When the field is
// absent (a missing required field) it returns the position of its nearest
// present parent; for an unknown file it returns the zero Pos.
func (s Source) Pos(file, path string) Pos {
	idx := s.files[file]
	if idx == nil {
		return Pos{}
	}
	return idx.pos(path)
}

func (idx *fileIndex) pos(path string) Pos {
	idx.build()
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
	_, ok := idx.build().values[path]
	return ok
}

// KeyAt returns the path of the mapping key named key on line in file (used to
// locate decode errors, which yaml.v3 reports by line only).
func (s Source) KeyAt(file string, line int, key string) (string, Pos, bool) {
	idx := s.files[file]
	if idx == nil {
		return "", Pos{}, false
	}
	return idx.keyAt(line, key)
}

func (idx *fileIndex) keyAt(line int, key string) (string, Pos, bool) {
	best := ""
	var bestPos Pos
	for p, pos := range idx.build().keys {
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
	return idx.fieldAt(line, kind)
}

func (idx *fileIndex) fieldAt(line int, kind yaml.Kind) (string, Pos, bool) {
	best, bestPos, found := "", Pos{}, false
	for p, pos := range idx.build().values {
		if pos.Line != line || idx.kinds[p] != kind {
			continue
		}
		if !found || pos.Col > bestPos.Col || (pos.Col == bestPos.Col && len(p) > len(best)) {
			best, bestPos, found = p, pos, true
		}
	}
	return best, bestPos, found
}

// add records the index of file.
func (s *Source) add(file string, idx *fileIndex) {
	if s.files == nil {
		s.files = map[string]*fileIndex{}
	}
	s.files[file] = idx
}

// walk indexes the literal tree: an alias is located where it is written
// and not followed (the fields of the block it names are indexed where that
// block is written), so the index is linear in the file's size whatever its
// aliases would expand to.
func (idx *fileIndex) walk(path string, n *yaml.Node) {
	if _, ok := idx.values[path]; !ok {
		kind := n.Kind
		if kind == yaml.AliasNode && n.Alias != nil {
			kind = n.Alias.Kind
		}
		idx.values[path] = Pos{n.Line, n.Column}
		idx.kinds[path] = kind
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
