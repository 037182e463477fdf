// Package api is the REST API that changes the desired state by writing git
// commits: every mutation becomes one validated commit on the fleet's
// branch (or a pull request), authored by the authenticated user, with the
// request id and endpoint as trailers. It reads agents' status for
// /stats and rollout tracking, receives forge webhooks, and can report
// per-host commit statuses to the forge. It never talks to HAProxy.
//
// Paths follow the original ConfigWatcher design (/api/v1/config,
// /api/v1/backends/{backend}/servers, ...), each also under
// /api/v1/zones/{zone}/ for fleets with several zones.
package api

import (
	"context"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/sync/errgroup"

	"github.com/ddc-gitops/ddc-gitops/forge"
	"github.com/ddc-gitops/ddc-gitops/repo"
	"github.com/ddc-gitops/ddc-gitops/webhooks"
)

// Store is the git side the API needs; *repo.Repo implements it.
type Store interface {
	// Head fetches the branch and returns its head.
	Head(ctx context.Context) (*repo.Snapshot, error)
	// Commit applies, validates, commits and pushes one change.
	Commit(ctx context.Context, ch repo.Change) (repo.Result, error)
	// IsAncestor reports whether commit a is b or an ancestor of b.
	IsAncestor(ctx context.Context, a, b string) (bool, error)
}

var _ Store = (*repo.Repo)(nil)

// Deps are the server's collaborators.
type Deps struct {
	// Repo writes and reads the fleet's branch; required.
	Repo Store
	// Forge opens pull requests (PR mode) and receives commit statuses;
	// optional unless Config.PR or Config.CommitStatuses is set.
	Forge forge.Forge
	// HTTPClient reaches the agents (default http.DefaultClient with the
	// per-agent timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Now is the clock for tokens and the idempotency store (default time.Now).
	Now func() time.Time
	// Registry, when set, receives the API's metrics and is what /metrics
	// serves, so components running in the same process (the bot) can add
	// theirs; default a new registry.
	Registry *prometheus.Registry
	// Blockchain serves GET /blockchain/nodes and POST /blockchain/sync
	// (the node-admission bot's botapi handlers); nil answers 404.
	Blockchain *Blockchain
}

// Blockchain holds the handlers of the on-chain node registry routes.
type Blockchain struct {
	Nodes, Sync http.Handler
}

// Server is the API server.
type Server struct {
	cfg      Config
	repo     Store
	forge    forge.Forge
	agents   *Agents
	auth     *authenticator
	metrics  *metrics
	idem     *idemStore
	heads    headCache
	reporter *StatusReporter
	github   *webhooks.GitHub
	generic  *webhooks.Generic
	chain    *Blockchain
	router   chi.Router
	log      *slog.Logger

	bgCtx    context.Context // cancelled by Close; parent of background work
	bgCancel context.CancelFunc
	bg       sync.WaitGroup
}

// New builds a server from cfg and deps. Call Run (or mount Handler and
// call Close when done).
func New(cfg Config, deps Deps) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("api config: %w", err)
	}
	if deps.Repo == nil {
		return nil, errors.New("api: a repository is required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if (cfg.PR.enabled() || cfg.CommitStatuses) && deps.Forge == nil {
		return nil, errors.New("api config: PR mode and commit statuses need a forge (GitHub, or the plain forge for branches only)")
	}
	s := &Server{cfg: cfg, repo: deps.Repo, forge: deps.Forge, chain: deps.Blockchain, log: deps.Logger.With("component", "api")}
	s.auth, err = newAuthenticator(&s.cfg, deps.Now)
	if err != nil {
		return nil, fmt.Errorf("api auth: %w", err)
	}
	s.agents = NewAgents(cfg.Agents, cfg.AgentToken, cfg.AgentTimeout, deps.HTTPClient)
	if s.metrics, err = newMetrics(deps.Registry); err != nil {
		return nil, err
	}
	s.idem = newIdemStore(cfg.IdempotencyTTL, cfg.IdempotencyMax, deps.Now)
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	if cfg.GitHubWebhookSecret != "" {
		s.github, err = webhooks.NewGitHub(webhooks.GitHubOptions{Secret: cfg.GitHubWebhookSecret, Branch: cfg.Branch, Paths: cfg.WebhookPaths,
			Notifier: s.agents, Timeout: 2 * cfg.AgentTimeout, Logger: deps.Logger})
		if err != nil {
			return nil, err
		}
	}
	if cfg.GenericWebhookSecret != "" {
		s.generic, err = webhooks.NewGeneric(webhooks.GenericOptions{Secret: cfg.GenericWebhookSecret, Branch: cfg.Branch,
			Notifier: s.agents, Timeout: 2 * cfg.AgentTimeout, Logger: deps.Logger})
		if err != nil {
			return nil, err
		}
	}
	if cfg.CommitStatuses {
		s.reporter = NewStatusReporter(StatusReporterOptions{
			Forge: deps.Forge, Agents: s.agents, Repo: deps.Repo, Interval: cfg.StatusInterval, Window: cfg.StatusWindow,
			PublicURL: cfg.PublicURL, Logger: deps.Logger, Now: deps.Now,
		})
	}
	s.router = s.routes()
	return s, nil
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.router }

