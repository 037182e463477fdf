// Package gitserver is a git server for tests and the lab: one bare
// repository served over git's smart HTTP protocol by real git. Fetches and
// clones run `git upload-pack --stateless-rpc` directly, the way forges
// serve them; pushes and the rest go through `git http-backend` (as a CGI
// program, net/http/cgi). It has optional token or password
// authentication, a switch to take it down or make it fail, request
// counters, and helpers that seed and change the repository through a go-git
// clone that pushes to it.
//
// In a test, see package gitservertest (kept apart so the shipped binary,
// whose lab runs this server, does not link "testing"):
//
//	srv := gitservertest.New(t, gitserver.Options{})
//	gitservertest.MustSeed(t, srv, "../../examples/fleet", "seed")
//	// clone srv.URL() ...
//
// In a long-running lab server, New + Run(ctx), or mount Handler() in any
// http.Server.
package gitserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// Options configure a Server. The zero value serves an open repository
// named fleet.git with branch main on a free loopback port.
type Options struct {
	// Name is the repository name; it is served at /<Name>.git. Default "fleet".
	Name string
	// Branch is the branch the commit helpers write. Default "main".
	Branch string
	// Token, when set, is required on every request, either as
	// "Authorization: Bearer <Token>" or as the password of HTTP basic auth
	// (any user name), the way git hosts accept access tokens.
	Token string
	// Username and Password, when Password is set, are accepted as HTTP
	// basic auth credentials (in addition to Token, if that is set too).
	Username, Password string
	// Addr is the address Start listens on. Default "127.0.0.1:0" (a free
	// port, kept across Stop and Start).
	Addr string
	// Logger receives the server's and git http-backend's messages. Default:
	// discard.
	Logger *slog.Logger
	// OnPush, when set, is called once for every ref a push changed (over
	// HTTP, or through Commit, ForceCommit and Seed), after the push, in
	// the pushing goroutine, in push order: what a forge turns into a push
	// webhook. It must not block for long (deliver asynchronously).
	OnPush func(RefUpdate)
	// Signer, when set, signs the commits of Commit, ForceCommit and Seed
	// (git's gpg.format=ssh format, see gittree.SignCommit): the lab's
	// agents verify them against its trust policy.
	Signer ssh.Signer
}

// RefUpdate is one ref a push changed. Before is empty for a created ref,
// After for a deleted one.
type RefUpdate struct {
	Ref, Before, After string
}

// Stats counts the requests the server has answered.
type Stats struct {
	// InfoRefs counts ref advertisements (GET .../info/refs).
	InfoRefs int64
	// UploadPacks counts POST git-upload-pack requests (clone and fetch
	// negotiations that send objects).
	UploadPacks int64
	// UploadPackBytes is the number of response bytes of those requests.
	UploadPackBytes int64
	// ReceivePacks counts POST git-receive-pack requests (pushes over HTTP).
	ReceivePacks int64
	// Unauthorized counts requests refused with 401.
	Unauthorized int64
	// Failed counts requests refused because of SetFailure.
	Failed int64
	// InfoRefsTime and UploadPackTime sum the time the InfoRefs and
	// UploadPacks requests took, from arrival to the last byte of the
	// answer written: how long git kept their clients waiting. (A client
	// reads a pack while it streams, so part of its own work on it
	// overlaps UploadPackTime.)
	InfoRefsTime, UploadPackTime time.Duration
}

// Server is a bare repository served over smart HTTP. All methods are safe
// for concurrent use.
type Server struct {
	opts   Options
	dir    string // owned by the server
	root   string // GIT_PROJECT_ROOT
	bare   string // root/<name>.git
	git    string // path of the git binary
	log    *slog.Logger
	cgi    *cgi.Handler
	work   *clone // guarded by its own mutex
	failed atomic.Int32

	stats struct {
		infoRefs, uploadPacks, uploadBytes, receivePacks, unauthorized, failed atomic.Int64
		infoRefsTime, uploadPackTime                                           atomic.Int64 // nanoseconds
	}
	// inflight counts running requests, so Close can wait for their git
	// processes; after Close, requests are refused.
	inflight struct {
		sync.Mutex
		n      int
		closed bool
		idle   sync.Cond
	}

	// pushMu serializes pushes while OnPush is set, so the refs read
	// before and after a push show that push's updates alone.
	pushMu sync.Mutex

	srvMu sync.Mutex
	srv   *http.Server
	done  chan struct{} // closed when srv's Serve returns
	addr  string        // the bound address, kept across Stop/Start
}

