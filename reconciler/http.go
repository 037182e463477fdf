package reconciler

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/reconciler/trigger"
)

// Handler serves the agent's HTTP API: /healthz, /readyz, /v1/status,
// /v1/sync (authenticated by auth) and /metrics (from gatherer).
func (a *Agent) Handler(auth trigger.HTTPAuth, gatherer prometheus.Gatherer) (http.Handler, error) {
	sync, err := a.trigger.HTTPHandler(auth)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+agentapi.PathSync, sync)
	mux.HandleFunc("GET "+agentapi.PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	// Ready once the host runs a revision this agent applied (or verified
	// after a restart): a load balancer in front of several hosts should not
	// send traffic to one that has never converged.
	mux.HandleFunc("GET "+agentapi.PathReadyz, func(w http.ResponseWriter, _ *http.Request) {
		s := a.Status()
		if s.AppliedRevision == "" {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "lastResult": s.LastResult, "lastError": s.LastError})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "appliedRevision": s.AppliedRevision})
	})
	mux.HandleFunc("GET "+agentapi.PathStatus, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, a.Status())
	})
	mux.HandleFunc("GET "+agentapi.PathHostState, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.HostState(r.Context()))
	})
	if gatherer != nil {
		mux.Handle("GET "+agentapi.PathMetrics, promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	}
	return mux, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
