package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/internal/fleetgen"
)

const exampleFleet = "../../examples/fleet"

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// copyFleet copies the example fleet into a temp dir and applies edits
// (path -> new content; empty content deletes the file).
func copyFleet(t *testing.T, edits map[string]string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(exampleFleet, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(exampleFleet, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, content := range edits {
		full := filepath.Join(dst, filepath.FromSlash(p))
		if content == "" {
			if err := os.Remove(full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestValidateExamples(t *testing.T) {
	code, out, errs := run(t, "validate", exampleFleet)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	if !strings.Contains(out, "2 zones, 4 hosts, 2 backends, 6 nodes") {
		t.Fatalf("unexpected summary: %q", out)
	}
	if errs != "" {
		t.Errorf("stderr of a valid small fleet: %q", errs)
	}
}

// A valid flat fleet large enough to shard gets the advice, on stderr,
// and still exits 0.
func TestValidateAdvisesShardingLargeFlatFleet(t *testing.T) {
	fsys, err := fleetgen.Generate(desired.ShardingAdvisedNodes, 2)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, fsys); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "validate", dir)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	if !strings.Contains(out, "1000 nodes") {
		t.Errorf("summary %q", out)
	}
	if !strings.Contains(errs, "note: 1000 node files in one flat nodes/ directory") || !strings.Contains(errs, "nodeLayout: sharded") {
		t.Errorf("stderr %q: want the sharding advice", errs)
	}
}

func TestValidateReportsEveryError(t *testing.T) {
	dir := copyFleet(t, map[string]string{
		"nodes/eu-node-1.yaml": `kind: Node
name: eu-node-1
pubKey: 0xABC
providerId: 0x1111111111111111111111111111111111111111111111111111111111111111
clusterId: 0x2222222222222222222222222222222222222222
host: "evil.example\n  server x 1.2.3.4:80"
domain: eu-node-1.ddc.example
httpPort: 0
grpcPort: 9091
p2pPort: 70000
mode: storage
zone: mars
colour: red
`,
	})
	code, _, errs := run(t, "validate", dir)
	if code != ExitInvalid {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, ExitInvalid, errs)
	}
	file := filepath.Join(dir, "nodes", "eu-node-1.yaml")
	for _, want := range []string{
		file + ":3:9: pubKey: ",
		file + ":6:7: host: ",
		file + ":8:11: httpPort: ",
		file + ":10:10: p2pPort: ",
		file + ":12:7: zone: ",
		file + `:13:1: colour: unknown field "colour"`,
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

func TestValidateUsage(t *testing.T) {
	if code, _, _ := run(t, "validate", "a", "b"); code != ExitUsage {
		t.Fatalf("two dirs: exit %d, want %d", code, ExitUsage)
	}
	if code, _, _ := run(t, "validate", "--nope"); code != ExitUsage {
		t.Fatalf("unknown flag: exit %d, want %d", code, ExitUsage)
	}
	if code, _, errs := run(t, "validate", t.TempDir()); code != ExitInvalid || !strings.Contains(errs, "fleet.yaml") {
		t.Fatalf("empty dir: exit %d, stderr %q", code, errs)
	}
}

func TestRenderHostToStdout(t *testing.T) {
	code, out, errs := run(t, "render", "--host", "eu-haproxy-1", "--only", HAProxyFile, exampleFleet)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "backend ddc_nodes_http") || strings.Contains(out, "vrrp_instance") {
		t.Fatalf("unexpected output:\n%s", out)
	}
	if code, _, _ := run(t, "render", exampleFleet); code != ExitUsage {
		t.Fatalf("render without --host or --out: exit %d, want usage", code)
	}
	if code, _, _ := run(t, "render", "--host", "nope", exampleFleet); code != ExitInvalid {
		t.Fatalf("unknown host: exit %d", code)
	}
}

// TestRenderOutPassesHAProxyCheck is the acceptance check of the render
// command: every host's output, written from another working directory,
// passes the real `haproxy -c` (the shipped test certificate is found through
// the relative crtBase).
func TestRenderOutPassesHAProxyCheck(t *testing.T) {
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy not installed (make test installs it): ", err)
	}
	abs, _ := filepath.Abs(exampleFleet)
	out := t.TempDir()
	crtBase := exampleCrtBase(t)
	t.Chdir(t.TempDir())
	code, _, errs := run(t, "render", "--out", out, "--crt-base", crtBase, abs)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	hosts, _ := filepath.Glob(filepath.Join(out, "*", HAProxyFile))
	if len(hosts) != 4 {
		t.Fatalf("rendered %d hosts, want 4", len(hosts))
	}
	for _, cfg := range hosts {
		if b, err := exec.Command(haproxy, "-c", "-f", cfg).CombinedOutput(); err != nil {
			t.Errorf("haproxy -c %s: %v\n%s", cfg, err, b)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), KeepalivedFile)); err != nil {
			t.Error(err)
		}
	}
}

func TestPlanDirectories(t *testing.T) {
	node := strings.ReplaceAll(mustRead(t, exampleFleet+"/nodes/eu-node-3.yaml"), "eu-node-3", "eu-node-4")
	node = strings.ReplaceAll(node, "198.18.1.23", "198.18.1.24")
	node = replaceLine(node, "pubKey:", "pubKey: 0x"+strings.Repeat("4", 64))
	dir := copyFleet(t, map[string]string{"nodes/eu-node-4.yaml": node})
	code, out, errs := run(t, "plan", exampleFleet, dir)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "eu-node-4") {
		t.Fatalf("plan does not mention the new node:\n%s", out)
	}
	code, js, errs := run(t, "plan", "--json", exampleFleet, dir)
	if code != ExitOK || !strings.HasPrefix(strings.TrimSpace(js), "{") {
		t.Fatalf("--json: exit %d, out %q, err %q", code, js, errs)
	}
	if code, _, _ := run(t, "plan", exampleFleet); code != ExitUsage {
		t.Fatalf("one argument: exit %d, want usage", code)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func replaceLine(s, prefix, line string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			lines[i] = line
		}
	}
	return strings.Join(lines, "\n")
}

