// Package monitoring holds the fleet's monitoring as code: the Grafana
// dashboards (generated into dashboards/*.json by ./gendashboards with the
// Grafana Foundation SDK) and the Prometheus alert rules (rules/). It is
// used by the generator and by tests only, never by the ddc-gitops binary.
package monitoring

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// DatasourceUID is the uid of the Prometheus data source the provisioning
// file (grafana/provisioning/datasources/ddc-gitops.yaml) declares.
const DatasourceUID = "ddc-prometheus"

// Panel kinds.
const (
	TimeSeries = "timeseries"
	Stat       = "stat"
	Table      = "table"
)

// Dashboard is one dashboard: rows of panels.
type Dashboard struct {
	UID, Title, Description string
	// File is the JSON file's name under dashboards/.
	File string
	Rows []Row
}

// Row is a titled group of panels.
type Row struct {
	Title  string
	Panels []Panel
}

// Panel is one panel and its queries.
type Panel struct {
	Title, Description string
	Kind               string // TimeSeries, Stat or Table
	Unit               string
	Queries            []Query
	// Healthy reports that every query has data in a healthy lab (the lab
	// e2e requires it); false for series that only exist after an event
	// (a commit, a rollback, a certificate) or in a fleet with a bot.
	Healthy bool
}

// Query is one PromQL expression. It may use the dashboards' variables
// $zone and $__rate_interval (see Substitute).
type Query struct {
	Expr, Legend string
}

// Substitute replaces the dashboard variables in expr by values Prometheus
// accepts: every zone, and a one-minute rate window.
func Substitute(expr string) string {
	return strings.NewReplacer("$__rate_interval", "1m", "$zone", ".*").Replace(expr)
}

// Dashboards are the four dashboards of the original design.
func Dashboards() []Dashboard {
	return []Dashboard{haproxyPerformance(), apiMetrics(), infrastructure(), failover()}
}

const z = `zone=~"$zone"`

func haproxyPerformance() Dashboard {
	return Dashboard{
		UID: "ddc-haproxy-performance", Title: "HAProxy Performance", File: "haproxy-performance.json",
		Description: "Traffic, latency, errors and server states from every HAProxy host's built-in Prometheus exporter.",
		Rows: []Row{
			{Title: "Traffic", Panels: []Panel{
				{Title: "HTTP requests per second by frontend", Kind: TimeSeries, Unit: "reqps", Healthy: true, Queries: []Query{
					{`sum by (zone, proxy) (rate(haproxy_frontend_http_requests_total{` + z + `}[$__rate_interval]))`, "{{zone}} {{proxy}}"}}},
				{Title: "Current sessions by backend", Kind: TimeSeries, Unit: "short", Healthy: true, Queries: []Query{
					{`sum by (zone, proxy) (haproxy_backend_current_sessions{` + z + `})`, "{{zone}} {{proxy}}"}}},
				{Title: "Throughput by zone", Kind: TimeSeries, Unit: "Bps", Healthy: true, Queries: []Query{
					{`sum by (zone) (rate(haproxy_frontend_bytes_in_total{` + z + `}[$__rate_interval]))`, "{{zone}} in"},
					{`sum by (zone) (rate(haproxy_frontend_bytes_out_total{` + z + `}[$__rate_interval]))`, "{{zone}} out"}}},
			}},
			{Title: "Latency and errors", Panels: []Panel{
				{Title: "Backend average response time", Kind: TimeSeries, Unit: "s", Healthy: true, Queries: []Query{
					{`max by (zone, proxy) (haproxy_backend_response_time_average_seconds{` + z + `})`, "{{zone}} {{proxy}}"}}},
				{Title: "Backend responses by status class", Kind: TimeSeries, Unit: "reqps", Healthy: true, Queries: []Query{
					{`sum by (zone, code) (rate(haproxy_backend_http_responses_total{` + z + `}[$__rate_interval]))`, "{{zone}} {{code}}"}}},
				{Title: "Connection errors and retries", Kind: TimeSeries, Unit: "ops", Healthy: true, Queries: []Query{
					{`sum by (zone, proxy) (rate(haproxy_backend_connection_errors_total{` + z + `}[$__rate_interval]))`, "{{zone}} {{proxy}} errors"},
					{`sum by (zone, proxy) (rate(haproxy_backend_retry_warnings_total{` + z + `}[$__rate_interval]))`, "{{zone}} {{proxy}} retries"}}},
				{Title: "Queued requests", Kind: TimeSeries, Unit: "short", Healthy: true, Queries: []Query{
					{`sum by (zone, proxy) (haproxy_backend_current_queue{` + z + `})`, "{{zone}} {{proxy}}"}}},
			}},
			{Title: "Servers", Panels: []Panel{
				{Title: "Server states", Kind: Table, Healthy: true, Queries: []Query{
					{`max by (zone, host, proxy, server, state) (haproxy_server_status{` + z + `}) == 1`, ""}}},
				{Title: "Health check failures per second", Kind: TimeSeries, Unit: "ops", Healthy: true, Queries: []Query{
					{`sum by (zone, proxy, server) (rate(haproxy_server_check_failures_total{` + z + `}[$__rate_interval]))`, "{{zone}} {{proxy}}/{{server}}"}}},
			}},
		},
	}
}

