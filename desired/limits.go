package desired

import (
	"fmt"
	"sort"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Limits on what loading one fleet may cost, whatever its files hold. Files
// come from anyone who can push to the branch or open a pull request, so
// every consumer of them (validate, the API, the agent, the bot) must finish
// in bounded time and memory on any input: an input beyond a limit is a
// validation error with a position, never a crash.
const (
	// MaxFileBytes is the largest desired-state file (1 MiB). The largest
	// real files (a backend with a thousand servers) are about 100 KiB.
	MaxFileBytes = 1 << 20
	// MaxYAMLNodes bounds the YAML nodes of one file with every alias
	// expanded: anchors and aliases may share a block, not multiply it (a
	// "billion laughs" file is refused before anything walks it).
	MaxYAMLNodes = 100_000
	// MaxYAMLDepth bounds nesting (aliases expanded). The model's deepest
	// field is five levels down.
	MaxYAMLDepth = 32
	// MaxFileErrors is how many problems are reported for one file; the
	// rest of that file is not reported.
	MaxFileErrors = 100
	// MaxErrors is how many problems are reported for a whole fleet.
	MaxErrors = 1000
)

// shapeError checks the tree of one parsed file against MaxYAMLNodes and
// MaxYAMLDepth, expanding aliases by their memoised sizes (so the check
// itself is linear in the file), and returns the error at the first node
// that crosses a limit, or nil.
func shapeError(file string, doc *yaml.Node) *Error {
	s := shape{memo: map[*yaml.Node][2]int{}}
	if size, height := s.measure(doc, 0); size <= MaxYAMLNodes && height <= MaxYAMLDepth {
		return nil
	}
	if e := s.locate(file, "", doc, 1); e != nil {
		return e
	}
	return &Error{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("the file expands beyond %d YAML nodes or %d levels", MaxYAMLNodes, MaxYAMLDepth)}
}

type shape struct {
	memo  map[*yaml.Node][2]int // size and height of nodes already measured
	count int                   // nodes seen so far by locate
}

// measure returns the number of nodes under n (n included) and the height
// of n, aliases expanded. Sizes saturate, so a bomb cannot overflow them.
func (s *shape) measure(n *yaml.Node, depth int) (size, height int) {
	if n == nil {
		return 0, 0
	}
	if m, ok := s.memo[n]; ok {
		return m[0], m[1]
	}
	if depth > 10*MaxYAMLDepth {
		// Deeper than any limit: no need to look further (and no deep
		// recursion on hostile input).
		return MaxYAMLNodes + 1, MaxYAMLDepth + 1
	}
	s.memo[n] = [2]int{MaxYAMLNodes + 1, MaxYAMLDepth + 1} // a cycle is over every limit
	size, height = 1, 1
	if n.Kind == yaml.AliasNode {
		size, height = s.measure(n.Alias, depth+1)
	}
	for _, c := range n.Content {
		cs, ch := s.measure(c, depth+1)
		size = min(size+cs, MaxYAMLNodes+1)
		height = max(height, ch+1)
	}
	s.memo[n] = [2]int{size, height}
	return size, height
}

// locate walks the literal tree in document order and returns the error at
// the first node where the running count of nodes (aliases expanded) or
// the depth goes over its limit.
func (s *shape) locate(file, path string, n *yaml.Node, depth int) *Error {
	size, height := s.measure(n, 0)
	if n.Kind == yaml.AliasNode {
		if s.count+size > MaxYAMLNodes {
			return &Error{File: file, Line: n.Line, Col: n.Column, Field: path, Msg: fmt.Sprintf(
				"alias *%s expands the file beyond %d YAML nodes: anchors and aliases may share a block, not multiply it", n.Value, MaxYAMLNodes)}
		}
		if depth+height-1 > MaxYAMLDepth {
			return &Error{File: file, Line: n.Line, Col: n.Column, Field: path, Msg: fmt.Sprintf(
				"alias *%s nests the file deeper than %d levels", n.Value, MaxYAMLDepth)}
		}
		s.count += size
		return nil
	}
	s.count++
	if s.count > MaxYAMLNodes {
		return &Error{File: file, Line: n.Line, Col: n.Column, Field: path, Msg: fmt.Sprintf(
			"the file has more than %d YAML nodes", MaxYAMLNodes)}
	}
	if depth > MaxYAMLDepth {
		return &Error{File: file, Line: n.Line, Col: n.Column, Field: path, Msg: fmt.Sprintf(
			"nested deeper than %d levels", MaxYAMLDepth)}
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := joinPath(path, n.Content[i].Value)
			if e := s.locate(file, p, n.Content[i], depth+1); e != nil {
				return e
			}
			if e := s.locate(file, p, n.Content[i+1], depth+1); e != nil {
				return e
			}
		}
	default:
		for i, c := range n.Content {
			p := path
			if n.Kind == yaml.SequenceNode {
				p += "[" + strconv.Itoa(i) + "]"
			}
			if e := s.locate(file, p, c, depth+1); e != nil {
				return e
			}
		}
	}
	return nil
}

// sizeError reports a file over MaxFileBytes.
func sizeError(file string, n int) Error {
	return Error{File: file, Msg: fmt.Sprintf("file is %d bytes, more than the limit of %d bytes (1 MiB) for one desired-state file", n, MaxFileBytes)}
}

// capErrors keeps the first max errors (sorted) and says how many were left out.
func capErrors(es Errors, max int, where string) Errors {
	if len(es) <= max {
		return es
	}
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	file := ""
	if where != "" {
		file = where
	} else if len(es) > 0 {
		file = es[max-1].File
	}
	out := append(es[:max:max], Error{File: file, Msg: fmt.Sprintf("more than %d problems; stopped reporting (fix these first)", max)})
	return out
}
