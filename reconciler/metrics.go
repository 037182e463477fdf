package reconciler

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the agent's Prometheus series (ddc_gitops_agent_*).
type metrics struct {
	reconciles      *prometheus.CounterVec
	duration        prometheus.Histogram
	appliedRevision *prometheus.GaugeVec
	commitToApplied prometheus.Histogram
	reloads         *prometheus.CounterVec
	runtimeChanges  *prometheus.CounterVec
	drift           prometheus.Counter
	lastSuccess     prometheus.Gauge
	restarts        *prometheus.CounterVec
	// Admission (admission.go).
	pendingAdmission prometheus.Gauge
	pendingSince     *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ddc_gitops_agent_reconcile_total", Help: "Reconciles by result (applied, noop, stalled, failed, retrying, deferred).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ddc_gitops_agent_reconcile_duration_seconds", Help: "Duration of one reconcile, fetch to record.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		appliedRevision: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ddc_gitops_agent_applied_revision_info", Help: "The revision the host runs (value 1).",
		}, []string{"revision"}),
		commitToApplied: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ddc_gitops_agent_commit_to_applied_seconds", Help: "From a revision's commit time to its being applied on this host.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900},
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ddc_gitops_agent_reloads_total", Help: "Verified reloads by component (haproxy, keepalived) and reason (change, rollback, drift).",
		}, []string{"component", "reason"}),
		runtimeChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ddc_gitops_agent_runtime_changes_total", Help: "Server changes made through the HAProxy runtime API, by operation.",
		}, []string{"op"}),
		drift: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ddc_gitops_agent_drift_total", Help: "Differences found between the host and its desired state that nobody committed.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ddc_gitops_agent_last_success_timestamp_seconds", Help: "Unix time of the last reconcile that left the host converged.",
		}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ddc_gitops_agent_process_restarts_total", Help: "Restarts of a supervised process (haproxy, keepalived) that exited by itself (--supervise).",
		}, []string{"process"}),
		pendingAdmission: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ddc_gitops_agent_servers_pending_admission", Help: "Servers held out of service until their first health check passes.",
		}),
		pendingSince: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ddc_gitops_agent_server_pending_admission_since_seconds", Help: "Unix time since when a server has been waiting for its first passing health check (one series per waiting server).",
		}, []string{"backend", "server"}),
	}
	if reg != nil {
		reg.MustRegister(m.reconciles, m.duration, m.appliedRevision, m.commitToApplied, m.reloads, m.runtimeChanges, m.drift, m.lastSuccess, m.restarts,
			m.pendingAdmission, m.pendingSince)
	}
	return m
}
