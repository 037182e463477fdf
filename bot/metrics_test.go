package bot

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/bot/chain"
)

// The bot's series are registered on the given registerer under their
// documented names, and the chain adapter feeds last_block and chain errors.
func TestMetricsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Chain()
	c.OnBlock(1234)
	c.(chain.TargetMetrics).OnTarget(1300)
	c.OnError()
	c.OnEvent(chain.NodeAdmitted, false) // counted by the bot on receipt, not here
	m.event(chain.Event{Kind: chain.NodeUpdated})
	m.event(chain.Event{Kind: chain.NodeAdmitted, Removed: true})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	for _, want := range []string{"ddc_gitops_bot_last_block", "ddc_gitops_bot_target_block", "ddc_gitops_bot_events_total", "ddc_gitops_bot_invalid_events_total",
		"ddc_gitops_bot_prs_total", "ddc_gitops_bot_chain_errors_total"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s not registered (have %v)", want, names)
		}
	}
	for _, tc := range []struct {
		m    prometheus.Metric
		want float64
	}{
		{m.lastBlock, 1234}, {m.target, 1300}, {m.chainErrors, 1}, {m.events.WithLabelValues(EventKindUpdated), 1},
		{m.events.WithLabelValues(EventKindUndo), 1}, {m.events.WithLabelValues(EventKindAdmitted), 0},
	} {
		if got := counter(t, tc.m); got != tc.want {
			t.Errorf("%v = %v, want %v", tc.m.Desc(), got, tc.want)
		}
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Error("registering twice on one registry succeeded")
	}
}
