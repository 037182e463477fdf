package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/gittree"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

// revertFile is one file the revert writes: data nil removes it.
type revertFile struct {
	path string
	data []byte
	// commit is the file as the reverted commit left it (nil: absent),
	// which the head must still have.
	commit []byte
}

// revertFiles compares head with what cd changed: a file the head still
// has as the commit left it is restored to the parent's version; one the
// head has as the parent had it needs nothing; any other is a conflict.
func revertFiles(head fs.FS, cd *repo.CommitDiff) (files []revertFile, conflicts []string, err error) {
	for _, f := range cd.Files {
		cur, err := fs.ReadFile(head, f.Path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			cur = nil
		case err != nil:
			return nil, nil, fmt.Errorf("reading %s on the head: %w", f.Path, err)
		case cur == nil:
			cur = []byte{}
		}
		switch {
		case sameFile(cur, f.After):
			files = append(files, revertFile{path: f.Path, data: f.Before, commit: f.After})
		case sameFile(cur, f.Before):
		default:
			conflicts = append(conflicts, f.Path)
		}
	}
	return files, conflicts, nil
}

// sameFile compares two file versions, nil meaning absent.
func sameFile(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

// errHeadMoved: the branch changed a reverted file between the check and
// the commit.
var errHeadMoved = errors.New("the branch changed a file of the revert while it was built")

// revertEdit writes the revert on the head the commit is built on, after
// checking that the head still has each file as the commit left it.
func revertEdit(files []revertFile) func(t *repo.Tree) error {
	return func(t *repo.Tree) error {
		for _, f := range files {
			cur, err := t.ReadFile(f.path)
			if err != nil {
				cur = nil
			}
			if !sameFile(cur, f.commit) {
				return errHeadMoved
			}
			if f.data == nil {
				err = t.Remove(f.path)
			} else {
				err = t.WriteFile(f.path, f.data)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
}

// invalidRevert: the fleet with the revert does not validate.
type invalidRevert struct{ err error }

func (e *invalidRevert) Error() string {
	return "the fleet with the revert would not validate: " + e.err.Error()
}

// revertCandidate is head with files applied.
func revertCandidate(head fs.FS, files []revertFile) (fs.FS, error) {
	all := map[string][]byte{}
	err := fs.WalkDir(head, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(head, path)
		all[path] = b
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the branch head: %w", err)
	}
	for _, f := range files {
		if f.data == nil {
			delete(all, f.path)
		} else {
			all[f.path] = f.data
		}
	}
	return gittree.FromFiles(all, time.Time{})
}

// revertFingerprint identifies a proposal's content: the commit, the files
// it restores and the hosts' evidence. The branch is rebuilt when it
// changes (or the head moves).
func revertFingerprint(rev string, files []revertFile, hosts []RevertHost) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", rev)
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%t\x00", f.path, f.data == nil)
		h.Write(f.data)
		h.Write([]byte{0})
	}
	for _, ho := range hosts {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00", ho.Host, ho.At.Format(time.RFC3339Nano), ho.Reason)
		for _, e := range ho.Evidence {
			fmt.Fprintf(h, "%s\x00%s\x00%g\x00%g\x00%g\x00%t\x00", e.Signal, e.Subject, e.Before, e.After, e.Threshold, e.Tripped)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// fingerprintTrailer carries the fingerprint in the revert commit.
const fingerprintTrailer = "Revert-Fingerprint"

// trailerValue returns the value of the last "key: value" line of msg.
func trailerValue(msg, key string) string {
	val := ""
	for line := range strings.SplitSeq(msg, "\n") {
		if v, ok := strings.CutPrefix(line, key+": "); ok {
			val = strings.TrimSpace(v)
		}
	}
	return val
}

func isFullHash(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// loadForRevert loads fsys for the revert's plan.
func loadForRevert(fsys fs.FS, what string) (*desired.Fleet, error) {
	f, err := desired.Load(fsys)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", what, err)
	}
	return f, nil
}
