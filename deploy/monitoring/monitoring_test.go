package monitoring

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

const (
	rulesFile     = "rules/ddc-gitops.rules.yml"
	rulesTestFile = "rules/ddc-gitops.rules.test.yml"
)

func TestDashboardsUpToDate(t *testing.T) {
	for _, d := range Dashboards() {
		want, err := Build(d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("dashboards", d.File))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("dashboards/%s differs from the generator: run `go run ./deploy/monitoring/gendashboards`", d.File)
		}
	}
	files, _ := filepath.Glob("dashboards/*.json")
	if len(files) != len(Dashboards()) {
		t.Errorf("dashboards/ holds %d JSON files, the generator makes %d: remove the stale ones", len(files), len(Dashboards()))
	}
}

func TestDashboardsWellFormed(t *testing.T) {
	uids, titles := map[string]bool{}, map[string]bool{}
	for _, d := range Dashboards() {
		if uids[d.UID] || titles[d.Title] {
			t.Errorf("dashboard %s: duplicate uid or title", d.UID)
		}
		uids[d.UID], titles[d.Title] = true, true
		healthy := 0
		for _, r := range d.Rows {
			for _, p := range r.Panels {
				if len(p.Queries) == 0 {
					t.Errorf("%s / %s: no query", d.Title, p.Title)
				}
				if p.Healthy {
					healthy++
				}
			}
		}
		if healthy == 0 {
			t.Errorf("%s: no panel must have data in a healthy fleet", d.Title)
		}
	}
	for _, want := range []string{"HAProxy Performance", "ConfigWatcher API Metrics", "Infrastructure Overview", "Cross-Zone Failover Monitoring"} {
		if !titles[want] {
			t.Errorf("no dashboard %q", want)
		}
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return f
}

// expressions lists every PromQL expression of the rules and dashboards,
// keyed by where it is.
func expressions(t *testing.T) map[string]string {
	out := map[string]string{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			out["rule "+r.Alert] = r.Expr
		}
	}
	for _, d := range Dashboards() {
		for _, r := range d.Rows {
			for _, p := range r.Panels {
				for i, q := range p.Queries {
					out[fmt.Sprintf("dashboard %q panel %q query %d", d.Title, p.Title, i)] = Substitute(q.Expr)
				}
			}
		}
	}
	return out
}

// TestExpressionsParse parses every expression with Prometheus's parser and
// checks every metric it names exists: ddc_gitops_* names in the code,
// haproxy_* names in a real HAProxy's exporter.
func TestExpressionsParse(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	names := map[string][]string{}
	for where, expr := range expressions(t) {
		e, err := p.ParseExpr(expr)
		if err != nil {
			t.Errorf("%s: %v\n%s", where, err, expr)
			continue
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				names[vs.Name] = append(names[vs.Name], where)
			}
			return nil
		})
	}
	code := codeMetricNames(t)
	var haproxyNames map[string]bool
	for name, where := range names {
		switch {
		case name == "up":
		case strings.HasPrefix(name, "ddc_gitops_"):
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
			if !code[name] && !code[base] {
				t.Errorf("%s: no metric %s in the code", where[0], name)
			}
		case strings.HasPrefix(name, "haproxy_"):
			if haproxyNames == nil {
				haproxyNames = haproxyExporterNames(t)
			}
			if !haproxyNames[name] {
				t.Errorf("%s: HAProxy's exporter has no %s", where[0], name)
			}
		default:
			t.Errorf("%s: unexpected metric %s", where[0], name)
		}
	}
}

// codeMetricNames are the ddc_gitops_* metric names the module's non-test
// Go files declare (Name: "..." of metric options, prometheus.NewDesc).
func codeMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	re := regexp.MustCompile(`(?:Name:\s*|NewDesc\(\s*)"(ddc_gitops_[a-z0-9_]+)"`)
	out := map[string]bool{}
	err := filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			out[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// haproxyExporterNames runs haproxy with its Prometheus exporter and a
// backend with an active and a backup server, and returns the metric names
// it exports.
func haproxyExporterNames(t *testing.T) map[string]bool {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Fatalf("haproxy is not installed (make deps): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global
    stats socket %s/admin.sock mode 600 level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 1s
frontend stats
    bind %s
    http-request use-service prometheus-exporter if { path /metrics }
backend b
    server s1 127.0.0.1:9 check
    server s2 127.0.0.1:9 backup
`, dir, addr)
	if err := os.WriteFile(filepath.Join(dir, "haproxy.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-db", "-f", filepath.Join(dir, "haproxy.cfg"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	var body []byte
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy's exporter at %s did not answer: %v\n%s", addr, err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a starting process with a deadline
	}
	out := map[string]bool{}
	for _, l := range strings.Split(string(body), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		name, _, _ := strings.Cut(l, "{")
		name, _, _ = strings.Cut(name, " ")
		out[name] = true
	}
	return out
}

// TestRulesWellFormed: every alert has a severity, a summary, a
// description and a runbook that docs/observability.md has a section for.
func TestRulesWellFormed(t *testing.T) {
	doc, err := os.ReadFile("../../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || seen[r.Alert] {
				t.Errorf("group %s: a rule without a unique alert name (%q)", g.Name, r.Alert)
			}
			seen[r.Alert] = true
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
			}
			for _, k := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[k] == "" {
					t.Errorf("%s: no %s annotation", r.Alert, k)
				}
			}
			if want := "docs/observability.md#" + strings.ToLower(r.Alert); r.Annotations["runbook_url"] != want {
				t.Errorf("%s: runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
			}
			if !bytes.Contains(doc, []byte("### "+r.Alert+"\n")) {
				t.Errorf("%s: docs/observability.md has no section \"### %s\"", r.Alert, r.Alert)
			}
		}
	}
}

// TestEveryAlertTested: the promtool tests evaluate every alert at least
// once firing and once silent.
func TestEveryAlertTested(t *testing.T) {
	b, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	firing, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range f.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	var alerts []string
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			if !firing[r.Alert] {
				t.Errorf("%s: no promtool test where it fires", r.Alert)
			}
			if !silent[r.Alert] {
				t.Errorf("%s: no promtool test where it stays silent", r.Alert)
			}
		}
	}
	for a := range firing {
		if !slices.Contains(alerts, a) {
			t.Errorf("the tests name an alert the rules do not have: %s", a)
		}
	}
}

// TestPromtool runs `promtool check rules` and `promtool test rules`.
func TestPromtool(t *testing.T) {
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not installed (make deps installs Debian's prometheus): %v", err)
	}
	for _, args := range [][]string{{"check", "rules", filepath.Base(rulesFile)}, {"test", "rules", filepath.Base(rulesTestFile)}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = filepath.Dir(rulesFile)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestDocumentsEveryMetric: docs/observability.md names every ddc_gitops_*
// metric of the code.
func TestDocumentsEveryMetric(t *testing.T) {
	doc, err := os.ReadFile("../../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for name := range codeMetricNames(t) {
		if !bytes.Contains(doc, []byte("`"+name+"`")) {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("docs/observability.md does not list: %s", strings.Join(missing, ", "))
	}
}
