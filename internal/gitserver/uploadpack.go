package gitserver

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// maxUploadPackRequest bounds a fetch negotiation's body, as sent and once
// inflated (wants and haves; a clone of a large history sends a few hundred
// kB).
const maxUploadPackRequest = 64 << 20

// gitProtocol is the grammar of a Git-Protocol header passed on to git as
// GIT_PROTOCOL (e.g. "version=2"), as git http-backend and forges accept it.
var gitProtocol = regexp.MustCompile(`^[0-9A-Za-z]+=[0-9A-Za-z]+(:[0-9A-Za-z]+=[0-9A-Za-z]+)*$`)

// serveUploadPack answers the two requests of a fetch or clone, the ref
// advertisement (GET info/refs?service=git-upload-pack) and the negotiation
// (POST git-upload-pack), by running `git upload-pack --stateless-rpc`
// itself, the way forges (Gitea, GitLab's Gitaly) serve smart HTTP: one git
// process per request (and pack-objects under it) instead of three through
// the git wrapper and git-http-backend. It reports whether r was one of
// them; other requests (pushes, dumb HTTP) are left to git-http-backend.
func (s *Server) serveUploadPack(w http.ResponseWriter, r *http.Request) bool {
	var advertise bool
	switch {
	case r.URL.Path == s.Path()+"/info/refs" && r.URL.Query().Get("service") == "git-upload-pack":
		if r.Method != http.MethodGet {
			return false
		}
		advertise = true
	case r.URL.Path == s.Path()+"/git-upload-pack":
		if r.Method != http.MethodPost {
			return false
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-git-upload-pack-request" {
			http.Error(w, fmt.Sprintf("git-upload-pack: content type %q, want application/x-git-upload-pack-request", ct), http.StatusUnsupportedMediaType)
			return true
		}
	default:
		return false
	}

	args := []string{"upload-pack", "--stateless-rpc"}
	if advertise {
		args = append(args, "--advertise-refs")
	}
	cmd := exec.CommandContext(r.Context(), s.git, append(args, ".")...)
	cmd.Dir = s.bare
	// A client that goes away kills upload-pack; its pack-objects may
	// still hold the answer's pipe, so Wait stops waiting for it after this.
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = []string{"GIT_CONFIG_NOSYSTEM=1", "HOME=" + s.dir, "PATH=" + os.Getenv("PATH")}
	v2 := false
	if p := r.Header.Get("Git-Protocol"); p != "" && gitProtocol.MatchString(p) {
		cmd.Env = append(cmd.Env, "GIT_PROTOCOL="+p)
		v2 = strings.Contains(":"+p+":", ":version=2:")
	}
	cmd.Stderr = logWriter{s.log, "git upload-pack"}

	if !advertise {
		body := io.Reader(http.MaxBytesReader(w, r.Body, maxUploadPackRequest))
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(body)
			if err != nil {
				http.Error(w, "git-upload-pack: reading the gzip request body: "+err.Error(), http.StatusBadRequest)
				return true
			}
			defer zr.Close()
			// Bounded once inflated too: a larger request reaches git cut
			// short, and git refuses it.
			body = io.LimitReader(zr, maxUploadPackRequest)
		}
		cmd.Stdin = body
	}
	h := w.Header()
	h.Set("Cache-Control", "no-cache, max-age=0, must-revalidate")
	h.Set("Expires", "Fri, 01 Jan 1980 00:00:00 GMT")
	h.Set("Pragma", "no-cache")
	if advertise {
		h.Set("Content-Type", "application/x-git-upload-pack-advertisement")
	} else {
		h.Set("Content-Type", "application/x-git-upload-pack-result")
	}

	// git's answer streams to the client, as git http-backend's does, so
	// the client reads a pack while it is written. The HTTP status is sent
	// with the first byte: a git that fails before it writes anything is
	// a 500; one that fails later leaves a truncated answer the client
	// reports, as it would from git http-backend.
	sw := &startWriter{w: w}
	if advertise && !v2 {
		// Protocol v0 advertisements start with the service line, written
		// the way git http-backend writes it.
		sw.prefix = []byte("001e# service=git-upload-pack\n0000")
	}
	cmd.Stdout = sw
	if err := cmd.Run(); err != nil {
		if r.Context().Err() != nil {
			return true // the client went away
		}
		s.log.Warn("git upload-pack failed", "err", err, "advertise", advertise, "answered", sw.started)
		if !sw.started {
			h.Del("Cache-Control")
			http.Error(w, "git upload-pack failed", http.StatusInternalServerError)
		}
	}
	return true
}

// startWriter writes prefix before the first bytes written to it.
type startWriter struct {
	w       io.Writer
	prefix  []byte
	started bool
}

func (sw *startWriter) Write(p []byte) (int, error) {
	if !sw.started {
		sw.started = true
		if _, err := sw.w.Write(sw.prefix); err != nil {
			return 0, err
		}
	}
	return sw.w.Write(p)
}
