package api

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg                *prometheus.Registry
	requests           *prometheus.CounterVec
	latency            *prometheus.HistogramVec
	commits            *prometheus.CounterVec
	commitDuration     prometheus.Histogram
	conflicts          prometheus.Counter
	validationFailures prometheus.Counter
}

// Commit results counted in ddc_gitops_api_commits_total.
const (
	resultCommitted = "committed" // pushed to the branch
	resultProposed  = "proposed"  // pushed to a PR branch
	resultUnchanged = "unchanged" // the change altered nothing
	resultRejected  = "rejected"  // invalid, conflicting, or refused by the edit
	resultFailed    = "failed"    // git or forge error
)

// newMetrics registers the API's series on reg (a new registry when nil).
func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ddc_gitops_api_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ddc_gitops_api_request_duration_seconds", Help: "HTTP request latency by route pattern and method.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "method"}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ddc_gitops_api_commits_total", Help: "Mutations by result: committed, proposed (pull request), unchanged, rejected, failed.",
		}, []string{"result"}),
		commitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ddc_gitops_api_commit_duration_seconds", Help: "Time to apply, validate, commit and push one change, retries included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ddc_gitops_api_commit_conflicts_total", Help: "Mutations refused because If-Match named a revision the change conflicts with.",
		}),
		validationFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ddc_gitops_api_validation_failures_total", Help: "Mutations refused because the result would not validate.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.commits, m.commitDuration, m.conflicts, m.validationFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
