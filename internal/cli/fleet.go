package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/gittree"
	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
	"github.com/ddc-gitops/ddc-gitops/schemas"
)

// fleetSource is a fleet location given on the command line: a directory, or
// git:REPO@REV for a revision of a git repository.
type fleetSource struct {
	arg  string
	fsys fs.FS
	// dir is the absolute directory for a directory source (empty for git),
	// used to resolve a relative crtBase and to print error paths.
	dir string
}

func openFleet(ctx context.Context, arg string) (*fleetSource, error) {
	if rest, ok := strings.CutPrefix(arg, "git:"); ok {
		repo, rev, found := strings.Cut(rest, "@")
		if !found || repo == "" || rev == "" {
			return nil, cmdkit.UsageError{Err: fmt.Errorf("%q: want git:REPO@REV (e.g. git:.@HEAD~1)", arg)}
		}
		fsys, _, err := gittree.Open(repo, rev)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", arg, err)
		}
		return &fleetSource{arg: arg, fsys: fsys}, nil
	}
	abs, err := filepath.Abs(arg)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", arg, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("opening fleet directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory (a fleet is a directory with fleet.yaml at its root)", arg)
	}
	// Read the directory as a commit of it would hold it, so validate DIR
	// and validate git:REPO@REV judge the same tree the same way: regular
	// files only (size-capped), links followed only inside the tree, pipes
	// and devices refused.
	fsys, err := gittree.FromDir(ctx, abs, gittree.DirLimits{MaxFileBytes: desired.MaxFileBytes})
	if err != nil {
		return nil, fmt.Errorf("reading fleet directory %s: %w", arg, err)
	}
	return &fleetSource{arg: arg, fsys: fsys, dir: abs}, nil
}

// load runs the Go validation and, for the files it found nothing wrong in,
// the JSON Schemas. Errors name files as the user gave the fleet location.
func (s *fleetSource) load() (*desired.Fleet, desired.Errors) {
	f, err := desired.Load(s.fsys)
	var errs desired.Errors
	if err != nil && !errors.As(err, &errs) {
		errs = desired.Errors{{File: desired.FleetFile, Msg: err.Error()}}
	}
	if f != nil {
		v, verr := schemas.New()
		if verr != nil {
			errs = append(errs, desired.Error{File: "schemas", Msg: fmt.Sprintf("loading the embedded JSON Schemas: %v", verr)})
		} else {
			bad := map[string]bool{}
			for _, e := range errs {
				bad[e.File] = true
			}
			for _, e := range v.ValidateFleet(s.fsys, f) {
				if !bad[e.File] {
					errs = append(errs, e)
				}
			}
		}
	}
	errs.Sort()
	for i := range errs {
		errs[i].File = s.display(errs[i].File)
	}
	return f, errs
}

// display turns a fleet-relative path into one the user can open.
func (s *fleetSource) display(file string) string {
	switch {
	case s.dir != "":
		return filepath.Join(s.arg, filepath.FromSlash(file))
	default:
		return s.arg + ":" + file
	}
}