func TestAgentUsage(t *testing.T) {
	for _, args := range [][]string{
		{"agent", "--state-dir", t.TempDir(), "--listen", ""},
		{"agent", "--repo", "x", "--watch", "y", "--state-dir", t.TempDir(), "--listen", ""},
		{"agent", "--repo", "x", "--once", "--supervise", "--state-dir", t.TempDir(), "--listen", ""},
		{"agent", "--repo", "x", "--drift", "ignore", "--state-dir", t.TempDir(), "--listen", "", "--once"},
		{"agent", "--repo", "x", "--log-format", "xml", "--state-dir", t.TempDir()},
	} {
		code, _, errs := run(t, args...)
		if code == ExitOK {
			t.Errorf("%v: exit 0, want an error (stderr %q)", args, errs)
		}
	}
}

// TestAgentOnceFailsWithoutHAProxy: --once exits non-zero and says why
// when the host cannot be reconciled.
func TestAgentOnceFailsWithoutHAProxy(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := run(t, "agent", "--once", "--watch", exampleFleet, "--host", "eu-haproxy-1",
		"--state-dir", filepath.Join(dir, "state"), "--haproxy-config", filepath.Join(dir, "haproxy.cfg"),
		"--admin-socket", filepath.Join(dir, "admin.sock"), "--master-socket", filepath.Join(dir, "master.sock"),
		"--keepalived=false", "--listen", "")
	if code != ExitInvalid || !strings.Contains(errs, "admin.sock") {
		t.Fatalf("exit %d, stderr %q: want 1 naming the unreachable admin socket", code, errs)
	}
}

func TestAPIRefusesToStartWithoutUsers(t *testing.T) {
	code, _, errs := run(t, "api", "--repo", t.TempDir())
	if code != ExitUsage || !strings.Contains(errs, "users-file") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

func TestHashPassword(t *testing.T) {
	var out, errb bytes.Buffer
	root := newRoot(&out, &errb)
	root.SetArgs([]string{"api", "hash-password"})
	root.SetIn(strings.NewReader("correct horse battery\n"))
	if err := root.Execute(); err != nil {
		t.Fatal(err, errb.String())
	}
	if h := strings.TrimSpace(out.String()); !strings.HasPrefix(h, "$2") {
		t.Fatalf("not a bcrypt hash: %q", h)
	}
}
