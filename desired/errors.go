package desired

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in the desired state, located in a file.
type Error struct {
	File string // path relative to the fleet root, slash-separated
	Line int    // 1-based; 0 when unknown
	Col  int    // 1-based; 0 when unknown
	// Field is the dotted path of the offending field inside the file
	// (e.g. "hosts[1].address"); empty for file-level errors.
	Field string
	Msg   string
}

// Error formats the error as file:line:col: field: message.
func (e Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found, sorted by file and position. It is returned
// as an error only when it is not empty.
type Errors []Error

// Error joins all errors, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Sort orders the errors by file, line, column and message, and drops exact duplicates.
func (es *Errors) Sort() {
	s := *es
	sort.SliceStable(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.Msg < b.Msg
	})
	out := s[:0]
	for i, e := range s {
		if i > 0 && e == s[i-1] {
			continue
		}
		out = append(out, e)
	}
	*es = out
}

// Err returns es as an error, or nil when it is empty.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	es.Sort()
	return es
}