func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(withRequestID, s.observe)
	r.NotFound(s.handle(func(_ http.ResponseWriter, r *http.Request) error {
		return apiErr(http.StatusNotFound, CodeNotFound, "no route %s %s (see GET /api/v1/openapi.json)", r.Method, r.URL.Path)
	}))
	r.MethodNotAllowed(s.handle(func(_ http.ResponseWriter, r *http.Request) error {
		return apiErr(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method %s not allowed on %s", r.Method, r.URL.Path)
	}))
	r.Method(http.MethodGet, "/metrics", s.metrics.handler())
	s.uiRoutes(r) // the fleet status page (ui.go)
	r.Route("/api/v1", func(r chi.Router) {
		r.Post("/auth/token", s.handle(s.postToken))
		r.Get("/health", s.handle(s.getHealth))
		r.Method(http.MethodGet, "/metrics", s.metrics.handler())
		r.Get("/openapi.json", s.handle(s.getOpenAPI))
		github, generic := s.notConfigured, s.notConfigured
		if s.github != nil {
			github = s.github.ServeHTTP
		}
		if s.generic != nil {
			generic = s.generic.ServeHTTP
		}
		r.Post("/webhooks/github", github)
		r.Post("/webhooks/generic", generic)
		r.Group(func(r chi.Router) {
			r.Use(s.authenticate)
			viewer := r.With(s.require(RoleViewer))
			viewer.Get("/zones", s.handle(s.getZones))
			viewer.Get("/stats", s.handle(s.getStats))
			viewer.Get("/fleet", s.handle(s.getFleet))
			viewer.Get("/revisions/{sha}", s.handle(s.getRevision))
			nodes, sync := http.HandlerFunc(s.noBot), http.HandlerFunc(s.noBot)
			if b := s.chain; b != nil {
				nodes, sync = b.Nodes.ServeHTTP, b.Sync.ServeHTTP
			}
			viewer.Get("/blockchain/nodes", nodes)
			viewer.Get("/containers", s.handle(s.getContainers))
			viewer.Get("/containers/{name}", s.handle(s.getContainer))
			r.With(s.require(RoleOperator)).Post("/containers", s.handle(s.postContainer))
			r.With(s.require(RoleOperator)).Delete("/containers/{name}", s.handle(s.deleteContainer))
			r.With(s.require(RoleOperator)).Post("/blockchain/sync", sync)
			s.rolloutRoutes(r) // waves.go
			s.zoneRoutes(r)
			r.Route("/zones/{zone}", s.zoneRoutes)
		})
	})
	return r
}

// zoneRoutes are served both at /api/v1/... (zone from ?zone= or the
// default zone) and at /api/v1/zones/{zone}/....
func (s *Server) zoneRoutes(r chi.Router) {
	viewer, operator, admin := r.With(s.require(RoleViewer)), r.With(s.require(RoleOperator)), r.With(s.require(RoleAdmin))
	viewer.Get("/config", s.handle(s.getConfig))
	admin.Post("/config", s.handle(s.postConfig))
	operator.Post("/config/reload", s.handle(s.postReload))
	viewer.Get("/backends/{backend}/servers", s.handle(s.getServers))
	operator.Post("/backends/{backend}/servers", s.handle(s.postServer))
	operator.Delete("/backends/{backend}/servers/{name}", s.handle(s.deleteServer))
}

// noBot answers the blockchain routes when no node-admission bot runs in
// this API process.
func (s *Server) noBot(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, apiErr(http.StatusNotFound, CodeNotConfigured, "no node-admission bot is configured on this API server (start it with --bot-rpc-url)"))
}

// notConfigured answers for a webhook whose secret is not set.
func (s *Server) notConfigured(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, apiErr(http.StatusNotFound, CodeNotConfigured, "this webhook is not configured on the server (no secret set)"))
}

// HealthResponse is the answer of GET /health.
type HealthResponse struct {
	Status   string `json:"status"`
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Error    string `json:"error,omitempty"`
}

func (s *Server) getHealth(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	h, err := s.head(ctx)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, HealthResponse{Status: "unhealthy", Version: s.cfg.Version, Error: err.Error()})
		return nil
	}
	writeJSON(w, http.StatusOK, HealthResponse{Status: "healthy", Version: s.cfg.Version, Revision: h.rev.Hash})
	return nil
}

// background runs fn outside the request, bounded by timeout and by Close.
func (s *Server) background(timeout time.Duration, fn func(ctx context.Context)) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(s.bgCtx, timeout)
		defer cancel()
		fn(ctx)
	}()
}

// Close stops background work (post-commit syncs, webhook fan-outs) and
// waits for it.
func (s *Server) Close() {
	s.bgCancel()
	s.bg.Wait()
	if s.github != nil {
		s.github.Close()
	}
	if s.generic != nil {
		s.generic.Close()
	}
}

// Run listens on Config.Listen and serves until ctx is cancelled.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("api: listening on %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln (and runs the status reporter) until ctx is
// cancelled, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.router,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      s.cfg.WaitMax + time.Minute, // ?wait=applied holds a response up to WaitMax
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		s.log.Info("api listening", "addr", ln.Addr().String(), "tls", s.cfg.TLSCertFile != "")
		var err error
		if s.cfg.TLSCertFile != "" {
			err = srv.ServeTLS(ln, s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("api: serving: %w", err)
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		s.Close()
		if err != nil {
			return fmt.Errorf("api: shutting down: %w", err)
		}
		return nil
	})
	if s.reporter != nil {
		g.Go(func() error { return s.reporter.Run(gctx) })
	}
	return g.Wait()
}
