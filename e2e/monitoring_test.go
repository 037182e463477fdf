//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ddc-gitops/ddc-gitops/deploy/monitoring"
)

// promGet GETs a Prometheus or Alertmanager API path into out.
func (e *env) promGet(base, path string, out any) error {
	resp, err := e.client.Get(base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// promQuery runs an instant query; it returns the number of series.
func (e *env) promQuery(expr string) (int, error) {
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := e.promGet(e.info.PrometheusURL, "/api/v1/query?query="+url.QueryEscape(expr), &r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("query %s: %s", expr, r.Error)
	}
	return len(r.Data.Result), nil
}

type amAlert struct {
	Labels map[string]string `json:"labels"`
	Status struct {
		State string `json:"state"`
	} `json:"status"`
}

func (e *env) amAlerts() ([]amAlert, error) {
	var out []amAlert
	err := e.promGet(e.info.AlertmanagerURL, "/api/v2/alerts?active=true", &out)
	return out, err
}

// rule returns an alert rule's expression and for of the committed rules.
func rule(t *testing.T, name string) (expr string, forDur time.Duration, interval time.Duration) {
	t.Helper()
	b, err := os.ReadFile("../deploy/monitoring/rules/ddc-gitops.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Interval string `yaml:"interval"`
			Rules    []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
				For   string `yaml:"for"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == name {
				fd, err1 := time.ParseDuration(r.For)
				iv, err2 := time.ParseDuration(g.Interval)
				if err1 != nil || err2 != nil {
					t.Fatalf("%s: for %q interval %q", name, r.For, g.Interval)
				}
				return r.Expr, fd, iv
			}
		}
	}
	t.Fatalf("no rule %s", name)
	return "", 0, 0
}

// TestMonitoring: in a healthy lab every Prometheus target is up, no alert
// is pending or firing, and every dashboard query answers (with data where
// a healthy fleet has it); stopping every EU node simulator fires
// DDCCrossZoneFailoverActive in Alertmanager within the rule's for plus one
// evaluation interval of the condition becoming visible.
func TestMonitoring(t *testing.T) {
	e := startLab(t, labOptions{chain: true, monitoring: true})
	if e.info.PrometheusURL == "" || e.info.AlertmanagerURL == "" {
		t.Fatalf("prometheus %q alertmanager %q", e.info.PrometheusURL, e.info.AlertmanagerURL)
	}
	var upSince time.Time
	e.waitFor(90*time.Second, "every target up", func() error {
		var r struct {
			Data struct {
				ActiveTargets []struct {
					ScrapeURL string `json:"scrapeUrl"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"activeTargets"`
			} `json:"data"`
		}
		if err := e.promGet(e.info.PrometheusURL, "/api/v1/targets", &r); err != nil {
			return err
		}
		if n, want := len(r.Data.ActiveTargets), 11+len(e.info.ContainerHosts); n != want {
			return fmt.Errorf("%d targets, want %d (4 agents, 2 APIs, 4 HAProxy exporters, the bot, %d container hosts)", n, want, len(e.info.ContainerHosts))
		}
		for _, tg := range r.Data.ActiveTargets {
			if tg.Health != "up" {
				return fmt.Errorf("%s: %s %s", tg.ScrapeURL, tg.Health, tg.LastError)
			}
		}
		upSince = time.Now()
		return nil
	})

	// Healthy: let every rule group evaluate on 20 s of data, then no alert.
	e.waitFor(60*time.Second, "the rules evaluated on the healthy lab", func() error {
		var r struct {
			Data struct {
				Groups []struct {
					Name           string    `json:"name"`
					LastEvaluation time.Time `json:"lastEvaluation"`
				} `json:"groups"`
			} `json:"data"`
		}
		if err := e.promGet(e.info.PrometheusURL, "/api/v1/rules", &r); err != nil {
			return err
		}
		if len(r.Data.Groups) != 4 {
			return fmt.Errorf("%d rule groups loaded, want 4", len(r.Data.Groups))
		}
		for _, g := range r.Data.Groups {
			if g.LastEvaluation.Before(upSince.Add(20 * time.Second)) {
				return fmt.Errorf("group %s last evaluated at %s", g.Name, g.LastEvaluation)
			}
		}
		return nil
	})
	var pa struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := e.promGet(e.info.PrometheusURL, "/api/v1/alerts", &pa); err != nil {
		t.Fatal(err)
	}
	for _, a := range pa.Data.Alerts {
		t.Errorf("healthy lab: alert %s %s %v", a.Labels["alertname"], a.State, a.Labels)
	}
	if al, err := e.amAlerts(); err != nil || len(al) != 0 {
		t.Errorf("healthy lab: Alertmanager has %d alerts (%v): %+v", len(al), err, al)
	}

	// Every dashboard panel's queries answer; healthy panels have data.
	for _, d := range monitoring.Dashboards() {
		for _, r := range d.Rows {
			for _, p := range r.Panels {
				for _, q := range p.Queries {
					n, err := e.promQuery(monitoring.Substitute(q.Expr))
					switch {
					case err != nil:
						t.Errorf("%s / %s: %v", d.Title, p.Title, err)
					case p.Healthy && n == 0:
						t.Errorf("%s / %s: no data for %s", d.Title, p.Title, q.Expr)
					}
				}
			}
		}
	}

	// Every EU node down: the EU backends serve from the US VIPs.
	expr, forDur, interval := rule(t, "DDCCrossZoneFailoverActive")
	start := time.Now()
	for _, n := range []string{"eu-node-1", "eu-node-2", "eu-node-3"} {
		if err := e.ctl.Stop(n); err != nil {
			t.Fatal(err)
		}
	}
	var visible, fired time.Time
	e.waitFor(3*time.Minute, "DDCCrossZoneFailoverActive in Alertmanager", func() error {
		if visible.IsZero() {
			if n, err := e.promQuery(strings.TrimSpace(expr)); err == nil && n > 0 {
				visible = time.Now()
			}
		}
		al, err := e.amAlerts()
		if err != nil {
			return err
		}
		for _, a := range al {
			if a.Labels["alertname"] == "DDCCrossZoneFailoverActive" && a.Labels["zone"] == "eu" && a.Status.State == "active" {
				fired = time.Now()
				return nil
			}
		}
		return fmt.Errorf("%d alerts, none DDCCrossZoneFailoverActive{zone=eu}", len(al))
	})
	if visible.IsZero() {
		visible = fired
	}
	t.Logf("EU nodes stopped: condition visible in Prometheus after %v, alert in Alertmanager after %v (%v after the condition; for %v + evaluation %v)",
		visible.Sub(start).Round(time.Millisecond), fired.Sub(start).Round(time.Millisecond), fired.Sub(visible).Round(time.Millisecond), forDur, interval)
	bench(t, "monitoring", "cross_zone_alert_after_condition_ms", fired.Sub(visible).Milliseconds())
	// The poll runs every 50 ms and the notification takes a few: one
	// second of slack over for + one evaluation interval.
	if limit := forDur + interval + time.Second; fired.Sub(visible) > limit {
		t.Errorf("the alert fired %v after its condition became visible, want <= %v", fired.Sub(visible), limit)
	}
}
