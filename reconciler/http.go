package reconciler

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/reconciler/trigger"
)

// Handler serves the agent's HTTP API (agentapi.NewHandler): /healthz,
// /readyz, /v1/status, /v1/hoststate, /v1/sync (authenticated by auth) and
// /metrics (from gatherer).
func (a *Agent) Handler(auth trigger.HTTPAuth, gatherer prometheus.Gatherer) (http.Handler, error) {
	sync, err := a.trigger.HTTPHandler(auth)
	if err != nil {
		return nil, err
	}
	return agentapi.NewHandler(agentapi.Endpoints{
		Sync:      sync,
		Status:    a.Status,
		HostState: func(ctx context.Context) any { return a.HostState(ctx) },
		Gatherer:  gatherer,
	}), nil
}
