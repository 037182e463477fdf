package agentapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Endpoints is what one agent role (HAProxy host, container host, DNS
// host) serves on the paths of this contract; NewHandler wires them the same
// way for every role.
type Endpoints struct {
	// Sync serves POST /v1/sync (authenticated by the role's trigger).
	Sync http.Handler
	// Status is the body of GET /v1/status; it must not block. GET /readyz
	// answers 503 until its AppliedRevision is set.
	Status func() Status
	// HostState, when set, is the body of GET /v1/hoststate.
	HostState func(ctx context.Context) any
	// Gatherer, when set, serves GET /metrics.
	Gatherer prometheus.Gatherer
}

// NewHandler serves /healthz, /readyz, /v1/status, /v1/sync, /v1/hoststate
// and /metrics from e.
func NewHandler(e Endpoints) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST "+PathSync, e.Sync)
	mux.HandleFunc("GET "+PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	// Ready once the host runs a revision its agent applied (or verified
	// after a restart): a load balancer in front of several hosts should
	// not send traffic to one that has never converged.
	mux.HandleFunc("GET "+PathReadyz, func(w http.ResponseWriter, _ *http.Request) {
		s := e.Status()
		if s.AppliedRevision == "" {
			WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "lastResult": s.LastResult, "lastError": s.LastError})
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ready", "appliedRevision": s.AppliedRevision})
	})
	mux.HandleFunc("GET "+PathStatus, func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, e.Status())
	})
	if e.HostState != nil {
		mux.HandleFunc("GET "+PathHostState, func(w http.ResponseWriter, r *http.Request) {
			WriteJSON(w, http.StatusOK, e.HostState(r.Context()))
		})
	}
	if e.Gatherer != nil {
		mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(e.Gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

// WriteJSON writes v as indented JSON with status code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
