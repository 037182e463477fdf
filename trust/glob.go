package trust

import (
	"errors"
	"path"
	"strings"
)

// Path patterns of rules: slash-separated like the repository's paths;
// within a segment '*', '?' and '[...]' as in path.Match (never crossing a
// '/'); a segment "**" matches any number of segments, none included.
// "nodes/*.yaml" is nodes' direct YAML files, "backends/**" everything
// under backends/, "**" every path.

// checkPattern reports why pattern is not a valid rule path.
func checkPattern(pattern string) error {
	if pattern == "" || strings.HasPrefix(pattern, "/") || strings.HasSuffix(pattern, "/") {
		return errors.New("want a relative, slash-separated pattern")
	}
	for _, seg := range strings.Split(pattern, "/") {
		switch {
		case seg == "" || seg == "." || seg == "..":
			return errors.New("empty, '.' or '..' segment")
		case strings.Contains(seg, "**") && seg != "**":
			return errors.New("'**' must be a whole segment")
		}
		if _, err := path.Match(seg, ""); err != nil {
			return err
		}
	}
	return nil
}

// matchPath reports whether the repository path name matches pattern
// (valid per checkPattern).
func matchPath(pattern, name string) bool {
	return matchSegs(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func matchSegs(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			for i := 0; i <= len(name); i++ {
				if matchSegs(rest, name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}