func apiMetrics() Dashboard {
	return Dashboard{
		UID: "ddc-api-metrics", Title: "ConfigWatcher API Metrics", File: "api-metrics.json",
		Description: "The ddc-gitops API (ddc_gitops_api_*), its webhooks and the node-admission bot (ddc_gitops_bot_*).",
		Rows: []Row{
			{Title: "Requests", Panels: []Panel{
				{Title: "Requests per second by route and code", Kind: TimeSeries, Unit: "reqps", Healthy: true, Queries: []Query{
					{`sum by (route, code) (rate(ddc_gitops_api_requests_total[$__rate_interval]))`, "{{route}} {{code}}"}}},
				{Title: "Request latency", Kind: TimeSeries, Unit: "s", Healthy: true, Queries: []Query{
					{`histogram_quantile(0.5, sum by (le) (rate(ddc_gitops_api_request_duration_seconds_bucket[$__rate_interval])))`, "p50"},
					{`histogram_quantile(0.99, sum by (le) (rate(ddc_gitops_api_request_duration_seconds_bucket[$__rate_interval])))`, "p99"}}},
				{Title: "5xx ratio", Kind: Stat, Unit: "percentunit", Healthy: true, Queries: []Query{
					{`(sum(rate(ddc_gitops_api_requests_total{code=~"5.."}[5m])) or vector(0)) / sum(rate(ddc_gitops_api_requests_total[5m]))`, ""}}},
			}},
			{Title: "Changes", Panels: []Panel{
				{Title: "Commits by result (1h)", Kind: TimeSeries, Unit: "short", Queries: []Query{
					{`sum by (result) (increase(ddc_gitops_api_commits_total[1h]))`, "{{result}}"}}},
				{Title: "Commit duration p95", Kind: TimeSeries, Unit: "s", Healthy: true, Queries: []Query{
					{`histogram_quantile(0.95, sum by (le) (rate(ddc_gitops_api_commit_duration_seconds_bucket[$__rate_interval])))`, "p95"}}},
				{Title: "Conflicts and validation failures (1h)", Kind: TimeSeries, Unit: "short", Healthy: true, Queries: []Query{
					{`sum(increase(ddc_gitops_api_commit_conflicts_total[1h]))`, "conflicts"},
					{`sum(increase(ddc_gitops_api_validation_failures_total[1h]))`, "validation failures"}}},
				{Title: "Webhook deliveries by code (1h)", Kind: TimeSeries, Unit: "short", Queries: []Query{
					{`sum by (route, code) (increase(ddc_gitops_api_requests_total{route=~"/api/v1/webhooks/.*"}[1h]))`, "{{route}} {{code}}"}}},
			}},
			{Title: "Node-admission bot", Panels: []Panel{
				{Title: "Blocks behind the chain", Kind: Stat, Unit: "short", Healthy: true, Queries: []Query{
					{`max(ddc_gitops_bot_target_block) - max(ddc_gitops_bot_last_block)`, ""}}},
				{Title: "Chain events and proposals (1h)", Kind: TimeSeries, Unit: "short", Healthy: true, Queries: []Query{
					{`sum by (kind) (increase(ddc_gitops_bot_events_total[1h]))`, "event {{kind}}"},
					{`sum by (action) (increase(ddc_gitops_bot_prs_total[1h]))`, "proposal {{action}}"}}},
				{Title: "Chain errors and invalid events (1h)", Kind: TimeSeries, Unit: "short", Healthy: true, Queries: []Query{
					{`sum(increase(ddc_gitops_bot_chain_errors_total[1h]))`, "RPC errors"},
					{`sum(increase(ddc_gitops_bot_invalid_events_total[1h]))`, "invalid events"}}},
			}},
		},
	}
}

