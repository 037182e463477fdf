package reconciler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing/fstest"
	"time"

	"github.com/ddc-gitops/ddc-gitops/gittree"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
)

// DirSource reads the desired state straight from a working directory (dev
// mode, `agent --watch DIR`): each Sync snapshots the directory in memory
// and names the revision after a hash of its contents, so an unchanged
// directory is an unchanged revision. Hidden files and directories (.git)
// are skipped.
type DirSource struct {
	Dir string
}

// Sync snapshots the directory.
func (d *DirSource) Sync(ctx context.Context) (*source.Snapshot, error) {
	root := os.DirFS(d.Dir)
	files := fstest.MapFS{}
	h := sha256.New()
	var newest time.Time
	err := fs.WalkDir(root, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if p != "." && strings.HasPrefix(path.Base(p), ".") {
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if e.IsDir() || !e.Type().IsRegular() {
			return nil
		}
		b, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err == nil && info.ModTime().After(newest) {
			newest = info.ModTime()
		}
		files[p] = &fstest.MapFile{Data: b, Mode: 0o644}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", d.Dir, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	return &source.Snapshot{
		Revision: gittree.Revision{Hash: "dir-" + sum[:40], Time: newest, Author: "working directory", Message: d.Dir},
		FS:       files,
	}, nil
}
