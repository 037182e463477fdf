package desired

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written in YAML as a Go duration string ("2s", "500ms", "1h").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML parses a duration string. Errors are *yaml.TypeError so the
// decoder keeps collecting the file's other errors.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot unmarshal %s `%s` into duration", n.Line, shortTag(n), n.Value)}}
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: invalid duration %q (want e.g. 500ms, 2s, 1m)", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) {
	if d == 0 {
		return nil, nil
	}
	return time.Duration(d).String(), nil
}

// IsZero lets `omitempty` drop unset durations.
func (d Duration) IsZero() bool { return d == 0 }

func shortTag(n *yaml.Node) string {
	if n.Kind == yaml.MappingNode {
		return "!!map"
	}
	if n.Kind == yaml.SequenceNode {
		return "!!seq"
	}
	return n.Tag
}
