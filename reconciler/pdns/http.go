package pdns

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/reconciler/trigger"
)

// Handler serves the DNS role's HTTP API, the same paths as an HAProxy
// host's agent: /healthz, /readyz, /v1/status, /v1/sync (authenticated by
// auth) and /metrics (from gatherer).
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
