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
)

// scrapeJob is one job of the lab's prometheus.yml.
type scrapeJob struct {
	Name    string
	Path    string
	Targets []string // host:port
	Labels  map[string]string
}

// promConfig renders prometheus.yml for jobs, scraping every 5 seconds.
func promConfig(jobs []scrapeJob) ([]byte, error) {
	type static struct {
		Targets []string          `yaml:"targets"`
		Labels  map[string]string `yaml:"labels,omitempty"`
	}
	type job struct {
		JobName       string   `yaml:"job_name"`
		MetricsPath   string   `yaml:"metrics_path"`
		StaticConfigs []static `yaml:"static_configs"`
	}
	cfg := struct {
		Global struct {
			ScrapeInterval string `yaml:"scrape_interval"`
		} `yaml:"global"`
		ScrapeConfigs []job `yaml:"scrape_configs"`
	}{}
	cfg.Global.ScrapeInterval = "5s"
	for _, j := range jobs {
		if len(j.Targets) == 0 {
			continue
		}
		cfg.ScrapeConfigs = append(cfg.ScrapeConfigs, job{JobName: j.Name, MetricsPath: j.Path,
			StaticConfigs: []static{{Targets: j.Targets, Labels: j.Labels}}})
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("rendering prometheus.yml: %w", err)
	}
	return append([]byte("# The lab's Prometheus: rendered by `ddc-gitops lab` at every start.\n"), b...), nil
}

// labScrapeJobs lists what the lab's Prometheus scrapes: every agent's
// /metrics, every zone API's /metrics, every HAProxy host's built-in
// exporter (stats frontend with prometheus: true), and the bot.
func (l *lab) labScrapeJobs(info *Info, botMetrics string) []scrapeJob {
	var agents, apis, exporters []string
	for _, a := range info.Agents {
		if u, err := url.Parse(a.URL); err == nil {
			agents = append(agents, u.Host)
		}
	}
	for _, z := range info.Zones {
		if u, err := url.Parse(z.APIURL); err == nil {
			apis = append(apis, u.Host)
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
			exporters = append(exporters, net.JoinHostPort(h.Address, strconv.Itoa(st.Bind.Port)))
		}
	}
	jobs := []scrapeJob{
		{Name: "ddc-gitops-agent", Path: "/metrics", Targets: agents},
		{Name: "ddc-gitops-api", Path: "/metrics", Targets: apis},
		{Name: "haproxy", Path: path, Targets: exporters},
	}
	if botMetrics != "" {
		jobs = append(jobs, scrapeJob{Name: "ddc-gitops-bot", Path: "/metrics", Targets: []string{botMetrics}})
	}
	return jobs
}

// startPrometheus runs the Debian package's prometheus, when installed, on
// ListenHost:port with the lab's scrape jobs; it returns the UI's URL, or
// "" when prometheus is not installed.
func (l *lab) startPrometheus(info *Info, botMetrics string, port int) (string, error) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		l.progress("prometheus not installed (apt-get install prometheus): no metrics server")
		return "", nil
	}
	dir := filepath.Join(l.o.StateDir, "prometheus")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	cfg, err := promConfig(l.labScrapeJobs(info, botMetrics))
	if err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return "", fmt.Errorf("lab: writing %s: %w", cfgPath, err)
	}
	ln, err := listen(l.o.ListenHost, port, "prometheus", "--prometheus-port")
	if err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	addr := ln.Addr().String()
	// prometheus binds the port itself: release it (a race with another
	// program for the port is reported by prometheus's exit).
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	args := []string{"--config.file=" + cfgPath, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr, "--storage.tsdb.retention.time=1d"}
	if _, err := l.startExe("prometheus", "prometheus", "", bin, args); err != nil {
		return "", err
	}
	return "http://" + addr, nil
}