func infrastructure() Dashboard {
	return Dashboard{
		UID: "ddc-infrastructure", Title: "Infrastructure Overview", File: "infrastructure-overview.json",
		Description: "Every component's scrape health and the agents' reconciles, revisions, reloads, drift and certificates.",
		Rows: []Row{
			{Title: "Fleet", Panels: []Panel{
				{Title: "Targets up by job", Kind: Stat, Unit: "short", Healthy: true, Queries: []Query{
					{`sum by (job) (up)`, "{{job}}"}}},
				{Title: "Applied revision per host", Kind: Table, Healthy: true, Queries: []Query{
					{`max by (zone, host, revision) (ddc_gitops_agent_applied_revision_info{` + z + `})`, ""}}},
				{Title: "Seconds since last converged reconcile", Kind: TimeSeries, Unit: "s", Healthy: true, Queries: []Query{
					{`time() - max by (zone, host) (ddc_gitops_agent_last_success_timestamp_seconds{` + z + `})`, "{{host}}"}}},
			}},
			{Title: "Reconciles", Panels: []Panel{
				{Title: "Reconciles per second by result", Kind: TimeSeries, Unit: "ops", Healthy: true, Queries: []Query{
					{`sum by (zone, result) (rate(ddc_gitops_agent_reconcile_total{` + z + `}[$__rate_interval]))`, "{{zone}} {{result}}"}}},
				{Title: "Reconcile duration p99", Kind: TimeSeries, Unit: "s", Healthy: true, Queries: []Query{
					{`histogram_quantile(0.99, sum by (zone, le) (rate(ddc_gitops_agent_reconcile_duration_seconds_bucket{` + z + `}[$__rate_interval])))`, "{{zone}}"}}},
				{Title: "Commit to applied p95", Kind: TimeSeries, Unit: "s", Healthy: true, Queries: []Query{
					{`histogram_quantile(0.95, sum by (zone, le) (rate(ddc_gitops_agent_commit_to_applied_seconds_bucket{` + z + `}[15m])))`, "{{zone}}"}}},
			}},
			{Title: "Changes on the hosts", Panels: []Panel{
				{Title: "Reloads by reason (1h)", Kind: TimeSeries, Unit: "short", Queries: []Query{
					{`sum by (host, component, reason) (increase(ddc_gitops_agent_reloads_total{` + z + `}[1h]))`, "{{host}} {{component}} {{reason}}"}}},
				{Title: "Runtime API server changes (1h)", Kind: TimeSeries, Unit: "short", Queries: []Query{
					{`sum by (host, op) (increase(ddc_gitops_agent_runtime_changes_total{` + z + `}[1h]))`, "{{host}} {{op}}"}}},
				{Title: "Drift found (1h)", Kind: TimeSeries, Unit: "short", Healthy: true, Queries: []Query{
					{`sum by (host) (increase(ddc_gitops_agent_drift_total{` + z + `}[1h]))`, "{{host}}"}}},
				{Title: "Supervised process restarts (1h)", Kind: TimeSeries, Unit: "short", Queries: []Query{
					{`sum by (host, process) (increase(ddc_gitops_agent_process_restarts_total{` + z + `}[1h]))`, "{{host}} {{process}}"}}},
				{Title: "Servers pending admission", Kind: TimeSeries, Unit: "short", Queries: []Query{
					{`sum by (host) (ddc_gitops_agent_servers_pending_admission{` + z + `})`, "{{host}}"}}},
				{Title: "Days until certificate expiry", Kind: Table, Unit: "d", Queries: []Query{
					{`(min by (zone, host, cert) (ddc_gitops_agent_certificate_expiry_timestamp_seconds{` + z + `}) - time()) / 86400`, ""}}},
			}},
		},
	}
}

