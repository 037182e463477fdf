package gittree

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// OpenRepository opens the git repository at path (a bare repository, or a
// working directory with a .git directory) tuned for reading many objects:
// pack files stay open between reads. The closer releases them; the
// repository must not be used after it.
//
// The returned repository is not safe for concurrent use.
func OpenRepository(path string) (*git.Repository, io.Closer, error) {
	return OpenRepositoryCache(path, 4*cache.MiByte)
}

// OpenRepositoryCache is OpenRepository with an object cache of cacheSize
// bytes (decoded objects kept for reuse, e.g. as delta bases): a reader
// that keeps what it read elsewhere (the agent's snapshots) needs little.
func OpenRepositoryCache(path string, cacheSize cache.FileSize) (*git.Repository, io.Closer, error) {
	dot := path
	if st, err := os.Stat(filepath.Join(path, git.GitDirName)); err == nil && st.IsDir() {
		dot = filepath.Join(path, git.GitDirName)
	}
	if _, err := os.Stat(filepath.Join(dot, "HEAD")); err != nil {
		// Not a plain layout (e.g. a .git file of a linked worktree): let
		// go-git find the repository its own way.
		repo, perr := git.PlainOpen(path)
		if perr != nil {
			return nil, nil, perr
		}
		return repo, io.NopCloser(nil), nil
	}
	s := filesystem.NewStorageWithOptions(osfs.New(dot), cache.NewObjectLRU(cacheSize), filesystem.Options{
		KeepDescriptors: true,
	})
	repo, err := git.Open(s, nil)
	if err != nil {
		_ = s.Close()
		return nil, nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return repo, s, nil
}