// New creates an empty bare repository under dir (which it owns from now on)
// and a working clone next to it. It does not listen yet: call Start or Run,
// or mount Handler.
func New(dir string, opts Options) (*Server, error) {
	if opts.Name == "" {
		opts.Name = "fleet"
	}
	if opts.Branch == "" {
		opts.Branch = "main"
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if strings.ContainsAny(opts.Name, "/\\ ") || strings.HasPrefix(opts.Name, ".") {
		return nil, fmt.Errorf("creating git server: invalid repository name %q", opts.Name)
	}
	gitBin, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("creating git server: the git binary is needed for http-backend: %w", err)
	}
	s := &Server{
		opts: opts,
		dir:  dir,
		root: filepath.Join(dir, "root"),
		git:  gitBin,
		log:  opts.Logger.With("component", "gitserver", "repo", opts.Name),
	}
	s.inflight.idle.L = &s.inflight.Mutex
	s.bare = filepath.Join(s.root, opts.Name+".git")
	if err := os.MkdirAll(s.root, 0o755); err != nil {
		return nil, fmt.Errorf("creating git server directory: %w", err)
	}
	if err := s.runGit("", "init", "--quiet", "--bare", "--initial-branch="+opts.Branch, s.bare); err != nil {
		return nil, fmt.Errorf("creating bare repository: %w", err)
	}
	if err := s.runGit(s.bare, "config", "http.receivepack", "true"); err != nil {
		return nil, fmt.Errorf("enabling pushes over HTTP: %w", err)
	}
	backend, backendArgs, err := httpBackend(gitBin)
	if err != nil {
		return nil, err
	}
	s.cgi = &cgi.Handler{
		Path: backend,
		Args: backendArgs,
		Dir:  s.root,
		Env: []string{
			"GIT_PROJECT_ROOT=" + s.root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"HOME=" + dir,
		},
		Logger: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		Stderr: logWriter{s.log, "git http-backend"},
	}
	s.work, err = newClone(filepath.Join(dir, "work.git"), s.bare, opts.Branch, opts.Signer)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// httpBackend returns the command that runs git http-backend: the
// git-http-backend program in git's exec path, the way git's documentation
// mounts it as a CGI script. (`git http-backend` would start the git
// wrapper first, which then starts that same program: one more process per
// request, 7 to 10 ms on a slow host.) Without it, `git http-backend`.
func httpBackend(gitBin string) (path string, args []string, err error) {
	out, err := exec.Command(gitBin, "--exec-path").Output()
	if err != nil {
		return "", nil, fmt.Errorf("creating git server: reading git's exec path: %w", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
		return p, nil, nil
	}
	return gitBin, []string{"http-backend"}, nil
}

func (s *Server) runGit(dir string, args ...string) error {
	cmd := exec.Command(s.git, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+s.dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Handler serves the repository at /<Name>.git/ with git's smart HTTP
// protocol. It checks authentication, honours SetFailure and counts requests.
// It can be mounted in any http.Server or httptest.Server.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.enter() {
			http.Error(w, "git server closed", http.StatusServiceUnavailable)
			return
		}
		defer s.leave()
		if code := int(s.failed.Load()); code != 0 {
			s.stats.failed.Add(1)
			http.Error(w, "git server failure injected by the test", code)
			return
		}
		if !s.authorized(r) {
			s.stats.unauthorized.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="gitserver"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		cw := &countingWriter{ResponseWriter: w}
		switch {
		case strings.HasSuffix(r.URL.Path, "/info/refs"):
			s.stats.infoRefs.Add(1)
			defer addSince(&s.stats.infoRefsTime, time.Now())
		case strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
			s.stats.uploadPacks.Add(1)
			defer addSince(&s.stats.uploadPackTime, time.Now())
			// Counted as written: a client can finish reading the pack
			// before this handler returns.
			cw.counter = &s.stats.uploadBytes
		case strings.HasSuffix(r.URL.Path, "/git-receive-pack"):
			s.stats.receivePacks.Add(1)
			_ = s.pushing(func() error { s.cgi.ServeHTTP(cw, r); return nil })
			return
		}
		if s.serveUploadPack(cw, r) {
			return
		}
		s.cgi.ServeHTTP(cw, r)
	})
}

// authorized checks the request's credentials against Options.
func (s *Server) authorized(r *http.Request) bool {
	if s.opts.Token == "" && s.opts.Password == "" {
		return true
	}
	if s.opts.Token != "" {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && equal(tok, s.opts.Token) {
			return true
		}
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	if s.opts.Token != "" && equal(pass, s.opts.Token) {
		return true
	}
	return s.opts.Password != "" && equal(user, s.opts.Username) && equal(pass, s.opts.Password)
}

// equal compares secrets in constant time, lengths included.
func equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// SetFailure makes every request fail with HTTP status code (e.g. 503) until
// it is called with 0.
func (s *Server) SetFailure(code int) { s.failed.Store(int32(code)) }

// Start listens (on Options.Addr the first time, on the same address after
// a Stop) and serves Handler. Starting a started server does nothing.
func (s *Server) Start() error {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.srv != nil {
		return nil
	}
	addr := s.addr
	if addr == "" {
		addr = s.opts.Addr
	}
	var ln net.Listener
	var err error
	// The old listener's port can take a moment to be free again after Stop.
	for deadline := time.Now().Add(5 * time.Second); ; {
		ln, err = net.Listen("tcp", addr)
		if err == nil || s.addr == "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("starting git server: %w", err)
	}
	s.addr = ln.Addr().String()
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.done = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("git server stopped", "err", err)
		}
	}(s.srv, s.done)
	s.log.Debug("git server listening", "url", "http://"+s.addr)
	return nil
}

