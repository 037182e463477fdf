package lab

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/ddc-gitops/ddc-gitops/deploy/monitoring/rules"
)

// scrapeTarget is one address to scrape with its target labels (zone,
// host), which the alert rules group by.
type scrapeTarget struct {
	Addr   string
	Labels map[string]string
}

// scrapeJob is one job of the lab's prometheus.yml.
type scrapeJob struct {
	Name    string
	Path    string
	Targets []scrapeTarget
}

// Scrape and rule evaluation intervals of the lab's Prometheus.
const (
	promScrapeInterval = "5s"
	promEvalInterval   = "5s"
)

// promConfig renders prometheus.yml for jobs, scraping every 5 seconds,
// loading ruleFiles and sending alerts to alertmanager (host:port, "" for
// none).
func promConfig(jobs []scrapeJob, ruleFiles []string, alertmanager string) ([]byte, error) {
	type static struct {
		Targets []string          `yaml:"targets"`
		Labels  map[string]string `yaml:"labels,omitempty"`
	}
	type job struct {
		JobName       string   `yaml:"job_name"`
		MetricsPath   string   `yaml:"metrics_path"`
		StaticConfigs []static `yaml:"static_configs"`
	}
	type amConfig struct {
		StaticConfigs []static `yaml:"static_configs"`
	}
	cfg := struct {
		Global struct {
			ScrapeInterval     string `yaml:"scrape_interval"`
			EvaluationInterval string `yaml:"evaluation_interval"`
		} `yaml:"global"`
		RuleFiles []string `yaml:"rule_files,omitempty"`
		Alerting  *struct {
			Alertmanagers []amConfig `yaml:"alertmanagers"`
		} `yaml:"alerting,omitempty"`
		ScrapeConfigs []job `yaml:"scrape_configs"`
	}{RuleFiles: ruleFiles}
	cfg.Global.ScrapeInterval, cfg.Global.EvaluationInterval = promScrapeInterval, promEvalInterval
	if alertmanager != "" {
		cfg.Alerting = &struct {
			Alertmanagers []amConfig `yaml:"alertmanagers"`
		}{Alertmanagers: []amConfig{{StaticConfigs: []static{{Targets: []string{alertmanager}}}}}}
	}
	for _, j := range jobs {
		if len(j.Targets) == 0 {
			continue
		}
		jb := job{JobName: j.Name, MetricsPath: j.Path}
		for _, t := range j.Targets {
			jb.StaticConfigs = append(jb.StaticConfigs, static{Targets: []string{t.Addr}, Labels: t.Labels})
		}
		cfg.ScrapeConfigs = append(cfg.ScrapeConfigs, jb)
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("rendering prometheus.yml: %w", err)
	}
	return append([]byte("# The lab's Prometheus: rendered by `ddc-gitops lab` at every start.\n"), b...), nil
}

// labScrapeJobs lists what the lab's Prometheus scrapes: every agent's
// /metrics, every container host's agent, every zone API's /metrics, every
// HAProxy host's built-in exporter (stats frontend with prometheus: true),
// and the bot; agents and exporters carry zone and host labels, APIs zone.
// Container hosts are a job of their own: they are not HAProxy hosts.
func (l *lab) labScrapeJobs(info *Info, botMetrics string) []scrapeJob {
	var agents, ctrAgents, apis, exporters []scrapeTarget
	for _, a := range info.Agents {
		if u, err := url.Parse(a.URL); err == nil {
			agents = append(agents, scrapeTarget{u.Host, map[string]string{"zone": a.Zone, "host": a.Host}})
		}
	}
	for _, c := range info.ContainerHosts {
		if u, err := url.Parse(c.AgentURL); err == nil {
			ctrAgents = append(ctrAgents, scrapeTarget{u.Host, map[string]string{"zone": c.Zone, "host": c.Host}})
		}
	}
	for _, z := range info.Zones {
		if u, err := url.Parse(z.APIURL); err == nil {
			apis = append(apis, scrapeTarget{u.Host, map[string]string{"zone": z.Name}})
		}
	}
	path := "/metrics"
	for _, zn := range l.plan.zones {
		st := zn.zone.Stats
		if st == nil || st.Prometheus == nil || !*st.Prometheus || st.Bind.Port == 0 {
			continue
		}
		path = cmpOr(st.MetricsPath, path)
		for _, h := range zn.zone.Hosts {
			exporters = append(exporters, scrapeTarget{net.JoinHostPort(h.Address, strconv.Itoa(st.Bind.Port)),
				map[string]string{"zone": zn.zone.Name, "host": h.Name}})
		}
	}
	jobs := []scrapeJob{
		{Name: "ddc-gitops-agent", Path: "/metrics", Targets: agents},
		{Name: "ddc-gitops-container-agent", Path: "/metrics", Targets: ctrAgents},
		{Name: "ddc-gitops-api", Path: "/metrics", Targets: apis},
		{Name: "haproxy", Path: path, Targets: exporters},
	}
	if botMetrics != "" {
		jobs = append(jobs, scrapeJob{Name: "ddc-gitops-bot", Path: "/metrics", Targets: []scrapeTarget{{Addr: botMetrics}}})
	}
	return jobs
}

