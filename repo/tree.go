package repo

import (
	"fmt"
	"path"
	"strings"
)

// cleanPath checks a repository-relative path a change writes: slash
// separated, no "." or ".." segments, not inside .git.
func cleanPath(p string) error {
	if p == "" || path.IsAbs(p) || path.Clean(p) != p || strings.HasPrefix(p, "../") || p == ".." {
		return fmt.Errorf("invalid path %q", p)
	}
	if p == ".git" || strings.HasPrefix(p, ".git/") {
		return fmt.Errorf("invalid path %q: inside .git", p)
	}
	return nil
}