func failover() Dashboard {
	return Dashboard{
		UID: "ddc-cross-zone-failover", Title: "Cross-Zone Failover Monitoring", File: "cross-zone-failover.json",
		Description: "Whether each zone serves from its own servers or from its failover zones' VIPs, and who holds each VIP.",
		Rows: []Row{
			{Title: "Failover", Panels: []Panel{
				{Title: "Backends in cross-zone failover", Kind: Stat, Unit: "short", Healthy: true, Queries: []Query{
					{`sum by (zone) ((haproxy_backend_active_servers{` + z + `} == bool 0) * (haproxy_backend_backup_servers{` + z + `} > bool 0))`, "{{zone}}"}}},
				{Title: "Own UP servers by backend", Kind: TimeSeries, Unit: "short", Healthy: true, Queries: []Query{
					{`min by (zone, proxy) (haproxy_backend_active_servers{` + z + `})`, "{{zone}} {{proxy}}"}}},
				{Title: "Failover (backup) servers UP by backend", Kind: TimeSeries, Unit: "short", Healthy: true, Queries: []Query{
					{`min by (zone, proxy) (haproxy_backend_backup_servers{` + z + `})`, "{{zone}} {{proxy}}"}}},
				{Title: "DOWN servers by backend", Kind: TimeSeries, Unit: "short", Healthy: true, Queries: []Query{
					{`sum by (zone, proxy) (haproxy_server_status{state="DOWN",` + z + `})`, "{{zone}} {{proxy}}"}}},
				{Title: "Server UP/DOWN transitions (1h)", Kind: TimeSeries, Unit: "short", Healthy: true, Queries: []Query{
					{`sum by (zone, proxy) (increase(haproxy_backend_check_up_down_total{` + z + `}[1h]))`, "{{zone}} {{proxy}}"}}},
			}},
			{Title: "VIPs", Panels: []Panel{
				{Title: "VIP holders", Kind: Table, Healthy: true, Queries: []Query{
					{`max by (zone, vip, host) (ddc_gitops_agent_keepalived_vip_held{` + z + `}) == 1`, ""}}},
				{Title: "Hosts holding each VIP", Kind: TimeSeries, Unit: "short", Healthy: true, Queries: []Query{
					{`sum by (zone, vip) (ddc_gitops_agent_keepalived_vip_held{` + z + `})`, "{{zone}} {{vip}}"}}},
				{Title: "HAProxy and agent scrape health", Kind: TimeSeries, Unit: "short", Healthy: true, Queries: []Query{
					{`sum by (zone, job) (up{job=~"haproxy|ddc-gitops-agent",` + z + `})`, "{{zone}} {{job}}"}}},
			}},
		},
	}
}

// Build renders d as Grafana dashboard JSON with the Foundation SDK.
func Build(d Dashboard) ([]byte, error) {
	ds := common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr(DatasourceUID)}
	zoneVar := dashboard.NewQueryVariableBuilder("zone").Label("Zone").
		Datasource(ds).
		Query(dashboard.StringOrMap{String: cog.ToPtr(`label_values(up, zone)`)}).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Multi(true).IncludeAll(true).AllValue(".*")
	b := dashboard.NewDashboardBuilder(d.Title).Uid(d.UID).Description(d.Description).
		Tags([]string{"ddc-gitops"}).Refresh("10s").Time("now-1h", "now").
		Timezone(common.TimeZoneUtc).Editable().WithVariable(zoneVar)
	for _, row := range d.Rows {
		b.WithRow(dashboard.NewRowBuilder(row.Title))
		for _, p := range row.Panels {
			var targets []cog.Builder[variants.Dataquery]
			for i, q := range p.Queries {
				t := prometheus.NewDataqueryBuilder().Datasource(ds).Expr(q.Expr).RefId(string(rune('A' + i)))
				if q.Legend != "" {
					t.LegendFormat(q.Legend)
				}
				if p.Kind == Table {
					t.Instant().Format(prometheus.PromQueryFormatTable)
				}
				targets = append(targets, t)
			}
			switch p.Kind {
			case TimeSeries:
				b.WithPanel(timeseries.NewPanelBuilder().Title(p.Title).Description(p.Description).Datasource(ds).
					Unit(p.Unit).Span(8).Height(8).Targets(targets))
			case Stat:
				b.WithPanel(stat.NewPanelBuilder().Title(p.Title).Description(p.Description).Datasource(ds).
					Unit(p.Unit).Span(8).Height(8).Targets(targets))
			case Table:
				tb := table.NewPanelBuilder().Title(p.Title).Description(p.Description).Datasource(ds).
					Span(8).Height(8).Targets(targets)
				if p.Unit != "" {
					tb.Unit(p.Unit)
				}
				b.WithPanel(tb)
			default:
				return nil, fmt.Errorf("dashboard %s, panel %q: unknown kind %q", d.UID, p.Title, p.Kind)
			}
		}
	}
	out, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("building dashboard %s: %w", d.UID, err)
	}
	j, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding dashboard %s: %w", d.UID, err)
	}
	return append(j, '\n'), nil
}
