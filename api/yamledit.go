package api

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/ddc-gitops/ddc-gitops/repo"
)

// The API edits desired-state files as YAML node trees, so comments, key
// order, flow lists and the files' 2-space layout survive an edit: only
// the changed entries differ in the diff.

// errUnchanged, returned by an editYAML callback, leaves the file as it is.
var errUnchanged = errors.New("file unchanged")

// editYAML rewrites file in t through fn, which edits the top-level mapping.
func editYAML(t *repo.Tree, file string, fn func(doc *yaml.Node) error) error {
	b, err := t.ReadFile(file)
	if err != nil {
		return fmt.Errorf("reading %s: %w", file, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return fmt.Errorf("parsing %s: %w", file, err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return fmt.Errorf("editing %s: the file is not a YAML mapping", file)
	}
	if err := fn(root.Content[0]); errors.Is(err, errUnchanged) {
		return nil
	} else if err != nil {
		return err
	}
	out, err := encodeYAML(&root)
	if err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	return t.WriteFile(file, out)
}

func encodeYAML(n *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// mapIndex returns the index in m.Content of key's value, or -1.
func mapIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i + 1
		}
	}
	return -1
}

// mapGet returns key's value in mapping m, or nil.
func mapGet(m *yaml.Node, key string) *yaml.Node {
	if i := mapIndex(m, key); i >= 0 {
		return m.Content[i]
	}
	return nil
}

// mapSet replaces key's value in m, or appends the key at the end.
func mapSet(m *yaml.Node, key string, v *yaml.Node) {
	if i := mapIndex(m, key); i >= 0 {
		v.HeadComment, v.LineComment = m.Content[i].HeadComment, m.Content[i].LineComment
		m.Content[i] = v
		return
	}
	m.Content = append(m.Content, strNode(key), v)
}

// mapDelete removes key from m.
func mapDelete(m *yaml.Node, key string) {
	if i := mapIndex(m, key); i >= 0 {
		m.Content = append(m.Content[:i-1], m.Content[i+1:]...)
	}
}

func strNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func intNode(n int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(n)}
}

func boolNode(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

// serversSeq returns the backend's servers list, creating an empty block
// list when the key is missing or null.
func serversSeq(doc *yaml.Node) (*yaml.Node, error) {
	seq := mapGet(doc, "servers")
	switch {
	case seq == nil || (seq.Kind == yaml.ScalarNode && seq.Tag == "!!null"):
		seq = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		mapSet(doc, "servers", seq)
	case seq.Kind != yaml.SequenceNode:
		return nil, fmt.Errorf("servers is not a list (line %d)", seq.Line)
	}
	if len(seq.Content) == 0 {
		seq.Style = 0 // `servers: []` becomes a block list once it has entries
	}
	return seq, nil
}

// serverField returns the scalar value of key in a server mapping.
func serverField(s *yaml.Node, key string) string {
	if v := mapGet(s, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}
