package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/deploy/monitoring/rules"
)

// The rendered prometheus.yml, with the fleet's rules and an Alertmanager,
// passes `promtool check config`; alertmanager.yml passes amtool's check
// when amtool is installed.
func TestMonitoringConfigsCheck(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not installed (make deps): %v", err)
	}
	dir := t.TempDir()
	rulePath := filepath.Join(dir, rules.FileName)
	if err := os.WriteFile(rulePath, rules.File, 0o644); err != nil {
		t.Fatal(err)
	}
	jobs := []scrapeJob{
		{Name: "ddc-gitops-agent", Path: "/metrics", Targets: []scrapeTarget{{"198.18.1.11:9100", map[string]string{"zone": "eu", "host": "eu-haproxy-1"}}}},
		{Name: "haproxy", Path: "/metrics", Targets: []scrapeTarget{{"198.18.1.11:8404", map[string]string{"zone": "eu", "host": "eu-haproxy-1"}}}},
		{Name: "empty", Path: "/metrics"},
	}
	cfg, err := promConfig(jobs, []string{rulePath}, "127.0.0.1:9093")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), "job_name: empty") {
		t.Errorf("a job without targets is rendered:\n%s", cfg)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "config", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s\n%s", err, out, cfg)
	}
	if amtool, err := exec.LookPath("amtool"); err == nil {
		p := filepath.Join(dir, "alertmanager.yml")
		if err := os.WriteFile(p, []byte(alertmanagerConfig), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(amtool, "check-config", p).CombinedOutput(); err != nil {
			t.Fatalf("amtool check-config: %v\n%s", err, out)
		}
	}
}
