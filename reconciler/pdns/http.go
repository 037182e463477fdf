package pdns

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/reconciler/trigger"
)

// Handler serves the DNS role's HTTP API, the same paths as an HAProxy
// host's agent (agentapi.NewHandler): /healthz, /readyz, /v1/status,
// /v1/sync (authenticated by auth) and /metrics (from gatherer).
func (a *Agent) Handler(auth trigger.HTTPAuth, gatherer prometheus.Gatherer) (http.Handler, error) {
	sync, err := a.trigger.HTTPHandler(auth)
	if err != nil {
		return nil, err
	}
	return agentapi.NewHandler(agentapi.Endpoints{Sync: sync, Status: a.Status, Gatherer: gatherer}), nil
}
