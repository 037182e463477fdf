package reconciler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"

	"github.com/ddc-gitops/ddc-gitops/gittree"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
)

// DirSource reads the desired state straight from a working directory (dev
// mode, `agent --watch DIR`): each Sync snapshots the directory in memory,
// exactly as a commit of it would hold it (gittree.FromDir: regular files
// up to the size limits, symbolic links kept as links and followed only
// inside the tree, anything else an error, .git left out), and names the
// revision after a hash of the snapshot, so an unchanged directory is an
// unchanged revision.
type DirSource struct {
	Dir string
	// Limits bound what one snapshot reads (gittree's defaults when zero).
	Limits gittree.DirLimits
}

// Sync snapshots the directory.
func (d *DirSource) Sync(ctx context.Context) (*source.Snapshot, error) {
	files, err := gittree.FromDir(ctx, d.Dir, d.Limits)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", d.Dir, err)
	}
	h := sha256.New()
	var newest fs.FileInfo
	err = fs.WalkDir(files, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			target, err := fs.ReadLink(files, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "l\x00%s\x00%s\x00", p, target)
		case e.Type().IsRegular():
			b, err := fs.ReadFile(files, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
			h.Write(b)
			if newest == nil {
				newest, _ = e.Info()
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hashing %s: %w", d.Dir, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	rev := gittree.Revision{Hash: "dir-" + sum[:40], Author: "working directory", Message: d.Dir}
	if newest != nil {
		rev.Time = newest.ModTime() // every file carries the newest modification time
	}
	return &source.Snapshot{Revision: rev, FS: files}, nil
}