// alertmanagerConfig is the lab's alertmanager.yml: every alert to one
// receiver without a notifier (read them in the UI or the API), grouped by
// alert name and zone, sent at once.
const alertmanagerConfig = `# The lab's Alertmanager: rendered by ` + "`ddc-gitops lab`" + ` at every start.
route:
  receiver: lab
  group_by: [alertname, zone]
  group_wait: 0s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: lab
`

// startMonitoring runs Debian's prometheus with the lab's scrape jobs and
// the fleet's alert rules (deploy/monitoring/rules), and
// prometheus-alertmanager, both on ListenHost. It returns their URLs.
func (l *lab) startMonitoring(info *Info, botMetrics string, promPort, amPort int) (promURL, amURL string, err error) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		return "", "", fmt.Errorf("lab: prometheus is not installed (make deps installs Debian's prometheus; --no-prometheus runs the lab without it): %w", err)
	}
	amBin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		return "", "", fmt.Errorf("lab: prometheus-alertmanager is not installed (make deps installs it; --no-prometheus runs the lab without monitoring): %w", err)
	}

	amDir := filepath.Join(l.o.StateDir, "alertmanager")
	if err := os.MkdirAll(filepath.Join(amDir, "data"), 0o755); err != nil {
		return "", "", fmt.Errorf("lab: %w", err)
	}
	amCfg := filepath.Join(amDir, "alertmanager.yml")
	if err := os.WriteFile(amCfg, []byte(alertmanagerConfig), 0o644); err != nil {
		return "", "", fmt.Errorf("lab: writing %s: %w", amCfg, err)
	}
	amAddr, err := l.freeAddr(amPort, "alertmanager", "--alertmanager-port")
	if err != nil {
		return "", "", err
	}
	if _, err := l.startExe("alertmanager", "alertmanager", "", amBin, []string{"--config.file=" + amCfg,
		"--storage.path=" + filepath.Join(amDir, "data"), "--web.listen-address=" + amAddr,
		"--cluster.listen-address=", "--log.level=warn"}); err != nil {
		return "", "", err
	}

	dir := filepath.Join(l.o.StateDir, "prometheus")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return "", "", fmt.Errorf("lab: %w", err)
	}
	rulePath := filepath.Join(dir, rules.FileName)
	if err := os.WriteFile(rulePath, rules.File, 0o644); err != nil {
		return "", "", fmt.Errorf("lab: writing %s: %w", rulePath, err)
	}
	cfg, err := promConfig(l.labScrapeJobs(info, botMetrics), []string{rulePath}, amAddr)
	if err != nil {
		return "", "", fmt.Errorf("lab: %w", err)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return "", "", fmt.Errorf("lab: writing %s: %w", cfgPath, err)
	}
	addr, err := l.freeAddr(promPort, "prometheus", "--prometheus-port")
	if err != nil {
		return "", "", err
	}
	args := []string{"--config.file=" + cfgPath, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr, "--storage.tsdb.retention.time=1d"}
	if _, err := l.startExe("prometheus", "prometheus", "", promBin, args); err != nil {
		return "", "", err
	}
	return "http://" + addr, "http://" + amAddr, nil
}

// freeAddr checks that port (0: any) is free on ListenHost and returns the
// address; the program binds it itself (a race with another program for
// the port is reported by that program's exit).
func (l *lab) freeAddr(port int, what, flag string) (string, error) {
	ln, err := listen(l.o.ListenHost, port, what, flag)
	if err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	return addr, nil
}
