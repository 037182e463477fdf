package bot

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/bot/chain"
)

// Values of the kind label of ddc_gitops_bot_events_total.
const (
	EventKindAdmitted = "admitted"
	EventKindUpdated  = "updated"
	EventKindRemoved  = "removed"
	// EventKindUndo counts reorg undos (events with Removed set).
	EventKindUndo = "reorg_undo"
)

// Values of the action label of ddc_gitops_bot_prs_total.
const (
	ActionAdd    = "add"
	ActionUpdate = "update"
	ActionRemove = "remove"
	// ActionClose: a proposal closed because a later event superseded it.
	ActionClose = "close"
)

// Metrics are the bot's Prometheus series (ddc_gitops_bot_*).
type Metrics struct {
	lastBlock   prometheus.Gauge
	target      prometheus.Gauge
	events      *prometheus.CounterVec
	invalid     prometheus.Counter
	prs         *prometheus.CounterVec
	chainErrors prometheus.Counter
}

// NewMetrics creates the bot's metrics and registers them on reg (nil: not
// registered, for tests that read them directly).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		lastBlock: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ddc_gitops_bot_last_block", Help: "The last chain block the watcher processed (its checkpoint).",
		}),
		target: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ddc_gitops_bot_target_block", Help: "The newest block the watcher may process (the chain head minus the confirmation depth, or the finalized block), read at every poll.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ddc_gitops_bot_events_total", Help: "Node events received from the chain, by kind (admitted, updated, removed, reorg_undo).",
		}, []string{"kind"}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ddc_gitops_bot_invalid_events_total", Help: "Events whose node record was refused (invalid chain data, or a node file the fleet would not validate).",
		}),
		prs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ddc_gitops_bot_prs_total", Help: "Proposals opened or updated (add, update, remove) and closed as superseded (close).",
		}, []string{"action"}),
		chainErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ddc_gitops_bot_chain_errors_total", Help: "Chain RPC errors, watcher session restarts and undecodable logs.",
		}),
	}
	for _, k := range []string{EventKindAdmitted, EventKindUpdated, EventKindRemoved, EventKindUndo} {
		m.events.WithLabelValues(k)
	}
	for _, a := range []string{ActionAdd, ActionUpdate, ActionRemove, ActionClose} {
		m.prs.WithLabelValues(a)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.lastBlock, m.target, m.events, m.invalid, m.prs, m.chainErrors} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("registering bot metrics: %w", err)
			}
		}
	}
	return m, nil
}

// Chain adapts the metrics to the chain watcher's progress reports: the
// checkpoint block and errors. Events are counted by the bot when it
// receives them, so a Source without metrics is counted too.
func (m *Metrics) Chain() chain.Metrics {
	return chain.MetricsFuncs{
		Block:  func(n uint64) { m.lastBlock.Set(float64(n)) },
		Target: func(n uint64) { m.target.Set(float64(n)) },
		Error:  m.chainErrors.Inc,
	}
}

// event counts one received event.
func (m *Metrics) event(e chain.Event) {
	k := EventKindUndo
	if !e.Removed {
		switch e.Kind {
		case chain.NodeAdmitted:
			k = EventKindAdmitted
		case chain.NodeUpdated:
			k = EventKindUpdated
		case chain.NodeRemoved:
			k = EventKindRemoved
		default:
			k = "unknown"
		}
	}
	m.events.WithLabelValues(k).Inc()
}
