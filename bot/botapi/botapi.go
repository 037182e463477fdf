// Package botapi serves the node-admission bot over HTTP, for the API
// server to mount behind its authentication:
//
//	GET  /api/v1/blockchain/nodes  (viewer)            the registry as the chain sees it, with each node's status in git
//	POST /api/v1/blockchain/sync   (operator or admin) a full sync: open or update every missing proposal, close stale ones
//
// Both answer JSON; errors are {"code": ..., "message": ...} like the API's.
package botapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/ddc-gitops/ddc-gitops/bot"
)

// Paths of the handlers, as mounted by Routes.
const (
	NodesPath = "/api/v1/blockchain/nodes"
	SyncPath  = "/api/v1/blockchain/sync"
)

// Bot is what the handlers need; *bot.Bot implements it.
type Bot interface {
	Nodes(ctx context.Context) (*bot.NodesReport, error)
	Sync(ctx context.Context) (*bot.SyncReport, error)
}

var _ Bot = (*bot.Bot)(nil)

// Error is the body of an error answer.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes.
const (
	CodeNotConfigured = "not_configured"
	CodeUnavailable   = "unavailable"
)

// Routes serves NodesPath (GET) and SyncPath (POST). It does no
// authentication: mount it behind the API's (viewer for GET, operator or
// admin for POST), or mount NodesHandler and SyncHandler one by one.
func Routes(b Bot, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+NodesPath, NodesHandler(b, logger))
	mux.Handle("POST "+SyncPath, SyncHandler(b, logger))
	return mux
}

// NodesHandler answers GET /api/v1/blockchain/nodes with a bot.NodesReport.
func NodesHandler(b Bot, logger *slog.Logger) http.Handler {
	return handler(logger, "reading the registry", func(r *http.Request) (any, error) { return b.Nodes(r.Context()) })
}

// SyncHandler answers POST /api/v1/blockchain/sync with a bot.SyncReport.
// A sync is idempotent; concurrent requests run one after the other.
func SyncHandler(b Bot, logger *slog.Logger) http.Handler {
	return handler(logger, "syncing the registry", func(r *http.Request) (any, error) { return b.Sync(r.Context()) })
}

func handler(logger *slog.Logger, what string, fn func(r *http.Request) (any, error)) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := fn(r)
		if err != nil {
			logger.Error("bot API request failed", "what", what, "method", r.Method, "path", r.URL.Path, "err", err)
			e, status := Error{Code: CodeUnavailable, Message: what + " failed: " + err.Error()}, http.StatusServiceUnavailable
			if errors.Is(err, bot.ErrNoRegistry) {
				e, status = Error{Code: CodeNotConfigured, Message: "the bot has no chain registry reader"}, http.StatusNotFound
			}
			write(w, status, e)
			return
		}
		write(w, http.StatusOK, out)
	})
}

func write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