// Stop closes the listener and every open connection, so clients see
// "connection refused" until Start. Stopping a stopped server does nothing.
func (s *Server) Stop() error {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.srv == nil {
		return nil
	}
	err := s.srv.Close()
	<-s.done
	s.srv, s.done = nil, nil
	if err != nil {
		return fmt.Errorf("stopping git server: %w", err)
	}
	return nil
}

// Close stops the server and waits for running requests (and their git
// http-backend processes) to finish; Handler refuses requests from then on.
// The repository stays on disk.
func (s *Server) Close() error {
	err := s.Stop()
	s.inflight.Lock()
	s.inflight.closed = true
	for s.inflight.n > 0 {
		s.inflight.idle.Wait()
	}
	s.inflight.Unlock()
	return err
}

func (s *Server) enter() bool {
	s.inflight.Lock()
	defer s.inflight.Unlock()
	if s.inflight.closed {
		return false
	}
	s.inflight.n++
	return true
}

func (s *Server) leave() {
	s.inflight.Lock()
	defer s.inflight.Unlock()
	if s.inflight.n--; s.inflight.n == 0 {
		s.inflight.idle.Broadcast()
	}
}

// Run starts the server, serves until ctx is done, then closes it.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	return s.Close()
}

// Addr returns the bound host:port, empty before the first Start.
func (s *Server) Addr() string {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	return s.addr
}

// URL returns the repository's HTTP URL, e.g. http://127.0.0.1:PORT/fleet.git.
// It is valid once the server has been started.
func (s *Server) URL() string { return "http://" + s.Addr() + s.Path() }

// Path returns the repository's URL path, /<Name>.git, to join to the URL of
// a server Handler is mounted in.
func (s *Server) Path() string { return "/" + s.opts.Name + ".git" }

// RepoPath returns the bare repository's directory, usable as a plain-path
// or file:// git URL.
func (s *Server) RepoPath() string { return s.bare }

// Branch returns the branch the commit helpers write.
func (s *Server) Branch() string { return s.opts.Branch }

// Stats returns the request counters.
func (s *Server) Stats() Stats {
	return Stats{
		InfoRefs:        s.stats.infoRefs.Load(),
		UploadPacks:     s.stats.uploadPacks.Load(),
		UploadPackBytes: s.stats.uploadBytes.Load(),
		ReceivePacks:    s.stats.receivePacks.Load(),
		Unauthorized:    s.stats.unauthorized.Load(),
		Failed:          s.stats.failed.Load(),
		InfoRefsTime:    time.Duration(s.stats.infoRefsTime.Load()),
		UploadPackTime:  time.Duration(s.stats.uploadPackTime.Load()),
	}
}

// addSince adds the time since start to the nanoseconds in n.
func addSince(n *atomic.Int64, start time.Time) { n.Add(int64(time.Since(start))) }

// countingWriter adds the response body bytes to counter, when set.
type countingWriter struct {
	http.ResponseWriter
	counter *atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	if w.counter != nil {
		w.counter.Add(int64(n))
	}
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush forwards flushes, so streamed packs are not held back.
func (w *countingWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// logWriter turns a git program's stderr into log records.
type logWriter struct {
	log     *slog.Logger
	program string
}

func (w logWriter) Write(p []byte) (int, error) {
	if msg := strings.TrimSpace(string(p)); msg != "" {
		w.log.Warn(w.program, "stderr", msg)
	}
	return len(p), nil
}
