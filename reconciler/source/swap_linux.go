package source

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// swapDir moves dir to final. When final exists the two are exchanged in one
// atomic rename (renameat2 RENAME_EXCHANGE), so final always names a whole
// clone, and the returned path (the old clone, now at dir) is for the caller
// to remove. It falls back to two renames where the kernel or file system
// cannot exchange.
func swapDir(dir, final string) (old string, err error) {
	if _, err := os.Lstat(final); errors.Is(err, os.ErrNotExist) {
		return "", os.Rename(dir, final)
	}
	err = unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, final, unix.RENAME_EXCHANGE)
	if err == nil {
		return dir, nil
	}
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
		return "", fmt.Errorf("exchanging %s and %s: %w", dir, final, err)
	}
	return renameAside(dir, final)
}

// renameAside moves final out of the way, then dir into its place.
func renameAside(dir, final string) (string, error) {
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
