//go:build !linux

package source

import (
	"errors"
	"os"
	"path/filepath"
)

// swapDir moves dir to final, moving an existing final aside first; the
// returned path (the old clone) is for the caller to remove.
func swapDir(dir, final string) (string, error) {
	if _, err := os.Lstat(final); errors.Is(err, os.ErrNotExist) {
		return "", os.Rename(dir, final)
	}
	old, err := os.MkdirTemp(filepath.Dir(final), oldPrefix)
	if err != nil {
		return "", err
	}
	aside := filepath.Join(old, "repo")
	if err := os.Rename(final, aside); err != nil {
		_ = os.Remove(old)
		return "", err
	}
	if err := os.Rename(dir, final); err != nil {
		_ = os.Rename(aside, final)
		_ = os.Remove(old)
		return "", err
	}
	return old, nil
}
