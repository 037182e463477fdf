package pdns

import "github.com/prometheus/client_golang/prometheus"

// metrics are the DNS role's Prometheus series (ddc_gitops_agent_dns_*).
type metrics struct {
	reconciles     *prometheus.CounterVec
	duration       prometheus.Histogram
	reloads        *prometheus.CounterVec
	rollbacks      prometheus.Counter
	verify         prometheus.Histogram
	commitToAnswer prometheus.Histogram
	serial         prometheus.Gauge
	records        prometheus.Gauge
	drift          prometheus.Gauge
	driftFound     prometheus.Counter
	lastSuccess    prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ddc_gitops_agent_dns_reconcile_total", Help: "DNS reconciles by result (applied, noop, stalled, failed, retrying).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ddc_gitops_agent_dns_reconcile_duration_seconds", Help: "Duration of one DNS reconcile, fetch to verify.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ddc_gitops_agent_dns_reloads_total", Help: "Zone reloads of PowerDNS by reason (change, drift, rollback).",
		}, []string{"reason"}),
		rollbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ddc_gitops_agent_dns_rollbacks_total", Help: "Applies that failed and were rolled back to the previous zone.",
		}),
		verify: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ddc_gitops_agent_dns_verify_seconds", Help: "From the reload to the server answering every record as rendered.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		commitToAnswer: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ddc_gitops_agent_dns_commit_to_answer_seconds", Help: "From a revision's commit time to the server answering it.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900},
		}),
		serial: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ddc_gitops_agent_dns_serial", Help: "SOA serial of the zone the server answers.",
		}),
		records: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ddc_gitops_agent_dns_records", Help: "LUA records of the applied zone.",
		}),
		drift: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ddc_gitops_agent_dns_drift", Help: "Differences between the server and the applied revision found by the last reconcile.",
		}),
		driftFound: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ddc_gitops_agent_dns_drift_total", Help: "Differences found between the server and its desired state that nobody committed.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ddc_gitops_agent_dns_last_success_timestamp_seconds", Help: "Unix time of the last reconcile that left the server serving the desired zone.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.reconciles, m.duration, m.reloads, m.rollbacks, m.verify, m.commitToAnswer, m.serial, m.records, m.drift, m.driftFound, m.lastSuccess)
	}
	return m
}
